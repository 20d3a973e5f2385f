import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  MAX_RETRY_AFTER_MS,
  REPLY_RULES,
  classifyReply,
  effectiveEnhancedCode,
  readsOtherRecipients,
  type ClassifyContext,
} from '../../../src/classify/index.js';
import type { ReplyRule } from '../../../src/classify/classification.js';
import { PROVIDER_RULES, type ProviderRule } from '../../../src/providers/index.js';
import { REASONS, SMTP_STAGES, type SmtpReplyInfo } from '../../../src/types.js';
import { REPLY_LINES } from '../../fixtures/replies/reply-lines.js';

const SEED = 20261128;
const RUNS = 3000;

/** Real reply texts (codes stripped) to recombine, so the generator reaches the rules, not only noise. */
const REAL_TEXTS = REPLY_LINES.map((entry) =>
  entry.line.replace(/^\d{3}[ -]?(?:\d\.\d{1,3}\.\d{1,3} ?)?/gm, ''),
);

/** Wording that names a blocklist or a refused sender: whatever surrounds it, never "user unknown". */
const SENDER_PHRASES = [
  'blocked using zen.spamhaus.org',
  'Client host [192.0.2.1] blocked using Spamhaus',
  'Helo domain is listed in Spamhaus (S8001)',
  'Relay access denied',
  'Sender address rejected: Access denied',
  'Sender verify failed',
  'Access denied, banned sending IP [192.0.2.1]',
  'part of their network is on our block list (S3150)',
  'blocked using prs.proofpoint.com',
  'IP address is block listed',
  'Bad DNS PTR resource record',
  'not authorized to send email directly to our servers',
];

const text = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom(...REAL_TEXTS),
  fc
    .tuple(fc.constantFrom(...REAL_TEXTS), fc.string({ maxLength: 40 }), fc.constantFrom(...REAL_TEXTS))
    .map(([a, b, c]) => `${a}${b}\n${c}`),
);

const enhanced = fc.option(
  fc.oneof(
    fc
      .tuple(fc.constantFrom(2, 4, 5), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 999 }))
      .map(([c, s, d]) => `${c}.${s}.${d}`),
    fc.string({ maxLength: 12 }),
  ),
  { nil: null },
);

const code = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 200, max: 599 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.constantFrom(421, 450, 451, 452, 550, 551, 552, 553, 554, 556, 521) },
);

const reply: fc.Arbitrary<SmtpReplyInfo> = fc.record({
  stage: fc.constantFrom(...SMTP_STAGES),
  code,
  enhanced,
  text,
});

const context: fc.Arbitrary<ClassifyContext> = fc.record({
  provider: fc.option(fc.constantFrom(...(PROVIDER_RULES as readonly ProviderRule[])), { nil: null }),
  otherRecipientAccepted: fc.boolean(),
});

const MAILBOX_REASONS: readonly string[] = [
  'mailbox_not_found',
  'mailbox_disabled',
  'mailbox_full',
  'accepted',
];

/**
 * The first rule of the table whose every condition holds, walking all of them in order: what
 * classifyReply() did before it kept, per stage and code, the rules whose stage, class and code
 * conditions can hold (the answer must not change with that shortcut).
 */
function firstRuleByWalk(r: SmtpReplyInfo, c: ClassifyContext): string {
  const rawText = r.text.slice(0, 4096);
  const text = rawText.replace(/\s+/g, ' ').trim();
  const enhancedCode = effectiveEnhancedCode({ code: r.code, enhanced: r.enhanced, text: rawText });
  const rule = (REPLY_RULES as readonly ReplyRule[]).find(
    (candidate) =>
      (candidate.stages === undefined || candidate.stages.includes(r.stage)) &&
      (candidate.classes === undefined ||
        (candidate.classes as readonly number[]).includes(Math.floor(r.code / 100))) &&
      (candidate.codes === undefined || candidate.codes.includes(r.code)) &&
      (candidate.providers === undefined ||
        (c.provider != null && (candidate.providers as readonly string[]).includes(c.provider.id))) &&
      (candidate.requires !== 'otherRecipientAccepted' || c.otherRecipientAccepted === true) &&
      (candidate.enhanced === undefined ||
        (enhancedCode !== null && candidate.enhanced.test(enhancedCode.subjectDetail))) &&
      (candidate.unlessEnhanced === undefined ||
        enhancedCode === null ||
        !candidate.unlessEnhanced.test(enhancedCode.subjectDetail)) &&
      (candidate.text === undefined || candidate.text.test(text)) &&
      candidate.unlessText?.test(text) !== true,
  );
  return rule?.id ?? 'unrecognised';
}

