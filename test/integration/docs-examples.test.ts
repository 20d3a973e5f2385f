/**
 * Every code block of README.md and docs/*.md is run, so an example that stops working fails the
 * tests (issue 15). In a loopback world only (test/helpers/docs/docs-world.ts: `example.com`,
 * `example.org`, `example.net` served on 127.0.15.x), from a scratch directory holding `list.txt`,
 * `contacts.csv`, `session.txt`, `reply.txt` and `examples/sample.csv`:
 *
 * - `ts`/`js` blocks run as ES modules; `'rcpt'` is the library from src/ with the world's DNS server,
 *   SMTP port and loopback allowance added to its options (test/helpers/docs/rcpt-in-docs-world.ts).
 * - `sh` blocks: `rcpt verify`, `bulk`, `demo` and `explain` lines run through `sh` (`npx rcpt` and
 *   `rcpt` are the CLI from src/, RCPT_DNS_SERVER etc. pointing at the world) and must exit 0; `rcpt
 *   serve`, `rcpt worker` and `rcpt doctor` lines, which run until stopped or probe the machine's own
 *   network, have their flags checked by the CLI's own parser. Any other line must be in a marked block.
 *
 * Markers, on the line right before the fence, each with its reason:
 *   <!-- not run: REASON -->     the block is not run at all (it needs port 25, root, a running server…)
 *   <!-- flags only: REASON -->  its `rcpt` lines have their flags checked, nothing is run
 * Other blocks (`jsonc`, `text`, unlabelled output) are not code and are not run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PassThrough } from 'node:stream';
import { buildProgram } from '../../src/cli/main.js';
import { verify } from '../../src/index.js';
import { startDocsWorld, type DocsWorld } from '../helpers/docs/docs-world.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CODE = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);
const SHELL = new Set(['sh', 'bash', 'shell']);
/** Verbs that finish on their own against a loopback world; the others are checked for flags. */
const RUN_VERBS = new Set(['verify', 'bulk', 'demo', 'explain']);

interface Block {
  readonly file: string;
  readonly line: number;
  readonly lang: string;
  readonly code: string;
  readonly marker: { readonly kind: 'not run' | 'flags only'; readonly reason: string } | null;
}

function markdownFiles(): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(root, 'docs', name));
  return [join(root, 'README.md'), ...docs];
}

/** The fenced blocks of a Markdown file, each with the marker on the line before its fence. */
export function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([\w-]*)/.exec(lines[i] ?? '');
    if (open === null) continue;
    const fence = open[1] ?? '```';
    const start = i;
    const body: string[] = [];
    for (i += 1; i < lines.length && !(lines[i] ?? '').startsWith(fence); i++) body.push(lines[i] ?? '');
    const previous = lines[start - 1] ?? '';
    const mark = /^<!--\s*(not run|flags only):\s*(.*?)\s*-->$/.exec(previous.trim());
    blocks.push({
      file: relative(root, file),
      line: start + 1,
      lang: (open[2] ?? '').toLowerCase(),
      code: body.join('\n'),
      marker: mark === null ? null : { kind: mark[1] as 'not run' | 'flags only', reason: mark[2] ?? '' },
    });
  }
  return blocks;
}

/** Shell words of one command line: quotes, `\` escapes, `#` comments; stops at `|`, `;`, `&&`, `>`. */
function words(line: string): { words: string[]; rest: string } {
  const out: string[] = [];
  let word: string | null = null;
  let i = 0;
  for (; i < line.length; i++) {
    const c = line[i] ?? '';
    if (c === '$' && line[i + 1] === '(') {
      const end = line.indexOf(')', i);
      word = (word ?? '') + line.slice(i, end === -1 ? undefined : end + 1);
      i = end === -1 ? line.length : end;
    } else if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      word = (word ?? '') + line.slice(i + 1, end === -1 ? undefined : end);
      i = end === -1 ? line.length : end;
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + (line[i + 1] ?? '');
      i += 1;
    } else if (/\s/.test(c)) {
      if (word !== null) out.push(word);
      word = null;
    } else if (c === '#' && word === null) {
      break;
    } else if ((c === '|' || c === ';' || c === '>' || c === '&' || c === '<') && word === null) {
      break;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== null) out.push(word);
  return { words: out, rest: line.slice(i) };
}

/** The command lines of a shell block: comments and blank lines dropped, `\` continuations joined. */
function commandLines(code: string): string[] {
  const joined = code.replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('$ '));
}

