/**
 * `decideReason()` (src/decide/decide.ts) with the classification the scheduler made where the reply
 * arrived, before it knew whether the domain's random address would be accepted: the reason is the
 * one a fresh reading with all the evidence gives, whether that reading was needed or not.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { classifyReply, readsOtherRecipients } from '../../../src/classify/index.js';
import { decideReason, type AddressEvidence } from '../../../src/decide/index.js';
import type { SmtpReplyInfo } from '../../../src/types.js';

const FLAGS = { role: false, free: false, disposable: false, catchAll: false };

function evidence(reply: SmtpReplyInfo, otherRecipientAccepted: boolean): AddressEvidence {
  return {
    reply,
    // As the scheduler reads it: without the evidence of another recipient.
    classification: classifyReply(reply),
    failure: null,
    provider: null,
    otherRecipientAccepted,
    catchAll: null,
    flags: FLAGS,
    timedOut: false,
  };
}

const replies: SmtpReplyInfo[] = [
  { stage: 'rcpt', code: 250, enhanced: '2.1.5', text: 'Ok' },
  { stage: 'rcpt', code: 550, enhanced: null, text: 'Requested action not taken: mailbox unavailable' },
  { stage: 'rcpt', code: 550, enhanced: '5.1.1', text: 'User unknown' },
  { stage: 'rcpt', code: 450, enhanced: '4.2.0', text: 'Greylisted' },
  { stage: 'rcpt', code: 550, enhanced: '5.7.1', text: 'mailbox unavailable: policy' },
];

describe('decideReason() with a classification made before the catch-all reply', () => {
  it('reads the ambiguous "mailbox unavailable" again once another recipient was accepted', () => {
    const ambiguous = replies[1] as SmtpReplyInfo;
    assert.equal(decideReason(evidence(ambiguous, false)).reason, 'unexpected_reply');
    assert.equal(decideReason(evidence(ambiguous, true)).reason, 'mailbox_not_found');
  });

  it('gives every reply the reason a full reading gives, with the evidence or without', () => {
    for (const reply of replies) {
      for (const other of [false, true]) {
        const fresh = classifyReply(reply, { otherRecipientAccepted: other }).reason;
        assert.equal(
          decideReason(evidence(reply, other)).reason,
          fresh,
          `${reply.code} ${reply.text} ${other}`,
        );
      }
    }
    // The 250 and the 450 are among the replies whose reading the evidence cannot change.
    assert.deepEqual(
      replies.map((reply) => readsOtherRecipients(reply)),
      [false, true, true, false, true],
    );
  });
});