describe('classifyReply (seeded properties)', () => {
  it('picks the rule a walk over the whole table picks (the per-stage-and-code shortcut changes nothing)', () => {
    fc.assert(
      fc.property(reply, context, (r, c) => {
        if (!Number.isInteger(r.code) || r.code < 200 || r.code > 599) return;
        assert.equal(classifyReply(r, c).rule, firstRuleByWalk(r, c), `${r.stage} ${r.code} ${r.text}`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('never throws, and the verdict always belongs to the reason', () => {
    fc.assert(
      fc.property(reply, context, (r, c) => {
        const result = classifyReply(r, c);
        assert.equal(result.verdict, REASONS[result.reason]);
        assert.ok(result.rule.length > 0);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('never makes a 4xx undeliverable', () => {
    fc.assert(
      fc.property(reply, context, fc.integer({ min: 400, max: 499 }), (r, c, transient) => {
        const result = classifyReply({ ...r, code: transient }, c);
        assert.notEqual(result.verdict, 'undeliverable', `${transient} ${r.text} → ${result.rule}`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('never speaks about a mailbox outside RCPT (and DATA, its per-recipient reply)', () => {
    const stages = SMTP_STAGES.filter((stage) => stage !== 'rcpt' && stage !== 'data');
    fc.assert(
      fc.property(reply, context, fc.constantFrom(...stages), (r, c, stage) => {
        const result = classifyReply({ ...r, stage }, c);
        assert.ok(!MAILBOX_REASONS.includes(result.reason), `${stage} ${r.code} ${r.text} → ${result.rule}`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('calls an address deliverable only for 250/251 at RCPT (or 250 after DATA)', () => {
    fc.assert(
      fc.property(reply, context, (r, c) => {
        const result = classifyReply(r, c);
        if (result.verdict === 'deliverable') {
          if (r.stage === 'data') assert.equal(r.code, 250);
          else assert.equal(r.stage, 'rcpt');
          assert.ok(r.code === 250 || r.code === 251);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('never reads a reply that names a blocklist or a refused sender as "mailbox not found"', () => {
    fc.assert(
      fc.property(
        reply,
        context,
        fc.constantFrom(...SENDER_PHRASES),
        fc.boolean(),
        (r, c, phrase, before) => {
          const withPhrase = before ? `${phrase} ${r.text}` : `${r.text.split('\n', 1)[0] ?? ''} ${phrase}`;
          const result = classifyReply({ ...r, text: withPhrase.slice(0, 3000) }, c);
          assert.notEqual(result.reason, 'mailbox_not_found', `${withPhrase} → ${result.rule}`);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('says which replies session evidence can change, so a reading without it stands for the others', () => {
    fc.assert(
      fc.property(reply, context, (r, c) => {
        if (readsOtherRecipients(r)) return;
        assert.deepEqual(
          classifyReply(r, { ...c, otherRecipientAccepted: true }),
          classifyReply(r, { ...c, otherRecipientAccepted: false }),
          `${r.stage} ${r.code} ${r.text}`,
        );
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // And it is not blind: the ambiguous text at RCPT is read again with the evidence.
    const ambiguous: SmtpReplyInfo = {
      stage: 'rcpt',
      code: 550,
      enhanced: null,
      text: 'Mailbox unavailable',
    };
    assert.ok(readsOtherRecipients(ambiguous));
    assert.ok(!readsOtherRecipients({ stage: 'rcpt', code: 250 }));
    assert.ok(!readsOtherRecipients({ stage: 'rcpt', code: 450 }));
  });

  it('uses session evidence only to settle the ambiguous "mailbox unavailable" text', () => {
    fc.assert(
      fc.property(reply, context, (r, c) => {
        const without = classifyReply(r, { ...c, otherRecipientAccepted: false });
        const withEvidence = classifyReply(r, { ...c, otherRecipientAccepted: true });
        if (without.reason !== withEvidence.reason) {
          assert.equal(without.rule, 'mailbox-unavailable-ambiguous');
          assert.equal(withEvidence.rule, 'mailbox-unavailable-confirmed');
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('gives retry hints only for deferrals, within bounds', () => {
    fc.assert(
      fc.property(reply, context, (r, c) => {
        const result = classifyReply(r, c);
        if (result.retryAfterMs !== null) {
          assert.ok(result.reason === 'greylisted' || result.reason === 'rate_limited');
          assert.ok(result.retryAfterMs > 0 && result.retryAfterMs <= MAX_RETRY_AFTER_MS);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('is deterministic: the same reply gives the same answer, whatever came before', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(reply, context), { minLength: 2, maxLength: 6 }), (pairs) => {
        const first = pairs.map(([r, c]) => classifyReply(r, c));
        const second = [...pairs]
          .reverse()
          .map(([r, c]) => classifyReply(r, c))
          .reverse();
        assert.deepEqual(second, first);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
