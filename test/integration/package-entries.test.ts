/**
 * The package's public entries (package.json `exports`, docs/library.md): each one's exact runtime
 * names, pinned, and the modules importing it loads. The package is built (tsc, as `npm run build`) into
 * a scratch folder beside a copy of package.json, and a plain `node` there imports `'rcpt'`,
 * `'rcpt/jobs'`, … by name, so what is checked is what a user's `import` resolves through `exports`
 * to the compiled files (not src/ through tsx, and not a dist/ that may be older than the sources).
 *
 * Which modules an import loaded: the ES modules from a module-loading hook (node:module register();
 * it sees every ESM load and the CommonJS files an `import` reaches), the CommonJS ones from
 * `require.cache` (what those require in turn), and native addons from the process report's shared
 * objects (a `.node` file is mapped into the process only when an addon is loaded).
 *
 * The names pinned here are the documented ones: each is named in its entry's row of docs/library.md's
 * "Entries" table (or matched there by a `PREFIX_*` family), so a name exported without being
 * documented fails here too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The runtime names of each entry (types are not runtime names; docs/library.md lists both). */
const ENTRIES: Record<string, readonly string[]> = {
  rcpt: [
    'ACTION_KINDS',
    'ArgumentError',
    'BOUNCE_KINDS',
    'CATEGORY_IDS',
    'CHANNELS',
    'DEFAULT_BACKOFF_MS',
    'DEFAULT_BLOCKLISTS',
    'DEFAULT_DOCTOR_PROVIDERS',
    'DEFAULT_GREYLIST_RETRIES',
    'DEFAULT_GREYLIST_WAIT_MS',
    'DEFAULT_HOST_CONCURRENCY',
    'DEFAULT_HOST_TRIES',
    'DEFAULT_MAX_BACKOFF_MS',
    'DEFAULT_SLOW_START',
    'DEFAULT_SMTP_PORT',
    'DEFAULT_TIMEOUT_MS',
    'DEFAULT_VERIFY_MANY_CONCURRENCY',
    'DNS_ERROR_KINDS',
    'DOCTOR_CHECK_IDS',
    'DOCTOR_GREETING_TIMEOUT_MS',
    'DnsError',
    'ERROR_CODES',
    'EXPLAIN_COMMANDS',
    'FEEDBACK_REASONS',
    'HOST_RATE_WINDOW_MS',
    'HostRateWindow',
    'MAX_BOUNCE_BYTES',
    'MAX_HOST_RATE',
    'MboxSplitter',
    'OptionsError',
    'ProxyError',
    'REASONS',
    'SMTP_STAGES',
    'SUPPRESSION_COLUMNS',
    'SYNTAX_ERROR_CODES',
    'SmtpConnectError',
    'SmtpProtocolError',
    'SmtpTimeoutError',
    'SmtpTlsError',
    'UnknownOptionError',
    'VERDICTS',
    'VerifyError',
    'classifyTarget',
    'createVerifier',
    'explainBounce',
    'explainBounceText',
    'explainReply',
    'feedbackReason',
    'isAllowedTarget',
    'isPositiveReply',
    'isVerifyError',
    'looksLikeMessage',
    'parseAddress',
    'parseProxyRoute',
    'parseProxyUrl',
    'readMbox',
    'runDoctor',
    'suggestAddress',
    'toSuppressionRows',
    'verdictOf',
    'verify',
    'verifyMany',
  ],
  'rcpt/jobs': [
    'CSV_FORMULAS',
    'HOST_LIMITS_TTL_MS',
    'InputError',
    'InputTooLargeError',
    'JOB_STATUSES',
    'JobError',
    'JobStoreError',
    'LIST_LAYOUT',
    'MAX_LINE_CHARS',
    'OUTPUT_FORMATS',
    'RESULT_COLUMNS',
    'StoredHostLimitsFacts',
    'addressColumnNote',
    'addressKey',
    'compareSettings',
    'describeDifferences',
    'formatOutput',
    'ingestInput',
    'ingestRows',
    'mergeHostLimits',
    'openInput',
    'openSqliteJobStore',
    'recordedSettings',
    'runJob',
    'storedHostLimitsFor',
    'textDecoderOf',
  ],
  'rcpt/jobs/postgres': [
    'DEFAULT_CLUSTER_GREYLIST_RETRIES',
    'DEFAULT_CLUSTER_HOST_CONCURRENCY',
    'DEFAULT_DOMAIN_CACHE_TTL_MS',
    'DEFAULT_FOLLOW_POLL_MS',
    'DEFAULT_LEASE_MS',
    'DEFAULT_MAINTENANCE_SECONDS',
    'DEFAULT_PG_SCHEMA',
    'DEFAULT_PLAN_EXPIRE_SECONDS',
    'DEFAULT_POLL_MS',
    'DEFAULT_WORKER_CONCURRENCY',
    'followJob',
    'isPostgresUrl',
    'openPgJobStore',
    'openScaleOut',
    'startWorker',
  ],
  'rcpt/server': ['DEFAULT_HOST', 'DEFAULT_PORT', 'startServer'],
};

/** Packages that only the entry needing them may load: native, or heavy for a plain `verify()`. */
const HEAVY = ['better-sqlite3', 'pg', 'pg-boss', 'hono', '@hono/node-server', '@hono/zod-openapi', 'zod'];

/** Records the URL of every module loaded through the ESM loader, answering a ping once they are sent. */
const HOOK = `
let port;
export function initialize(data) {
  port = data.port;
  port.on('message', () => port.postMessage({ pong: true }));
}
export async function load(url, context, next) {
  port.postMessage({ url });
  return next(url, context);
}
`;

