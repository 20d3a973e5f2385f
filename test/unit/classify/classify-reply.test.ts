import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  REPLY_RULES,
  classifyReply,
  isAccepted,
  isGreylisting,
  isTransient,
  shouldBackOff,
  type ClassifyContext,
} from '../../../src/classify/index.js';
import { providerById } from '../../../src/providers/index.js';
import { ReplyParser } from '../../../src/smtp/reply-parser.js';
import { REASONS, type SmtpReplyInfo, type SmtpStage } from '../../../src/types.js';
import {
  REPLY_LINES,
  SYNTHETIC_LINES as SYNTHETIC,
  type ReplyLine,
} from '../../fixtures/replies/reply-lines.js';

/** Turns a reply as written on the wire into what the prober reports, through the real parser. */
function toReply(stage: SmtpStage, wire: string): SmtpReplyInfo {
  const parser = new ReplyParser();
  const bytes = new TextEncoder().encode(`${wire.split('\n').join('\r\n')}\r\n`);
  const { replies, error } = parser.write(bytes);
  assert.equal(error, null, `the parser refused ${JSON.stringify(wire)}: ${error?.message ?? ''}`);
  assert.equal(replies.length, 1, `expected one reply in ${JSON.stringify(wire)}`);
  const reply = replies[0]!;
  return { stage, code: reply.code, enhanced: reply.enhanced, text: reply.text };
}

function contextOf(entry: Pick<ReplyLine, 'provider' | 'otherAccepted'>): ClassifyContext {
  const provider = entry.provider === undefined ? null : providerById(entry.provider);
  if (entry.provider !== undefined) assert.notEqual(provider, null, `unknown provider ${entry.provider}`);
  return { provider, otherRecipientAccepted: entry.otherAccepted === true };
}

describe('classifyReply: the table of real reply lines', () => {
  it('has at least 150 real lines, each with a source', () => {
    assert.ok(REPLY_LINES.length >= 150, `only ${REPLY_LINES.length} lines`);
    for (const entry of REPLY_LINES) assert.ok(entry.source.length > 0, entry.line);
  });

  for (const entry of [...REPLY_LINES, ...SYNTHETIC]) {
    const label = `${entry.stage} ${entry.line.split('\n').join(' | ').slice(0, 110)}${entry.provider === undefined ? '' : ` [${entry.provider}]`}${entry.otherAccepted === true ? ' [other accepted]' : ''}`;
    it(label, () => {
      const result = classifyReply(toReply(entry.stage, entry.line), contextOf(entry));
      assert.equal(result.reason, entry.reason, `rule ${result.rule} (${entry.source})`);
      assert.equal(result.verdict, REASONS[entry.reason]);
      if (entry.rule !== undefined) assert.equal(result.rule, entry.rule, entry.source);
      if (entry.retryAfterMs !== undefined) assert.equal(result.retryAfterMs, entry.retryAfterMs);
      if (entry.notUserUnknown === true) {
        assert.notEqual(result.reason, 'mailbox_not_found');
        assert.notEqual(result.verdict, 'undeliverable');
      }
    });
  }

  it('reaches every rule of REPLY_RULES', () => {
    const reached = new Set(
      [...REPLY_LINES, ...SYNTHETIC].map(
        (entry) => classifyReply(toReply(entry.stage, entry.line), contextOf(entry)).rule,
      ),
    );
    const unreached = REPLY_RULES.map((rule) => rule.id).filter((id) => !reached.has(id));
    assert.deepEqual(unreached, []);
  });

  it('covers every verdict and the reasons a reply can give', () => {
    const reasons = new Set(REPLY_LINES.map((entry) => entry.reason));
    for (const reason of [
      'accepted',
      'accept_all_provider',
      'mailbox_not_found',
      'mailbox_disabled',
      'mailbox_full',
      'domain_rejects_mail',
      'greylisted',
      'rate_limited',
      'sender_blocked',
      'tls_error',
      'protocol_error',
      'unexpected_reply',
    ] as const) {
      assert.ok(reasons.has(reason), reason);
    }
  });
});

