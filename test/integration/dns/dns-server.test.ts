import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import fc from 'fast-check';
import { decode, encode, type Answer, type DecodedPacket, type Packet, type RecordType } from 'dns-packet';
import { startDnsServer, type DnsServer, type DnsZones } from '../../../src/demo/dns-server.js';

const ZONES: DnsZones = {
  'Example.Test': { MX: [{ priority: 10, exchange: 'mx.example.test' }], TXT: ['hello'], ttl: 120 },
  'mx.example.test': { A: ['127.0.0.2'], AAAA: ['::1'] },
  'alias.example.test': { CNAME: 'mx.example.test' },
  'dangling.example.test': { CNAME: 'missing.example.test' },
  // No entry for "sub.example.test" itself: an empty non-terminal.
  'host.sub.example.test': { A: ['127.0.0.3'] },
  // Thirty A records: 30 × 33 bytes (dns-packet does not compress names) fit in 1232, not in 512.
  'many.example.test': { A: Array.from({ length: 30 }, (_, i) => `127.0.2.${i}`) },
  'silent.example.test': { behaviour: 'silent' },
};

let server: DnsServer;

function query(name: string, type: RecordType, edns = false, id = 4242): Buffer {
  const packet: Packet = { type: 'query', id, flags: 0x100, questions: [{ name, type, class: 'IN' }] };
  if (edns) {
    packet.additionals = [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ];
  }
  return encode(packet);
}

/** Sends raw bytes over UDP; resolves with the decoded answers received within `waitMs`. */
async function udp(message: Buffer, waitMs = 300, port = server.port): Promise<DecodedPacket[]> {
  const socket = createSocket('udp4');
  const received: DecodedPacket[] = [];
  try {
    await new Promise<void>((resolve) => {
      socket.connect(port, '127.0.0.1', resolve);
    });
    socket.on('message', (reply) => received.push(decode(reply)));
    socket.send(message);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    return received;
  } finally {
    socket.close();
  }
}

/** Sends length-prefixed messages over one TCP connection; resolves with `count` answers. */
async function tcp(messages: readonly Buffer[], count: number): Promise<DecodedPacket[]> {
  const socket = connect(server.port, '127.0.0.1');
  try {
    return await new Promise<DecodedPacket[]>((resolve, reject) => {
      let buffered = Buffer.alloc(0);
      const out: DecodedPacket[] = [];
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          out.push(decode(buffered.subarray(2, 2 + buffered.readUInt16BE(0))));
          buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
        }
        if (out.length >= count) resolve(out);
      });
      socket.write(
        Buffer.concat(
          messages.flatMap((message) => {
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(message.length, 0);
            return [prefix, message];
          }),
        ),
      );
    });
  } finally {
    socket.destroy();
  }
}

interface Record_ {
  readonly name: string;
  readonly type: string;
  readonly ttl: number | null;
  readonly data: unknown;
}

/** The fields the tests look at, with nothing optional. */
interface Summary {
  readonly id: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rcode: number;
  readonly question: string;
  readonly answers: readonly Record_[];
  readonly authorities: readonly Record_[];
}

function plain(record: Answer): Record_ {
  return {
    name: record.name,
    type: record.type,
    ttl: 'ttl' in record ? (record.ttl ?? null) : null,
    data: 'data' in record ? record.data : null,
  };
}

function summary(packet: DecodedPacket | undefined): Summary {
  if (packet === undefined) assert.fail('no answer');
  return {
    id: packet.id ?? -1,
    aa: packet.flag_aa,
    tc: packet.flag_tc,
    rcode: (packet.flags ?? 0) & 0x0f,
    question: packet.questions?.[0]?.name ?? '',
    answers: (packet.answers ?? []).map(plain),
    authorities: (packet.authorities ?? []).map(plain),
  };
}

/** The single answer to a UDP query. */
async function ask(message: Buffer, port = server.port): Promise<Summary> {
  const [packet] = await udp(message, 300, port);
  return summary(packet);
}

before(async () => {
  server = await startDnsServer({ zones: ZONES, negativeTtl: 30 });
});

after(async () => {
  await server.close();
});

