/**
 * `rcpt serve` that cannot listen, as the real process says it: what is wrong and which flag changes
 * it, exit 1, instead of Node's `listen EADDRINUSE: address already in use 127.0.0.1:8025`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { rcptProcess } from '../helpers/rcpt-process.js';

let dir: string;
let taken: Server;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-serve-listen-'));
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  await new Promise((resolve) => taken.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('rcpt serve: where it cannot listen', () => {
  it('a port in use: names it and says to choose another --port', async () => {
    const { port } = taken.address() as AddressInfo;
    const { code, stderr } = await rcptProcess([
      'serve',
      '--port',
      String(port),
      '--db',
      join(dir, 'jobs.db'),
      '--helo',
      'probe.rcpt.test',
    ]);
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      new RegExp(
        `^rcpt: serve: port ${port} on 127\\.0\\.0\\.1 is already in use \\(another rcpt serve\\?\\): stop what listens there, or choose another --port$`,
        'm',
      ),
    );
    assert.doesNotMatch(stderr, /listen EADDRINUSE/);
  });

  it('a --host that is not an address of this machine: says so and names --host', async () => {
    const { code, stderr } = await rcptProcess(
      [
        'serve',
        '--host',
        '192.0.2.77',
        '--port',
        '0',
        '--db',
        join(dir, 'jobs2.db'),
        '--helo',
        'probe.rcpt.test',
      ],
      // With a key, a server may listen beyond loopback; without, it would listen on 127.0.0.1 instead.
      { env: { RCPT_API_KEYS: 'a-key-for-this-test-only-0123456789' } },
    );
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      /^rcpt: serve: 192\.0\.2\.77 is not an address of this machine: choose another --host$/m,
    );
  });
});
