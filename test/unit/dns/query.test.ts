/**
 * The DNS query a client sends (src/dns/transport.ts, `buildQuery`): the A, MX and AAAA questions of a
 * bulk run are written directly, every other type through dns-packet's encoder; both must be the bytes
 * dns-packet's encoder makes of the same packet, whatever the name.
 */
import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { decode, encode, RECURSION_DESIRED, type RecordType } from 'dns-packet';

import { buildQuery } from '../../../src/dns/transport.js';

/** The packet the client has always sent: one question, recursion desired, EDNS0 at 1232 bytes. */
function encoded(id: number, name: string, type: RecordType): Buffer {
  return encode({
    type: 'query',
    id,
    flags: RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: [
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
    ],
  });
}

const NAMES = [
  'example.com',
  'mx.d078.test',
  'MX.Example.COM',
  'example.com.',
  '.example.com',
  '.example.com.',
  'com',
  '',
  '.',
  '..',
  'a..b',
  'xn--bcher-kva.example',
  'bücher.example',
  '日本.example',
  `${'a'.repeat(63)}.test`,
  `${'a'.repeat(64)}.test`,
  `${'b'.repeat(255)}.test`,
  `${'c'.repeat(300)}.test`,
  Array.from({ length: 127 }, () => 'a').join('.'),
  'line\n.break.',
  '_dmarc.example.com',
  '127.0.0.1',
];

describe('buildQuery', () => {
  it('writes the A, MX and AAAA questions as dns-packet encodes them, for every name shape', () => {
    for (const type of ['A', 'MX', 'AAAA'] as const) {
      for (const name of NAMES) {
        for (const id of [0, 1, 0x1234, 0xffff]) {
          assert.deepEqual(
            buildQuery(id, { name, type }),
            encoded(id, name, type),
            `${type} ${JSON.stringify(name)} ${id}`,
          );
        }
      }
    }
  });

  it('encodes other types through dns-packet', () => {
    for (const type of ['TXT', 'PTR', 'NS', 'SOA', 'CNAME'] as const) {
      assert.deepEqual(buildQuery(7, { name: 'example.com', type }), encoded(7, 'example.com', type));
    }
  });

  it('is read back as the question asked', () => {
    const packet = decode(buildQuery(4242, { name: 'mx.example.com', type: 'AAAA' }));
    assert.equal(packet.id, 4242);
    assert.deepEqual(packet.questions, [{ name: 'mx.example.com', type: 'AAAA', class: 'IN' }]);
    assert.equal(packet.additionals?.[0]?.type, 'OPT');
  });
});
