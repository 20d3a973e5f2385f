/**
 * The classifier against reply lines recorded from the real-MTA lab (Postfix, postgrey, Exim,
 * OpenSMTPD from Debian 12; test/lab/record-fixtures.ts wrote test/fixtures/lab/replies.json). Needs
 * no lab: the lines are data. Each goes through the real reply parser first, in one chunk and byte by
 * byte, as the prober would read it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { classifyReply, type Classification } from '../../../src/classify/index.js';
import { matchProvider } from '../../../src/providers/index.js';
import { ReplyParser, type SmtpReply } from '../../../src/smtp/reply-parser.js';
import type { Reason } from '../../../src/types.js';
import type { LabFixtures, LabReply } from '../../lab/record-fixtures.js';

const FIXTURES = JSON.parse(
  readFileSync(new URL('../../fixtures/lab/replies.json', import.meta.url), 'utf8'),
) as LabFixtures;

interface Expectation {
  readonly reason: Reason;
  /** The classifier asks the scheduler to slow down towards the host. */
  readonly backOff?: boolean;
}

/** What each recorded RCPT reply must mean. Every recorded reply but the greetings is listed. */
const EXPECTED: Readonly<Record<string, Expectation>> = {
  'postfix-rcpt-known': { reason: 'accepted' },
  'postfix-rcpt-role': { reason: 'accepted' },
  // "550 5.1.1 <bob@pf.test>: Recipient address rejected: User unknown in virtual mailbox table"
  'postfix-rcpt-unknown': { reason: 'mailbox_not_found' },
  // "554 5.7.1 …: Relay access denied" is about us (we asked it to relay), never about a mailbox.
  'postfix-rcpt-relay-denied': { reason: 'sender_blocked', backOff: true },
  // smtpd_hard_error_limit: "421 4.7.0 mx.pf.test Error: too many errors", then the server hangs up.
  'postfix-too-many-errors': { reason: 'rate_limited', backOff: true },
  'postfix-catchall-rcpt-any': { reason: 'accepted' },
  // postgrey's DEFER_IF_PERMIT through Postfix: "450 4.2.0 …: Recipient address rejected: Greylisted, see …"
  'postgrey-rcpt-greylisted': { reason: 'greylisted', backOff: false },
  'postgrey-rcpt-unknown': { reason: 'mailbox_not_found' },
  'exim-rcpt-known': { reason: 'accepted' },
  'exim-rcpt-role': { reason: 'accepted' },
  // Exim's "verify = recipient" failure: no enhanced code, its own wording.
  'exim-rcpt-unknown': { reason: 'mailbox_not_found' },
  'opensmtpd-rcpt-known': { reason: 'accepted' },
  'opensmtpd-rcpt-role': { reason: 'accepted' },
  // OpenSMTPD when no rule matches the recipient: "550 Invalid recipient: <…>", no enhanced code.
  'opensmtpd-rcpt-unknown': { reason: 'mailbox_not_found' },
};

function parse(wire: readonly string[], byteByByte: boolean): SmtpReply {
  const parser = new ReplyParser();
  const bytes = new TextEncoder().encode(`${wire.join('\r\n')}\r\n`);
  const chunks = byteByByte ? Array.from(bytes, (byte) => Uint8Array.of(byte)) : [bytes];
  const replies: SmtpReply[] = [];
  for (const chunk of chunks) {
    const { replies: out, error } = parser.write(chunk);
    assert.equal(error, null, `the parser refused ${JSON.stringify(wire)}`);
    replies.push(...out);
  }
  assert.equal(replies.length, 1, `expected one reply in ${JSON.stringify(wire)}`);
  return replies[0]!;
}

function classify(entry: LabReply): Classification {
  const reply = parse(entry.wire, false);
  assert.deepEqual(parse(entry.wire, true), reply, `${entry.id}: byte by byte`);
  return classifyReply({ stage: entry.stage, code: reply.code, enhanced: reply.enhanced, text: reply.text });
}

describe('reply lines recorded from the real-MTA lab', () => {
  it('were recorded by the lab script from every server', () => {
    assert.equal(FIXTURES.recordedBy, 'test/lab/record-fixtures.ts');
    for (const server of ['postfix', 'postgrey', 'exim', 'opensmtpd']) {
      assert.ok(
        FIXTURES.replies.some((r) => r.server === server),
        `no replies from ${server}`,
      );
    }
    const ids = FIXTURES.replies.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'duplicate ids');
    const unclassified = FIXTURES.replies.filter((r) => r.stage !== 'greeting' && !(r.id in EXPECTED));
    assert.deepEqual(
      unclassified.map((r) => r.id),
      [],
      'recorded replies without an expectation',
    );
    const missing = Object.keys(EXPECTED).filter((id) => !ids.includes(id));
    assert.deepEqual(missing, [], 'expectations without a recorded reply');
  });

  for (const entry of FIXTURES.replies.filter((r) => r.id in EXPECTED)) {
    const expected = EXPECTED[entry.id]!;
    it(`${entry.id}: ${entry.wire.join(' / ')} → ${expected.reason}`, () => {
      const classification = classify(entry);
      assert.equal(classification.reason, expected.reason, `rule ${classification.rule}`);
      if (expected.backOff !== undefined) assert.equal(classification.backOff, expected.backOff);
    });
  }

  it('a 4xx from a real server is never undeliverable, at any stage', () => {
    for (const entry of FIXTURES.replies.filter((r) => r.wire[0]?.startsWith('4') === true)) {
      for (const stage of ['greeting', 'ehlo', 'mail', 'rcpt', 'rset'] as const) {
        const classification = classify({ ...entry, stage });
        assert.notEqual(classification.verdict, 'undeliverable', `${entry.id} at ${stage}`);
      }
    }
  });

  it('greetings are 220s that name their host, and no provider rule claims them', () => {
    const greetings = FIXTURES.replies.filter((r) => r.stage === 'greeting');
    assert.equal(greetings.length, 5);
    for (const entry of greetings) {
      const reply = parse(entry.wire, false);
      assert.equal(reply.code, 220, entry.id);
      assert.match(reply.text, /^mx\.[a-z]+\.test ESMTP /, entry.id);
      assert.equal(matchProvider({ mxHost: null, banner: reply.text }), null, entry.id);
    }
  });
});