/** The `rcpt` arguments of a command line (after `npx rcpt` or `rcpt`, before a pipe), or null. */
function rcptArguments(line: string): string[] | null {
  for (const segment of line.split(/\s*(?:&&|\|\||\||;)\s*/)) {
    const { words: list } = words(segment);
    const at = list.findIndex(
      (word, i) => word === 'rcpt' && (i === 0 || /^(npx|[A-Z_]+=.*)$/.test(list[i - 1] ?? '')),
    );
    if (at !== -1) return list.slice(at + 1);
  }
  return null;
}

/** The commands of a line that are neither `rcpt` nor `cat` (which only feeds it): such lines need a marker. */
function foreignCommands(line: string): string[] {
  return line
    .split(/\s*(?:&&|\|\||\||;)\s*/)
    .map((segment) => words(segment).words.filter((word) => !/^[A-Z_]+=/.test(word)))
    .filter((list) => list.length > 0 && !['rcpt', 'npx', 'cat'].includes(list[0] ?? ''))
    .map((list) => list[0] ?? '');
}

/** Parses `rcpt ARGS` with the CLI's own parser and no action: a bad flag or value throws. */
async function checkFlags(args: readonly string[]): Promise<void> {
  let errors = '';
  const sink = new PassThrough();
  const err = new PassThrough();
  err.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const program = buildProgram({ stdout: sink, stderr: err, env: {} });
  for (const command of program.commands) command.action(() => undefined);
  try {
    await program.parseAsync(['node', 'rcpt', ...args]);
  } catch (error) {
    throw new Error(`rcpt ${args.join(' ')}: ${errors.trim() || String(error)}`, { cause: error });
  }
}

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runProcess(
  command: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const blocks = markdownFiles().flatMap((file) => extractBlocks(file, readFileSync(file, 'utf8')));
let world: DocsWorld;
let scratch: string;
let env: NodeJS.ProcessEnv;
const tsx = import.meta.resolve('tsx');

before(async () => {
  world = await startDocsWorld();
  scratch = mkdtempSync(join(tmpdir(), 'rcpt-docs-'));
  writeFileSync(join(scratch, 'list.txt'), 'alice@example.com\nbob@example.org\nnobody@example.com\n');
  writeFileSync(
    join(scratch, 'contacts.csv'),
    'name,email\nAlice,alice@example.com\nBob,bob@example.org\nNobody,nobody@example.com\n',
  );
  writeFileSync(
    join(scratch, 'session.txt'),
    'S: 220 mx.example.com ESMTP\nC: EHLO probe.example.net\nS: 250 mx.example.com\nC: MAIL FROM:<verify@example.net>\nS: 250 2.1.0 Ok\nC: RCPT TO:<nobody@example.com>\nS: 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown\n',
  );
  writeFileSync(
    join(scratch, 'reply.txt'),
    '452 4.2.2 The email account that you tried to reach is over quota.\n',
  );
  cpSync(join(root, 'examples'), join(scratch, 'examples'), { recursive: true });
  const bin = join(scratch, '.bin');
  mkdirSync(bin);
  const cli = join(root, 'test/helpers/docs/rcpt-cli.ts');
  writeFileSync(join(bin, 'rcpt'), `#!/bin/sh\nexec "${process.execPath}" --import "${tsx}" "${cli}" "$@"\n`);
  writeFileSync(join(bin, 'npx'), '#!/bin/sh\nexec "$@"\n');
  chmodSync(join(bin, 'rcpt'), 0o755);
  chmodSync(join(bin, 'npx'), 0o755);
  const [host, port] = [world.dnsServer, String(world.smtpPort)];
  env = {
    PATH: `${bin}:${process.env['PATH'] ?? ''}`,
    HOME: scratch,
    DOCS_WORLD_DNS: host,
    DOCS_WORLD_PORT: port,
    RCPT_DNS_SERVER: host,
    RCPT_SMTP_PORT: port,
    RCPT_ALLOW_PRIVATE_TARGETS: '1',
  };
});

after(async () => {
  await world.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('the code blocks of README.md and docs/', () => {
  it('are found, and every marker gives its reason', () => {
    assert.ok(blocks.filter((b) => CODE.has(b.lang)).length >= 3, 'some ts/js blocks');
    assert.ok(blocks.filter((b) => SHELL.has(b.lang)).length >= 5, 'some sh blocks');
    for (const block of blocks) {
      if (block.marker !== null) {
        assert.ok(
          block.marker.reason.length >= 10,
          `${block.file}:${block.line}: say why (${block.marker.kind})`,
        );
      }
    }
  });

  it("docs/result.md's example result has exactly the fields of a real one", async () => {
    const example = blocks.find((b) => b.file === 'docs/result.md' && b.lang === 'jsonc');
    assert.ok(example !== undefined, 'docs/result.md shows a result');
    const documented: unknown = JSON.parse(example.code.replace(/\/\/.*$/gm, ''));
    const real = await verify('alice@example.com', {
      dnsServers: [world.dnsServer],
      smtpPort: world.smtpPort,
      allowPrivateTargets: true,
      helo: 'probe.example.net',
    });
    /** The field names of a value, nested; an array by its first element, a leaf as `true`. */
    const fields = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.length === 0 ? [] : [fields(value[0])];
      if (typeof value !== 'object' || value === null) return true;
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, fields(inner)]));
    };
    assert.deepEqual(fields(documented), fields(JSON.parse(JSON.stringify(real))));
  });

  /**
   * A block's imports of the package's entries (package.json `exports`) as the sources they are built
   * from: `'rcpt'` as `main` (the docs world's shim when run, src/index.ts when typechecked).
   */
  const fromEntries = (code: string, main: string): string =>
    code
      .replace(/from\s+'rcpt'/g, `from '${main}'`)
      .replace(/from\s+'rcpt\/(jobs|jobs\/postgres|server)'/g, (_, entry: string) => {
        return `from '${join(root, 'src', entry, 'index.js')}'`;
      });

  it('ts blocks typecheck in a strict TypeScript project', async () => {
    const dir = join(scratch, 'typecheck');
    mkdirSync(dir);
    const index = join(root, 'src/index.js');
    const files: string[] = [];
    for (const block of blocks) {
      if (block.marker?.kind === 'not run' || !['ts', 'typescript'].includes(block.lang)) continue;
      const file = join(dir, `${block.file.replace(/[^\w]/g, '_')}_${block.line}.mts`);
      // `export {}` keeps each block a module of its own even if it imports nothing.
      writeFileSync(file, `${fromEntries(block.code, index)}\nexport {};\n`);
      files.push(file);
    }
    // A user's strict project (not this repo's extra checks), with the library's sources standing in for
    // its published types.
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
          resolveJsonModule: true,
          skipLibCheck: true,
          noEmit: true,
        },
        include: [join(root, 'src/**/*.d.ts')],
        files,
      }),
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const ran = await runProcess(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], dir, env);
    assert.equal(ran.code, 0, `${ran.stdout}${ran.stderr}`.replaceAll(`${dir}/`, ''));
  });

  for (const block of blocks) {
    const where = `${block.file}:${block.line} (${block.lang})`;
    if (block.marker?.kind === 'not run') continue;
    if (CODE.has(block.lang)) {
      it(`${where} runs`, async () => {
        const shim = pathToFileURL(join(root, 'test/helpers/docs/rcpt-in-docs-world.ts')).href;
        const source = fromEntries(block.code, shim);
        assert.ok(source !== block.code || !block.code.includes('rcpt'), 'imports rcpt as a user would');
        const file = join(scratch, `block-${block.line}.mts`);
        writeFileSync(file, source);
        const ran = await runProcess(process.execPath, ['--import', tsx, file], scratch, env);
        assert.equal(ran.code, 0, `${where}\n${ran.stdout}\n${ran.stderr}`);
        if (process.env['DOCS_EXAMPLES_SHOW'] === '1') console.log(`${where}\n${ran.stdout}${ran.stderr}`);
      });
    } else if (SHELL.has(block.lang)) {
      it(`${where} ${block.marker === null ? 'runs' : 'has valid flags'}`, async () => {
        for (const line of commandLines(block.code)) {
          const args = rcptArguments(line);
          const foreign = foreignCommands(line);
          if (args === null || foreign.length > 0) {
            assert.ok(
              block.marker !== null,
              `${where}: "${line}" runs ${foreign.join(', ') || 'no rcpt'}: mark the block`,
            );
            if (args !== null) await checkFlags(args);
            continue;
          }
          await checkFlags(args);
          if (block.marker !== null || !RUN_VERBS.has(args[0] ?? '')) continue;
          const ran = await runProcess('sh', ['-c', line], scratch, env);
          assert.equal(ran.code, 0, `${where}: ${line}\n${ran.stdout}\n${ran.stderr}`);
          if (process.env['DOCS_EXAMPLES_SHOW'] === '1')
            console.log(`${where}: ${line}\n${ran.stdout}${ran.stderr}`);
        }
      });
    }
  }
});
