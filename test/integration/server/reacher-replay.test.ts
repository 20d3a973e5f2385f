/**
 * A Reacher client's calls replayed against `rcpt serve`, both as processes: the server started from the
 * CLI on the demo world (a SQLite job store, an API key from RCPT_API_KEYS), and
 * test/fixtures/reacher/replay-client.mjs, a plain-Node client written to Reacher's v1 API with nothing
 * rcpt-specific in it (check, bulk submit, poll, page through results, CSV). It must pass unchanged.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { KEY_A, spawnServe, startWorld, type World } from './helpers.js';

const CLIENT = fileURLToPath(new URL('../../fixtures/reacher/replay-client.mjs', import.meta.url));

let world: World;
let directory: string;

before(async () => {
  world = await startWorld();
  directory = mkdtempSync(join(tmpdir(), 'rcpt-reacher-replay-'));
});
after(async () => {
  await world.close();
  rmSync(directory, { recursive: true, force: true });
});

/** Runs a process to its end: exit code and output. */
function run(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('a Reacher client against rcpt serve', () => {
  it('submits a bulk job, polls it, pages through its results: unchanged, and right', async () => {
    const serve = await spawnServe(
      [
        '--port',
        '0',
        '--db',
        join(directory, 'replay.db'),
        '--dns-server',
        world.world.dnsServer,
        '--smtp-port',
        String(world.world.smtpPort),
        '--allow-private-targets',
        '--greylist-wait',
        '0',
        '--helo',
        'probe.rcpt.test',
      ],
      { RCPT_API_KEYS: KEY_A },
    );
    try {
      const url = serve.url;
      const emails = [
        'alice@acme.test',
        'nobody@acme.test',
        'anyone@catchall.test',
        'user@greylist.test',
        'alice@blocked.test',
        'user@nomail.test',
        'alice..smith@acme.test',
      ];
      const client = await run([CLIENT, ...emails], {
        PATH: process.env.PATH,
        REACHER_URL: url,
        REACHER_KEY: KEY_A,
      });
      assert.equal(client.code, 0, `client failed:\n${client.stderr}\n${client.stdout}`);
      const read = JSON.parse(client.stdout.trim().split('\n').at(-1) ?? '{}') as {
        summary: Record<string, number>;
        results: Record<string, string>;
      };
      assert.deepEqual(read.results, {
        'alice@acme.test': 'safe',
        'nobody@acme.test': 'invalid',
        'anyone@catchall.test': 'risky',
        'user@greylist.test': 'unknown',
        'alice@blocked.test': 'unknown',
        'user@nomail.test': 'invalid',
        'alice..smith@acme.test': 'invalid',
      });
      assert.deepEqual(read.summary, { total_safe: 1, total_risky: 1, total_invalid: 3, total_unknown: 2 });
    } finally {
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0, serve.output());
    }
  });
});