describe('classifyReply: rule table hygiene', () => {
  it('gives every rule a unique id', () => {
    const ids = REPLY_RULES.map((rule) => rule.id);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('uses no stateful (g/y) regular expressions', () => {
    for (const rule of REPLY_RULES) {
      for (const pattern of Object.values(rule).filter((value) => value instanceof RegExp)) {
        assert.ok(!pattern.global && !pattern.sticky, `${rule.id}: ${String(pattern)}`);
      }
    }
  });

  it('lets only RCPT-stage 5xx rules decide undeliverable reasons', () => {
    for (const rule of REPLY_RULES) {
      const reason: string = rule.reason;
      if (REASONS[rule.reason] !== 'undeliverable') continue;
      const stages: readonly string[] | undefined = 'stages' in rule ? rule.stages : undefined;
      const classes: readonly number[] | undefined = 'classes' in rule ? rule.classes : undefined;
      const codes: readonly number[] | undefined = 'codes' in rule ? rule.codes : undefined;
      assert.ok(stages !== undefined, `${rule.id} (${reason}) must name its stages`);
      // DATA answers for the recipients too (a per-recipient reply after the message); verify never reaches it.
      if (reason !== 'domain_rejects_mail') assert.deepEqual(stages, ['rcpt', 'data'], rule.id);
      const fiveOnly =
        (classes !== undefined && classes.every((c) => c === 5)) ||
        (codes !== undefined && codes.every((c) => c >= 500 && c <= 599));
      assert.ok(fiveOnly, `${rule.id} (${reason}) must be limited to 5xx`);
    }
  });
});

describe('classifyReply: context and odd input', () => {
  const unavailable: SmtpReplyInfo = {
    stage: 'rcpt',
    code: 550,
    enhanced: null,
    text: 'Requested action not taken: mailbox unavailable',
  };

  it('decides the ambiguous text only with evidence from the session', () => {
    assert.equal(classifyReply(unavailable).reason, 'unexpected_reply');
    assert.equal(classifyReply(unavailable, { otherRecipientAccepted: false }).reason, 'unexpected_reply');
    assert.equal(classifyReply(unavailable, { otherRecipientAccepted: true }).reason, 'mailbox_not_found');
  });

  it('does not let session evidence override a policy code', () => {
    const policy = { ...unavailable, enhanced: '5.7.1' };
    assert.equal(classifyReply(policy, { otherRecipientAccepted: true }).reason, 'sender_blocked');
    const moved = { ...unavailable, enhanced: '5.5.0' };
    assert.equal(classifyReply(moved, { otherRecipientAccepted: true }).reason, 'mailbox_not_found');
  });

  it('applies provider rules only for that provider', () => {
    const withEnhanced = { ...unavailable, enhanced: '5.5.0' };
    assert.equal(
      classifyReply(withEnhanced, { provider: providerById('outlook') }).reason,
      'mailbox_not_found',
    );
    assert.equal(classifyReply(withEnhanced, { provider: providerById('gmx') }).reason, 'unexpected_reply');
    assert.equal(classifyReply(withEnhanced, { provider: null }).reason, 'unexpected_reply');
  });

  it('ignores an enhanced code whose class disagrees with the reply code (RFC 3463 §2)', () => {
    const result = classifyReply({ stage: 'rcpt', code: 450, enhanced: '5.1.1', text: '' });
    assert.equal(result.verdict, 'unknown');
    const mislabelled = classifyReply({ stage: 'rcpt', code: 550, enhanced: '4.2.2', text: 'x' });
    assert.notEqual(mislabelled.reason, 'mailbox_full');
  });

  it('finds the enhanced code inside the text when the parser could not', () => {
    const result = classifyReply({
      stage: 'rcpt',
      code: 550,
      enhanced: null,
      text: 'cuda_nsu 5.1.1 <a@b>... No',
    });
    assert.equal(result.rule, 'mailbox-not-found-code');
    const ip = classifyReply({ stage: 'rcpt', code: 550, enhanced: null, text: 'from 5.1.1.9 refused' });
    assert.equal(ip.rule, 'permanent-other');
  });

  it('reports codes outside 200–599 as protocol errors', () => {
    for (const code of [0, 199, 600, 999, -550, 550.5, Number.NaN]) {
      const result = classifyReply({ stage: 'rcpt', code, enhanced: null, text: 'User unknown' });
      assert.equal(result.reason, 'protocol_error', String(code));
      assert.equal(result.rule, 'code-out-of-range');
    }
  });

  it('survives replies rebuilt from untyped JSON', () => {
    const reply = JSON.parse('{"stage":"rcpt","code":550,"enhanced":5,"text":null}') as SmtpReplyInfo;
    assert.equal(classifyReply(reply).reason, 'unexpected_reply');
    const odd = JSON.parse(
      '{"stage":"banana","code":550,"enhanced":"5.1.1","text":"User unknown"}',
    ) as SmtpReplyInfo;
    assert.notEqual(classifyReply(odd).reason, 'mailbox_not_found');
  });

  it('bounds the work on a huge reply text', () => {
    const text = `${'a'.repeat(60_000)} User unknown`;
    const started = performance.now();
    const result = classifyReply({ stage: 'rcpt', code: 550, enhanced: null, text });
    assert.ok(performance.now() - started < 200);
    // The words past the bound are not read: a hostile reply cannot steer the verdict with padding.
    assert.equal(result.reason, 'unexpected_reply');
  });
});

describe('classifyReply: back-off and retry hints', () => {
  const at = (code: number, enhanced: string | null, text: string): SmtpReplyInfo => ({
    stage: 'rcpt',
    code,
    enhanced,
    text,
  });

  it('backs off on 421, 4.7.x, rate limits and sender blocks', () => {
    assert.equal(classifyReply(at(421, null, 'closing')).backOff, true);
    assert.equal(classifyReply(at(451, '4.7.1', 'Greylisted for 5 minutes')).backOff, true);
    assert.equal(classifyReply(at(452, '4.5.3', 'Too many recipients')).backOff, true);
    assert.equal(classifyReply(at(550, '5.7.1', 'blocked using Spamhaus')).backOff, true);
    assert.equal(classifyReply(at(450, '4.2.0', 'Greylisted, see http://postgrey')).backOff, false);
    assert.equal(classifyReply(at(550, '5.1.1', 'User unknown')).backOff, false);
    assert.equal(classifyReply(at(250, '2.1.5', 'OK')).backOff, false);
  });

  it('reads the window of a greylisting or rate-limit reply, and only of those', () => {
    assert.equal(
      classifyReply(at(451, null, 'Greylisted, please try again in 60 seconds')).retryAfterMs,
      60_000,
    );
    assert.equal(
      classifyReply(at(450, null, 'Rate limit exceeded, retry in 2 minutes')).retryAfterMs,
      120_000,
    );
    assert.equal(classifyReply(at(550, '5.1.1', 'User unknown for 5 minutes')).retryAfterMs, null);
  });

  it('exposes the helpers the verifier and scheduler use', () => {
    assert.equal(isAccepted({ stage: 'rcpt', code: 250 }), true);
    assert.equal(isAccepted({ stage: 'rcpt', code: 251 }), true);
    assert.equal(isAccepted({ stage: 'rcpt', code: 252 }), false);
    assert.equal(isAccepted({ stage: 'mail', code: 250 }), false);
    assert.equal(isTransient({ code: 451 }), true);
    assert.equal(isTransient({ code: 550 }), false);
    assert.equal(isGreylisting(at(450, '4.2.0', 'Greylisted')), true);
    assert.equal(isGreylisting(at(550, '5.1.1', 'Greylisted')), false);
    assert.equal(shouldBackOff(at(421, null, 'bye')), true);
    assert.equal(shouldBackOff(at(550, '5.1.1', 'User unknown')), false);
  });
});
