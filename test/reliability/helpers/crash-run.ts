/**
 * Crash safety of `rcpt bulk` (issue 9): a real child process killed with SIGKILL at random points,
 * `kills` times in a row (the first run fresh, every later one with `--resume`), then one last
 * `--resume` left to finish; the output must hold every input row exactly once, in input order, with
 * the right verdict. Kill points are drawn from a seeded generator: half after a random delay from the
 * spawn (so some land during start-up and ingest), half once a random number of new results are stored.
 * Used by test/reliability/crash.test.ts (5 kills) and bench/crash.bench.ts (20 kills).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parse } from 'csv-parse/sync';

import { startDnsServer, type DnsServer } from '../../../src/demo/dns-server.js';
import { seeded } from '../../helpers/seeded.js';
import { storedResults } from '../../helpers/stored-results.js';
import { startMxServer, type MxServer } from './mx-server.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const ENTRY = join(REPO, 'test/fixtures/bulk/rcpt-entry.ts');

export interface CrashWorld {
  readonly dns: DnsServer;
  readonly servers: readonly MxServer[];
  readonly flags: readonly string[];
  /**
   * RCPT commands the servers received for the list's addresses (an RCPT to `postmaster`, which checks
   * whether a host answers after a refusal, aside: src/scheduler/poisoning.ts). Where the host has
   * accepted an address, that check asks it again in place of `postmaster`, and it would count here;
   * this world's hosts need no check: one has no unknown address, the other's alternate with existing
   * ones, and its first batch with both proves that it answers after a refusal.
   */
  rcpts(): number;
  close(): Promise<void>;
}

/**
 * The flags of `rcpt bulk` runs in a crash world: DNS from `dns` (`host:port`), SMTP on `smtpPort` of
 * loopback hosts, no catch-all probe, one session per host.
 */
export function crashFlags(dns: string, smtpPort: number): string[] {
  return [
    '--dns-server',
    dns,
    '--smtp-port',
    String(smtpPort),
    '--allow-private-targets',
    '--helo',
    'probe.crash.test',
    '--no-catch-all',
    '--host-concurrency',
    '1',
  ];
}

/** Two slow MTAs (25 ms per RCPT reply) on 127.9.4.1–2 serving two domains; `ok…` mailboxes exist. */
export async function startCrashWorld(): Promise<CrashWorld> {
  const users = new Set(Array.from({ length: 10_000 }, (_, i) => `ok${i}`));
  let servers: MxServer[] = [];
  for (let attempt = 0; ; attempt++) {
    try {
      const first = await startMxServer({ host: '127.9.4.1', port: 0, users, rcptDelayMs: 25 });
      servers = [first, await startMxServer({ host: '127.9.4.2', port: first.port, users, rcptDelayMs: 25 })];
      break;
    } catch (error) {
      await Promise.all(servers.map((server) => server.close()));
      if (attempt >= 4) throw error;
    }
  }
  const dns = await startDnsServer({
    host: '127.0.0.1',
    port: 0,
    zones: {
      'one.crash.test': { MX: [{ priority: 10, exchange: 'mx.one.crash.test' }] },
      'mx.one.crash.test': { A: ['127.9.4.1'] },
      'two.crash.test': { MX: [{ priority: 10, exchange: 'mx.two.crash.test' }] },
      'mx.two.crash.test': { A: ['127.9.4.2'] },
    },
  });
  return {
    dns,
    servers,
    flags: crashFlags(dns.address, servers[0]?.port ?? 0),
    rcpts: () =>
      servers.reduce(
        (sum, server) =>
          sum +
          server.sessions.reduce(
            (n, s) =>
              n + s.commands.filter((c) => /^RCPT /i.test(c) && !/^RCPT TO:<postmaster@/i.test(c)).length,
            0,
          ),
        0,
      ),
    close: async () => {
      await Promise.all([dns.close(), ...servers.map((server) => server.close())]);
    },
  };
}

export interface CrashReport {
  readonly kills: number;
  /** Runs that ended on their own before their kill point (the job was already done). */
  readonly finishedBeforeKill: number;
  /** Stored results after each kill. */
  readonly storedAfterKill: readonly number[];
  readonly rows: number;
  readonly distinct: number;
  /** RCPTs sent over all runs minus the distinct addresses: work redone for addresses in flight at a kill. */
  readonly reverified: number;
  /** Problems found in the final output; empty when every row is there once with the right verdict. */
  readonly problems: readonly string[];
  readonly ms: number;
}

interface ChildRun {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stderr: string;
}

