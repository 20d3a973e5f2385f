/**
 * The top-level `verifyMany()` of 'rcpt' (issue 15): one verifier made for the run, both kinds of
 * options in one object, results as `createVerifier().verifyMany()` gives them, and the verifier's
 * sessions closed when the iteration ends, also after a `break`. Against the demo world on loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDemoWorld, type DemoWorld } from '../../src/demo/world.js';
import { verifyMany, type VerifyOptions, type VerifyResult } from '../../src/index.js';
import { worldOptions } from '../helpers/world-options.js';

let world: DemoWorld;
let base: VerifyOptions;

before(async () => {
  world = await startDemoWorld();
  base = worldOptions(world);
});

after(async () => {
  await world.close();
});

const tcpSockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

/** Waits (up to 10 s) for the open TCP sockets of this process to come back to `count`. */
async function socketsBackTo(count: number): Promise<number> {
  for (let i = 0; i < 200 && tcpSockets() > count; i++) await sleep(50);
  return tcpSockets();
}

describe("verifyMany() from 'rcpt'", () => {
  it('yields one result per input, with the verdicts of the world', async () => {
    const expected: Record<string, string> = {
      'alice@acme.test': 'deliverable/accepted',
      'nobody@acme.test': 'undeliverable/mailbox_not_found',
      'anyone@catchall.test': 'risky/catch_all',
      'user@nullmx.test': 'undeliverable/null_mx',
      'user@nowhere.test': 'undeliverable/domain_not_found',
      'alice..smith@acme.test': 'undeliverable/invalid_syntax',
    };
    const results: VerifyResult[] = [];
    for await (const result of verifyMany(Object.keys(expected), { ...base, hostConcurrency: 1 })) {
      results.push(result);
    }
    assert.deepEqual(Object.fromEntries(results.map((r) => [r.input, `${r.verdict}/${r.reason}`])), expected);
  });

  it('reads an async iterable lazily and closes its sessions after a break', async () => {
    // The sessions of the run before end with QUIT after its last result: counted from once they have.
    const before = await socketsBackTo(0);
    let read = 0;
    async function* addresses() {
      for (let i = 0; i < 500; i++) {
        read += 1;
        await Promise.resolve();
        yield `user${i}@acme.test`;
      }
    }
    let seen = 0;
    for await (const result of verifyMany(addresses(), { ...base, concurrency: 10 })) {
      assert.equal(result.verdict, 'undeliverable');
      seen += 1;
      if (seen === 3) break;
    }
    assert.ok(read < 500, `the input is read lazily (read ${read} of 500)`);
    assert.equal(await socketsBackTo(before), before, 'no SMTP session left open after the break');
  });
});
