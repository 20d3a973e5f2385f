import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { decode, encode, type Answer, type Packet } from 'dns-packet';
import { addressOf, mxOf, normaliseName, readAnswer } from '../../../src/dns/answer.js';
import { parseServerAddress } from '../../../src/dns/client.js';

const soa = (ttl: number, minimum: number): Answer => ({
  type: 'SOA',
  name: 'test',
  ttl,
  data: { mname: 'ns.test', rname: 'h.test', serial: 1, refresh: 1, retry: 1, expire: 1, minimum },
});

/** Through the real encoder and decoder, so the test sees what the resolver sees. */
function packet(answers: Answer[], authorities: Answer[] = []): ReturnType<typeof decode> {
  const message: Packet = {
    type: 'response',
    id: 1,
    flags: 0,
    questions: [{ name: 'q.test', type: 'A' }],
    answers,
    authorities,
  };
  return decode(encode(message));
}

describe('readAnswer', () => {
  it('returns the records and their smallest TTL', () => {
    const result = readAnswer(
      packet([
        { type: 'A', name: 'Q.TEST', ttl: 300, data: '192.0.2.1' },
        { type: 'A', name: 'q.test', ttl: 60, data: '192.0.2.2' },
      ]),
      'q.test',
      'A',
      false,
    );
    assert.equal(result.kind, 'records');
    assert.equal(result.kind === 'records' ? result.ttl : null, 60);
    assert.deepEqual(result.kind === 'records' ? result.records.map(addressOf) : null, [
      '192.0.2.1',
      '192.0.2.2',
    ]);
  });

  it('follows a CNAME chain, taking the smallest TTL along it', () => {
    const result = readAnswer(
      packet([
        { type: 'CNAME', name: 'q.test', ttl: 30, data: 'b.test' },
        { type: 'CNAME', name: 'b.test', ttl: 600, data: 'C.test.' },
        { type: 'A', name: 'c.test', ttl: 600, data: '192.0.2.3' },
        // Not on the chain: must be ignored.
        { type: 'A', name: 'other.test', ttl: 600, data: '192.0.2.99' },
      ]),
      'q.test',
      'A',
      false,
    );
    assert.deepEqual(
      result.kind === 'records' ? [result.ttl, result.aliases, result.records.map(addressOf)] : result,
      [30, ['b.test', 'c.test'], ['192.0.2.3']],
    );
  });

  it('detects a CNAME loop', () => {
    const result = readAnswer(
      packet([
        { type: 'CNAME', name: 'q.test', ttl: 30, data: 'b.test' },
        { type: 'CNAME', name: 'b.test', ttl: 30, data: 'q.test' },
      ]),
      'q.test',
      'A',
      false,
    );
    assert.equal(result.kind, 'invalid');
  });

  it('gives up on a chain longer than 16', () => {
    const chain: Answer[] = Array.from({ length: 20 }, (_, i) => ({
      type: 'CNAME',
      name: i === 0 ? 'q.test' : `n${i}.test`,
      ttl: 30,
      data: `n${i + 1}.test`,
    }));
    assert.equal(readAnswer(packet(chain), 'q.test', 'A', false).kind, 'invalid');
  });

  it('reads NXDOMAIN and NODATA with the RFC 2308 §5 negative TTL: min(SOA TTL, MINIMUM)', () => {
    assert.deepEqual(readAnswer(packet([], [soa(900, 60)]), 'q.test', 'A', true), {
      kind: 'nxdomain',
      negativeTtl: 60,
      aliases: [],
    });
    assert.deepEqual(readAnswer(packet([], [soa(20, 60)]), 'q.test', 'A', false), {
      kind: 'nodata',
      negativeTtl: 20,
      aliases: [],
    });
    assert.deepEqual(readAnswer(packet([]), 'q.test', 'A', false), {
      kind: 'nodata',
      negativeTtl: null,
      aliases: [],
    });
  });

  it('says the chain is incomplete when it stops at a name without an SOA (authoritative server, foreign target)', () => {
    const result = readAnswer(
      packet([{ type: 'CNAME', name: 'q.test', ttl: 30, data: 'elsewhere.example' }]),
      'q.test',
      'A',
      false,
    );
    assert.deepEqual(result, {
      kind: 'incomplete',
      target: 'elsewhere.example',
      ttl: 30,
      aliases: ['elsewhere.example'],
    });
    // With an SOA the resolver has spoken for the target: NODATA there.
    assert.equal(
      readAnswer(
        packet([{ type: 'CNAME', name: 'q.test', ttl: 30, data: 'elsewhere.example' }], [soa(60, 60)]),
        'q.test',
        'A',
        false,
      ).kind,
      'nodata',
    );
  });
});

describe('record helpers', () => {
  it('reads MX records, keeping the null MX root as "."', () => {
    const decoded = packet([
      { type: 'MX', name: 'q.test', ttl: 1, data: { preference: 0, exchange: '.' } },
      { type: 'MX', name: 'q.test', ttl: 1, data: { preference: 10, exchange: 'MX.Q.Test.' } },
    ]);
    assert.deepEqual((decoded.answers ?? []).map(mxOf), [
      { exchange: '.', priority: 0 },
      { exchange: 'mx.q.test', priority: 10 },
    ]);
    assert.equal(mxOf({ type: 'A', name: 'x', data: '192.0.2.1' }), null);
  });

  it('normalises names', () => {
    assert.equal(normaliseName('Example.COM.'), 'example.com');
    assert.equal(normaliseName('.'), '.');
    assert.equal(normaliseName(''), '.');
  });
});

describe('parseServerAddress', () => {
  const good: [string, string, number, 4 | 6][] = [
    ['127.0.0.1', '127.0.0.1', 53, 4],
    ['127.0.0.1:5353', '127.0.0.1', 5353, 4],
    ['::1', '::1', 53, 6],
    ['[::1]', '::1', 53, 6],
    ['[::1]:5353', '::1', 5353, 6],
    ['[2001:db8::53]:53', '2001:db8::53', 53, 6],
    ['fe80::1', 'fe80::1', 53, 6],
  ];
  for (const [text, host, port, family] of good) {
    it(`parses ${text}`, () => {
      assert.deepEqual(parseServerAddress(text), { host, port, family, label: text });
    });
  }

  it('refuses names, bad ports and malformed brackets', () => {
    for (const text of [
      '',
      'dns.example',
      'localhost:53',
      '127.0.0.1:0',
      '127.0.0.1:65536',
      '127.0.0.1:',
      '[127.0.0.1]:53',
      '[::1',
      '::1]:53',
      '[::1]:x',
      '1.2.3.4:5:6',
      '256.0.0.1',
    ]) {
      assert.equal(parseServerAddress(text), null, text);
    }
  });
});