function startChild(args: readonly string[]): {
  child: ReturnType<typeof spawn>;
  done: Promise<ChildRun>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'bulk', ...args], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<ChildRun>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({ code, signal, stderr });
    });
  });
  return { child, done };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes `dir/crash.csv`: `distinct` addresses over the crash world's two domains (every fourth one a
 * mailbox that does not exist), then a tenth of them again, so duplicates must come out once per row.
 */
export async function writeCrashInput(
  dir: string,
  distinct: number,
): Promise<{ input: string; rowsIn: readonly string[] }> {
  const addresses = Array.from(
    { length: distinct },
    (_, i) => `${i % 4 === 3 ? 'nobody' : 'ok'}${i}@${i % 2 === 0 ? 'one' : 'two'}.crash.test`,
  );
  const rowsIn = [...addresses, ...addresses.slice(0, Math.floor(distinct / 10))];
  const input = join(dir, 'crash.csv');
  await writeFile(input, `id,email\n${rowsIn.map((address, i) => `${i + 1},"${address}"`).join('\n')}\n`);
  return { input, rowsIn };
}

/**
 * What is wrong with the CSV `output` of a job over `writeCrashInput()`'s rows: a missing, extra or
 * repeated row, a row out of order, or a wrong verdict. Empty when every row is there exactly once.
 */
export async function outputProblems(output: string, rowsIn: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  const rows: Record<string, string>[] = existsSync(output)
    ? parse(await readFile(output, 'utf8'), { columns: true })
    : [];
  if (rows.length !== rowsIn.length)
    problems.push(`${rows.length} output rows for ${rowsIn.length} input rows`);
  for (const [index, expected] of rowsIn.entries()) {
    const row = rows[index];
    if (row === undefined) break;
    if (row.id !== String(index + 1) || row.email !== expected) {
      problems.push(`row ${index + 1}: ${row.id} ${row.email}, expected ${index + 1} ${expected}`);
    }
    const reason = expected.startsWith('ok') ? 'accepted' : 'mailbox_not_found';
    if (row.reason !== reason)
      problems.push(`row ${index + 1} (${expected}): ${row.reason}, expected ${reason}`);
  }
  const ids = new Set(rows.map((row) => row.id));
  if (ids.size !== rows.length) problems.push('a row appears twice');
  return problems;
}

/** Runs the kill cycle in `dir` against `world`; never throws for what it finds (see `problems`). */
export async function runCrashCycle(
  world: CrashWorld,
  dir: string,
  settings: { kills: number; distinct: number; seed: number },
): Promise<CrashReport> {
  const started = performance.now();
  const random = seeded(settings.seed);
  const { input, rowsIn } = await writeCrashInput(dir, settings.distinct);
  const output = join(dir, 'crash.out.csv');
  const db = `${output}.rcpt.db`;
  const rcptsBefore = world.rcpts();
  const storedAfterKill: number[] = [];
  let finishedBeforeKill = 0;
  const problems: string[] = [];

  for (let kill = 0; kill < settings.kills; kill++) {
    const args = [input, '-o', output, ...world.flags, ...(kill > 0 ? ['--resume'] : [])];
    const { child, done } = startChild(args);
    let exited: ChildRun | null = null;
    void done.then((run) => (exited = run));
    const byTime = random() < 0.5;
    const stored = storedResults(db);
    const deadline = Date.now() + 60_000;
    if (byTime) {
      // 100 ms – 3 s after the spawn: start-up and ingest are in this window too.
      await sleep(100 + Math.floor(random() * 2_900));
    } else {
      const wanted = stored + 1 + Math.floor(random() * 40);
      while (exited === null && Date.now() < deadline && storedResults(db) < wanted) await sleep(20);
    }
    if (exited === null) {
      child.kill('SIGKILL');
      const run = await done;
      if (run.signal !== 'SIGKILL') finishedBeforeKill += 1;
    } else {
      finishedBeforeKill += 1;
    }
    storedAfterKill.push(storedResults(db));
    if (existsSync(output) && storedResults(db) < settings.distinct) {
      problems.push(`after kill ${kill + 1}: an output file exists before the job finished`);
    }
    // Let the servers see the dead child's connections go before the next run counts its sessions.
    await Promise.all(world.servers.map((server) => server.settled(5_000).catch(() => undefined)));
  }

  const final = await startChild([input, '-o', output, ...world.flags, '--resume']).done;
  if (final.code !== 0)
    problems.push(`the last --resume exited ${final.code ?? final.signal}: ${final.stderr}`);
  problems.push(...(await outputProblems(output, rowsIn)));
  return {
    kills: settings.kills,
    finishedBeforeKill,
    storedAfterKill,
    rows: rowsIn.length,
    distinct: settings.distinct,
    reverified: world.rcpts() - rcptsBefore - settings.distinct,
    problems,
    ms: performance.now() - started,
  };
}