/** Imports one entry by name (argv[2]), optionally uses it (argv[3]), and prints what it loaded. */
const PROBE = `
import { register, createRequire } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const urls = [];
let pong;
const drained = new Promise((resolve) => (pong = resolve));
port1.on('message', (message) => (message.pong ? pong() : urls.push(message.url)));
register('./hook.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
const entry = await import(process.argv[2]);
if (process.argv[3] === 'open-sqlite') entry.openSqliteJobStore(':memory:').close?.();
if (process.argv[3] === 'explain-bounce')
  await entry.explainBounce('From: MAILER-DAEMON@example.test\\r\\nSubject: Undelivered\\r\\n\\r\\nno such user\\r\\n');
port1.postMessage('ping');
await drained;
port1.close();
const files = [...urls, ...Object.keys(createRequire(import.meta.url).cache)];
const packages = new Set();
for (const file of files) {
  const match = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(file);
  if (match) packages.add(match[1]);
}
const natives = process.report.getReport().sharedObjects.filter((path) => path.endsWith('.node'));
console.log(JSON.stringify({ names: Object.keys(entry).sort(), packages: [...packages].sort(), natives }));
`;

interface Probe {
  readonly names: string[];
  readonly packages: string[];
  readonly natives: string[];
}

function run(command: string, args: readonly string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code: code ?? 1, out });
    });
  });
}

describe('package entries (package.json exports)', () => {
  let pkg: string;

  before(async () => {
    pkg = mkdtempSync(join(tmpdir(), 'rcpt-entries-'));
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const built = await run(
      process.execPath,
      [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist'), '--sourceMap', 'false'],
      root,
    );
    assert.equal(built.code, 0, built.out);
    copyFileSync(join(root, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
    writeFileSync(join(pkg, 'hook.mjs'), HOOK);
    writeFileSync(join(pkg, 'probe.mjs'), PROBE);
  });

  after(() => {
    rmSync(pkg, { recursive: true, force: true });
  });

  async function probe(entry: string, use?: string): Promise<Probe> {
    const ran = await run(process.execPath, ['probe.mjs', entry, ...(use === undefined ? [] : [use])], pkg);
    assert.equal(ran.code, 0, ran.out);
    return JSON.parse(ran.out.trim().split('\n').at(-1) ?? '') as Probe;
  }

  for (const [entry, names] of Object.entries(ENTRIES)) {
    it(`import('${entry}') has exactly its documented names`, async () => {
      assert.deepEqual((await probe(entry)).names, [...names].sort());
    });
  }

  it("import('rcpt') loads no native module, no job store, no database driver and no HTTP server", async () => {
    const loaded = await probe('rcpt');
    assert.deepEqual(loaded.natives, []);
    assert.deepEqual(
      loaded.packages.filter((name) => HEAVY.includes(name)),
      [],
    );
    // The probe sees the packages the main entry does need (so an empty list above is not blindness).
    for (const name of ['dns-packet', 'tr46']) assert.ok(loaded.packages.includes(name), name);
  });

  it("import('rcpt') loads postal-mime only when explainBounce() parses a message", async () => {
    assert.ok(!(await probe('rcpt')).packages.includes('postal-mime'));
    assert.ok((await probe('rcpt', 'explain-bounce')).packages.includes('postal-mime'));
  });

  it("'rcpt/jobs' loads better-sqlite3, whose native addon is mapped once a store is opened", async () => {
    const imported = await probe('rcpt/jobs');
    assert.ok(imported.packages.includes('better-sqlite3'));
    assert.ok(!imported.packages.includes('pg') && !imported.packages.includes('hono'));
    const opened = await probe('rcpt/jobs', 'open-sqlite');
    assert.ok(
      opened.natives.some((path) => path.endsWith('better_sqlite3.node')),
      opened.natives.join(', '),
    );
  });

  it("'rcpt/jobs/postgres' loads pg only when a store is opened; 'rcpt/server' loads Hono", async () => {
    const postgres = await probe('rcpt/jobs/postgres');
    assert.ok(!postgres.packages.includes('pg') && !postgres.packages.includes('pg-boss'));
    assert.ok(!postgres.packages.includes('hono'));
    const server = await probe('rcpt/server');
    assert.ok(server.packages.includes('hono') && server.packages.includes('@hono/node-server'));
  });
});

describe('package entries are documented (docs/library.md, "Entries")', () => {
  /** Each entry's row of the table: the backticked names of its last cell. */
  function documentedNames(): Map<string, string[]> {
    const text = readFileSync(join(root, 'docs/library.md'), 'utf8');
    const section = text.slice(text.indexOf('\n## Entries\n'), text.indexOf('\n## Errors\n'));
    const rows = new Map<string, string[]>();
    for (const line of section.split('\n')) {
      const cells = line.split('|').map((cell) => cell.trim());
      const entry = /^`([^`]+)`$/.exec(cells[1] ?? '')?.[1];
      if (entry === undefined || cells.length < 5) continue;
      rows.set(
        entry,
        [...(cells.at(-2) ?? '').matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? ''),
      );
    }
    return rows;
  }

  const documented = documentedNames();
  for (const [entry, names] of Object.entries(ENTRIES)) {
    it(`every runtime name of '${entry}' is named in its row`, () => {
      const row = documented.get(entry) ?? [];
      const families = row.filter((name) => name.endsWith('*')).map((name) => name.slice(0, -1));
      const missing = names.filter(
        (name) => !row.includes(name) && !families.some((prefix) => name.startsWith(prefix)),
      );
      assert.deepEqual(missing, [], `docs/library.md's row for ${entry} does not name them`);
    });
  }

  it('has a row for each entry and no other', () => {
    assert.deepEqual([...documented.keys()].sort(), Object.keys(ENTRIES).sort());
  });
});
