import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decode,
  encode,
  RECURSION_DESIRED,
  TRUNCATED_RESPONSE,
  type Answer,
  type DecodedPacket,
  type RecordType,
} from 'dns-packet';
import { DnsResponder, type DnsZones } from '../../../src/demo/dns-responder.js';

const ZONES: DnsZones = {
  'example.test': { MX: [{ priority: 10, exchange: 'mx.example.test' }], ttl: 120 },
  'mx.example.test': { A: ['127.0.0.1'] },
  'alias.test': { CNAME: 'mx.example.test' },
  'a.b.nonterminal.test': { A: ['127.0.0.2'] },
  'broken.test': { behaviour: 'servfail' },
  'quiet.test': { behaviour: 'silent' },
  'forged.test': { A: ['127.0.0.3'], behaviour: 'spoofed' },
  'big.test': { TXT: Array.from({ length: 40 }, (_, i) => `record ${i} ${'x'.repeat(20)}`) },
};

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const rcodeOf = (packet: DecodedPacket | undefined) => RCODES[(packet?.flags ?? 0) & 0x0f];
const ttlOf = (record: Answer) => ('ttl' in record ? record.ttl : null);
const dataOf = (record: Answer): unknown => ('data' in record ? record.data : null);

function query(name: string, type: RecordType, id = 7): Buffer {
  return encode({ id, type: 'query', flags: RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
}

function ask(responder: DnsResponder, name: string, type: RecordType, transport: 'udp' | 'tcp' = 'udp') {
  const { messages } = responder.handle(query(name, type), transport);
  return (messages ?? []).map((message) => decode(message));
}

describe('DnsResponder', () => {
  it('answers from the table with the TTL of the name, echoing the question as asked', () => {
    const [reply] = ask(new DnsResponder(ZONES), 'EXAMPLE.test', 'MX');
    assert.equal(rcodeOf(reply), 'NOERROR');
    assert.equal(reply?.questions?.[0]?.name, 'EXAMPLE.test');
    assert.deepEqual(
      reply?.answers?.map((a): unknown[] => [a.type, ttlOf(a), dataOf(a)]),
      [['MX', 120, { preference: 10, exchange: 'mx.example.test' }]],
    );
  });

  it('follows a CNAME inside the table', () => {
    const [reply] = ask(new DnsResponder(ZONES), 'alias.test', 'A');
    assert.deepEqual(
      reply?.answers?.map((a) => a.type),
      ['CNAME', 'A'],
    );
  });

  it('says NXDOMAIN for a missing name and NODATA for an empty non-terminal, each with an SOA', () => {
    const responder = new DnsResponder(ZONES, 30);
    const [missing] = ask(responder, 'nope.example.test', 'A');
    assert.equal(rcodeOf(missing), 'NXDOMAIN');
    assert.deepEqual(
      missing?.authorities?.map((a): unknown[] => [a.type, a.name, ttlOf(a)]),
      [['SOA', 'example.test', 30]],
    );
    const [empty] = ask(responder, 'b.nonterminal.test', 'A');
    assert.equal(rcodeOf(empty), 'NOERROR');
    assert.equal(empty?.answers?.length, 0);
    assert.equal(empty?.authorities?.[0]?.type, 'SOA');
  });

  it('misbehaves as scripted: SERVFAIL, silence, a forged answer before the real one', () => {
    const responder = new DnsResponder(ZONES);
    assert.equal(rcodeOf(ask(responder, 'broken.test', 'MX')[0]), 'SERVFAIL');
    assert.equal(responder.handle(query('quiet.test', 'MX'), 'udp').messages, null);
    const [forged, real] = ask(responder, 'forged.test', 'A');
    assert.notEqual(forged?.id, 7);
    assert.equal(real?.id, 7);
    assert.deepEqual(real?.answers?.map(dataOf), ['127.0.0.3']);
  });

  it('truncates a UDP answer over 512 bytes, and answers it whole over TCP', () => {
    const responder = new DnsResponder(ZONES);
    const [udp] = ask(responder, 'big.test', 'TXT', 'udp');
    assert.equal((udp?.flags ?? 0) & TRUNCATED_RESPONSE, TRUNCATED_RESPONSE);
    assert.equal(udp?.answers?.length, 0);
    const [tcp] = ask(responder, 'big.test', 'TXT', 'tcp');
    assert.equal(tcp?.answers?.length, 40);
  });

  it('answers FORMERR to bytes that are not a query, ignores responses, and counts and logs queries', () => {
    const responder = new DnsResponder(ZONES);
    const garbage = Buffer.alloc(14, 0xff);
    garbage.writeUInt16BE(0x0100, 2);
    const [formerr] = responder.handle(garbage, 'udp').messages ?? [];
    assert.equal(formerr === undefined ? null : rcodeOf(decode(formerr)), 'FORMERR');
    const response = encode({ id: 1, type: 'response', questions: [{ name: 'example.test', type: 'A' }] });
    assert.equal(responder.handle(response, 'udp').messages, null);
    ask(responder, 'example.test', 'MX', 'tcp');
    assert.equal(responder.queries, 2);
    assert.deepEqual(responder.log, [{ name: 'example.test', type: 'MX', transport: 'tcp' }]);
  });

  it('refuses a bad table at start and on setZones(), naming the entry', () => {
    assert.throws(() => new DnsResponder({ 'x.test': { A: ['not-an-ip'] } }), /"x\.test": A "not-an-ip"/);
    const responder = new DnsResponder(ZONES);
    assert.throws(() => {
      responder.setZones({ 'y.test': { CNAME: 'z.test', A: ['127.0.0.1'] } });
    }, /CNAME cannot have other records/);
    assert.equal(rcodeOf(ask(responder, 'example.test', 'MX')[0]), 'NOERROR');
  });
});