describe('startDnsServer', () => {
  it('listens on one port for UDP and TCP and says where', async () => {
    assert.equal(server.address, `127.0.0.1:${server.port}`);
    const overUdp = await ask(query('mx.example.test', 'A'));
    const [tcpPacket] = await tcp([query('mx.example.test', 'A')], 1);
    for (const packet of [overUdp, summary(tcpPacket)]) {
      assert.equal(packet.id, 4242);
      assert.equal(packet.aa, true);
      assert.deepEqual(
        packet.answers.map((answer) => answer.data),
        ['127.0.0.2'],
      );
    }
  });

  it('matches names case-insensitively and echoes the question as asked (RFC 4343)', async () => {
    const packet = await ask(query('eXaMpLe.TeSt', 'MX'));
    assert.equal(packet.question, 'eXaMpLe.TeSt');
    assert.deepEqual(packet.answers, [
      { name: 'eXaMpLe.TeSt', type: 'MX', ttl: 120, data: { preference: 10, exchange: 'mx.example.test' } },
    ]);
  });

  it('answers NXDOMAIN with an SOA for negative caching (RFC 2308 §3)', async () => {
    const packet = await ask(query('nowhere.example.test', 'MX'));
    assert.equal(packet.rcode, 3);
    assert.equal(packet.authorities[0]?.type, 'SOA');
    assert.equal(packet.authorities[0]?.ttl, 30);
    assert.equal((packet.authorities[0]?.data as { minimum: number }).minimum, 30);
  });

  it('answers NODATA (NOERROR, no records, SOA) for a missing type and for an empty non-terminal', async () => {
    for (const [name, type] of [
      ['mx.example.test', 'MX'],
      ['sub.example.test', 'A'],
    ] as const) {
      const packet = await ask(query(name, type));
      assert.equal(packet.rcode, 0, name);
      assert.deepEqual(packet.answers, [], name);
      assert.equal(packet.authorities[0]?.type, 'SOA', name);
    }
  });

  it('follows CNAMEs in the table, and says NXDOMAIN for a dangling one (RFC 6604)', async () => {
    const alias = await ask(query('alias.example.test', 'A'));
    assert.deepEqual(
      alias.answers.map((answer) => [answer.name, answer.type]),
      [
        ['alias.example.test', 'CNAME'],
        ['mx.example.test', 'A'],
      ],
    );
    const dangling = await ask(query('dangling.example.test', 'A'));
    assert.equal(dangling.rcode, 3);
    assert.equal(dangling.answers[0]?.type, 'CNAME');
  });

  it('truncates at 512 bytes without EDNS0 and at the advertised size with it; TCP carries it all', async () => {
    const classic = await ask(query('many.example.test', 'A'));
    assert.equal(classic.tc, true);
    assert.deepEqual(classic.answers, []);
    const withEdns = await ask(query('many.example.test', 'A', true));
    assert.equal(withEdns.tc, false);
    assert.equal(withEdns.answers.length, 30);
    const [overTcp] = await tcp([query('many.example.test', 'A')], 1);
    assert.equal(summary(overTcp).answers.length, 30);
  });

  it('answers several queries on one TCP connection (RFC 7766 §6.2.1)', async () => {
    const answers = await tcp(
      [query('mx.example.test', 'A', false, 1), query('mx.example.test', 'AAAA', false, 2)],
      2,
    );
    assert.deepEqual(answers.map((packet) => packet.id).sort(), [1, 2]);
  });

  it('stays silent for a silent name and for response packets, and counts the queries', async () => {
    const before = server.queries;
    assert.deepEqual(await udp(query('silent.example.test', 'A'), 150), []);
    const response = encode({
      type: 'response',
      id: 1,
      flags: 0x8000,
      questions: [{ name: 'x.test', type: 'A' }],
    });
    assert.deepEqual(await udp(response, 150), []);
    assert.equal(server.queries - before, 1);
  });

  it('never crashes on malformed packets (seeded fuzz over UDP and TCP), and answers FORMERR when it can', async () => {
    const samples = [
      ...fc.sample(fc.uint8Array({ minLength: 0, maxLength: 11 }), { seed: 1035, numRuns: 100 }),
      ...fc.sample(fc.uint8Array({ minLength: 12, maxLength: 200 }), { seed: 1035, numRuns: 300 }),
      // Valid queries with a byte flipped: past the header, where the decoder has to cope.
      ...fc
        .sample(fc.tuple(fc.nat(40), fc.integer({ min: 0, max: 255 })), { seed: 1035, numRuns: 300 })
        .map(([position, value]) => {
          const bytes = Buffer.from(query('example.test', 'MX', true));
          bytes[position % bytes.length] = value;
          return bytes;
        }),
    ];
    const before = server.queries;
    // A header that says "one question" followed by nothing: FORMERR with the same ID.
    const header = Buffer.from([0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
    const formerr = await ask(header);
    assert.equal(formerr.id, 0xabcd);
    assert.equal(formerr.rcode, 1);
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => {
      socket.connect(server.port, '127.0.0.1', resolve);
    });
    // One at a time, yielding to I/O: client and server share this event loop, and a burst would
    // overflow the kernel's receive buffer (about 280 small datagrams) before the server reads.
    for (const bytes of samples) {
      await new Promise((resolve) => {
        socket.send(Buffer.from(bytes), resolve);
      });
      await new Promise((resolve) => setImmediate(resolve));
    }
    socket.close();
    const raw = connect(server.port, '127.0.0.1');
    await new Promise<void>((resolve) => raw.on('connect', resolve));
    for (const bytes of samples) raw.write(Buffer.from(bytes));
    raw.destroy();
    const still = await ask(query('mx.example.test', 'A'));
    assert.equal(still.rcode, 0, 'still answering after the fuzz');
    assert.ok(server.queries - before > 300, `${server.queries - before} fuzz packets were parsed`);
  });

  it('delays answers when asked to, and close() cancels pending answers and frees the port', async () => {
    const slow = await startDnsServer({ zones: ZONES, delayMs: 120 });
    try {
      const started = performance.now();
      const packet = await ask(query('mx.example.test', 'A'), slow.port);
      assert.equal(packet.rcode, 0);
      const pending = udp(query('mx.example.test', 'A'), 250, slow.port);
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.ok(performance.now() - started >= 120);
      await slow.close();
      assert.deepEqual(await pending, [], 'the delayed answer was cancelled');
      const again = await startDnsServer({ zones: {}, port: slow.port });
      assert.equal(again.port, slow.port, 'UDP and TCP port free again');
      await again.close();
    } finally {
      await slow.close();
    }
  });

  it('replaces its records with setZones()', async () => {
    const mutable = await startDnsServer({ zones: { 'a.test': { A: ['127.0.0.1'] } } });
    try {
      mutable.setZones({ 'a.test': { A: ['127.0.0.9'] } });
      const [packet] = await udp(query('a.test', 'A'), 200, mutable.port);
      assert.equal(
        packet?.answers?.[0] && 'data' in packet.answers[0] ? packet.answers[0].data : null,
        '127.0.0.9',
      );
    } finally {
      await mutable.close();
    }
  });

  it('refuses a broken table at start-up, naming the entry', async () => {
    for (const zones of [
      { 'a.test': { A: ['not-an-ip'] } },
      { 'a.test': { AAAA: ['127.0.0.1'] } },
      { 'a.test': { MX: [{ priority: -1, exchange: 'mx.a.test' }] } },
      { 'a.test': { CNAME: 'b.test', A: ['127.0.0.1'] } },
      { 'a.test': {}, 'A.TEST.': {} },
      { 'a.test': { behaviour: 'explode' } },
    ]) {
      await assert.rejects(startDnsServer({ zones: zones as DnsZones }), (error: unknown) => {
        return error instanceof TypeError && error.message.toLowerCase().includes('a.test');
      });
    }
  });

  it('serves over IPv6 loopback too', async (t) => {
    let v6: DnsServer;
    try {
      v6 = await startDnsServer({ host: '::1', zones: ZONES });
    } catch {
      t.skip('no IPv6 loopback here');
      return;
    }
    try {
      assert.equal(v6.address, `[::1]:${v6.port}`);
      const socket = createSocket('udp6');
      const reply = await new Promise<DecodedPacket>((resolve) => {
        socket.on('message', (message) => {
          resolve(decode(message));
        });
        socket.send(query('mx.example.test', 'AAAA'), v6.port, '::1');
      });
      socket.close();
      assert.equal(summary(reply).answers[0]?.data, '::1');
    } finally {
      await v6.close();
    }
  });
});
