/**
 * A DNS client's UDP sockets (src/dns/transport.ts, `UdpSockets`): shared by at most
 * `UDP_QUERIES_PER_SOCKET` queries while one of them waits, each answer matched to its own query
 * whatever the order, and every socket closed once no query waits on it.
 */
import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { decode, encode, type Packet } from 'dns-packet';

import { createDnsClient } from '../../../src/dns/client.js';
import { UDP_QUERIES_PER_SOCKET } from '../../../src/dns/transport.js';

const udpSockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;

/** The open UDP sockets once closing ones are gone (a close takes a turn of the loop or two), within 2 s. */
async function settledSockets(baseline: number): Promise<number> {
  const until = Date.now() + 2_000;
  while (udpSockets() !== baseline && Date.now() < until)
    await new Promise((resolve) => setTimeout(resolve, 10));
  return udpSockets();
}

/**
 * A name server that holds every query until `hold` have come, then answers them last first: each
 * `qN.test` A query gets `10.0.0.N`. `stray` first sends an answer with an ID the query does not have.
 */
async function startHoldingServer(hold: number, stray: boolean) {
  const socket = createSocket('udp4');
  const held: { packet: Packet; from: RemoteInfo }[] = [];
  const ports = new Map<number, number>();
  socket.on('message', (message: Buffer, from: RemoteInfo) => {
    held.push({ packet: decode(message), from });
    ports.set(from.port, (ports.get(from.port) ?? 0) + 1);
    if (held.length < hold) return;
    for (const { packet, from: to } of held.reverse()) {
      const [question] = packet.questions ?? [];
      const n = Number(/^q(\d+)\./.exec(question?.name ?? '')?.[1]);
      const answer = (id: number) =>
        encode({
          type: 'response',
          id,
          flags: 0x8180,
          questions: packet.questions ?? [],
          answers: [{ type: 'A', name: question?.name ?? '', ttl: 60, data: `10.0.0.${n}` }],
        });
      if (stray) socket.send(answer(((packet.id ?? 0) + 1) % 65_536), to.port, to.address);
      socket.send(answer(packet.id ?? 0), to.port, to.address);
    }
    held.length = 0;
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    ports,
    close: () => new Promise<void>((resolve) => socket.close(resolve)),
  };
}

describe('UDP sockets of a DNS client', () => {
  it('shares a socket among at most UDP_QUERIES_PER_SOCKET queries, matches answers sent last first, and closes it after', async () => {
    const count = 40;
    const server = await startHoldingServer(count, true);
    const baseline = udpSockets();
    try {
      const client = createDnsClient({ servers: [server.address], timeoutMs: 5_000, tries: 1 });
      const results = await Promise.all(
        Array.from({ length: count }, (_, n) => client.query({ name: `q${n}.test`, type: 'A' })),
      );
      results.forEach((result, n) => {
        if (result.kind !== 'answer') assert.fail(`q${n}: ${JSON.stringify(result)}`);
        const [answer] = result.packet.answers ?? [];
        assert.equal(answer?.type === 'A' ? answer.data : null, `10.0.0.${n}`);
      });
      // Every socket's queries came from one port; none carried more than its share.
      const carried = [...server.ports.values()];
      assert.equal(
        carried.reduce((a, b) => a + b, 0),
        count,
      );
      assert.ok(Math.max(...carried) <= UDP_QUERIES_PER_SOCKET, JSON.stringify(carried));
      assert.ok(server.ports.size >= Math.ceil(count / UDP_QUERIES_PER_SOCKET), JSON.stringify(carried));
      assert.ok(server.ports.size < count, `${server.ports.size} sockets for ${count} queries: none shared`);
      assert.equal(await settledSockets(baseline), baseline, 'a socket is left open');
    } finally {
      await server.close();
    }
  });

  it('gives queries asked one after another a socket each', async () => {
    const server = await startHoldingServer(1, false);
    try {
      const client = createDnsClient({ servers: [server.address], timeoutMs: 5_000, tries: 1 });
      for (let n = 0; n < 3; n++) {
        const result = await client.query({ name: `q${n}.test`, type: 'A' });
        assert.equal(result.kind, 'answer');
      }
      assert.equal(server.ports.size, 3);
    } finally {
      await server.close();
    }
  });

  it('a server the kernel refuses to connect to at once is a failure of the query, not a crash', async () => {
    // Loopback's broadcast address: connect() answers EACCES without a packet sent, as it answers
    // ENETUNREACH on a machine with no route. The socket then went on to send unconnected, which threw
    // ERR_SOCKET_BAD_PORT out of a callback and ended the process.
    const baseline = await settledSockets(0); // the sockets of the tests before are closed

    const client = createDnsClient({ servers: ['127.255.255.255'], timeoutMs: 5_000, tries: 2 });
    const results = await Promise.all([
      client.query({ name: 'a.test', type: 'A' }),
      client.query({ name: 'b.test', type: 'MX' }),
    ]);
    for (const result of results) {
      if (result.kind !== 'failure') assert.fail(JSON.stringify(result));
      assert.match(result.message, /127\.255\.255\.255.* over UDP: connect EACCES/);
    }
    assert.equal(await settledSockets(baseline), baseline, 'a socket is left open');
  });
});
