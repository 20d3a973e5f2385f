/**
 * classifyReply() tries a reply only against the rules its stage, code and enhanced code can meet (an
 * index built on first use), and skips a run of rules that read only the text with one search of their
 * alternation. Whatever the index, the rule that decides must be the first rule of the
 * table, walked from the top with every condition, that matches: checked here for every reply line of
 * the fixtures (the real lines, the synthetic ones, the lab's recordings), each also at every stage,
 * under other codes of its class and the other class, without its enhanced code and with others, with
 * and without a provider and another recipient accepted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  REPLY_RULES,
  classifyReply,
  type ClassifyContext,
  type ReplyRule,
} from '../../../src/classify/index.js';
import { replyFacts, ruleMatches } from '../../../src/classify/classify-reply.js';
import { providerById, type ProviderId } from '../../../src/providers/index.js';
import { ReplyParser } from '../../../src/smtp/reply-parser.js';
import { SMTP_STAGES, type SmtpReplyInfo, type SmtpStage } from '../../../src/types.js';
import { REPLY_LINES, SYNTHETIC_LINES } from '../../fixtures/replies/reply-lines.js';
import type { LabFixtures } from '../../lab/record-fixtures.js';

const RULES: readonly ReplyRule[] = REPLY_RULES;

/** The rule the table gives `reply`, walked from the top without any index. */
function linearRule(reply: SmtpReplyInfo, context: ClassifyContext): string {
  const facts = replyFacts(reply, context);
  return RULES.find((rule) => ruleMatches(rule, facts))?.id ?? 'unrecognised';
}

function parse(wire: string): { code: number; enhanced: string | null; text: string } {
  const { replies, error } = new ReplyParser().write(
    new TextEncoder().encode(`${wire.split('\n').join('\r\n')}\r\n`),
  );
  assert.equal(error, null, wire);
  const [reply] = replies;
  assert.ok(reply !== undefined && replies.length === 1, wire);
  return { code: reply.code, enhanced: reply.enhanced, text: reply.text };
}

const LAB = JSON.parse(
  readFileSync(new URL('../../fixtures/lab/replies.json', import.meta.url), 'utf8'),
) as LabFixtures;

const FIXTURES: { stage: SmtpStage; wire: string; provider?: ProviderId; otherAccepted?: boolean }[] = [
  ...[...REPLY_LINES, ...SYNTHETIC_LINES].map((entry) => ({
    stage: entry.stage,
    wire: entry.line,
    ...(entry.provider === undefined ? {} : { provider: entry.provider }),
    ...(entry.otherAccepted === undefined ? {} : { otherAccepted: entry.otherAccepted }),
  })),
  ...LAB.replies.map((reply) => ({ stage: reply.stage, wire: reply.wire.join('\n') })),
];

/** Every provider a rule names. */
const RULE_PROVIDERS = [...new Set(RULES.flatMap((rule) => rule.providers ?? []))];

describe('classifyReply: the rule index', () => {
  it('has the fixtures to check (real, synthetic and lab lines)', () => {
    assert.ok(FIXTURES.length >= 200, `only ${FIXTURES.length} lines`);
    assert.ok(RULE_PROVIDERS.length > 0);
  });

  it('no rule regex keeps state between calls (no g or y flag), so the order rules are tried in cannot matter', () => {
    for (const rule of RULES) {
      for (const pattern of [rule.text, rule.unlessText, rule.enhanced, rule.unlessEnhanced]) {
        if (pattern === undefined) continue;
        assert.ok(!pattern.global && !pattern.sticky, `${rule.id}: /${pattern.source}/${pattern.flags}`);
      }
    }
  });

  it('decides by the same rule as the table walked from the top, for every fixture line as it is', () => {
    let unknown = 0;
    for (const { stage, wire, provider, otherAccepted } of FIXTURES) {
      const parsed = parse(wire);
      const reply: SmtpReplyInfo = { stage, ...parsed };
      const context: ClassifyContext = {
        provider: provider === undefined ? null : providerById(provider),
        otherRecipientAccepted: otherAccepted === true,
      };
      const expected = linearRule(reply, context);
      if (expected === 'unrecognised') unknown += 1;
      assert.equal(classifyReply(reply, context).rule, expected, `${stage} ${wire}`);
    }
    // The check reaches rules: nearly every fixture line is recognised.
    assert.ok(unknown < FIXTURES.length / 10, `${unknown} lines unrecognised`);
  });

  it('and at every stage, under other codes and enhanced codes, with and without a provider', () => {
    let checked = 0;
    const decided = new Set<string>();
    for (const { wire, provider } of FIXTURES) {
      const parsed = parse(wire);
      const first = Math.floor(parsed.code / 100);
      const codes = [parsed.code, first === 5 ? 450 : 550, first === 5 ? 421 : 554];
      for (const code of codes) {
        const replyClass = Math.floor(code / 100);
        // As parsed (its class may now disagree, and then it is ignored), none, and a common one.
        const common = [`${replyClass}.1.1`, `${replyClass}.7.1`, `${replyClass}.2.2`][checked % 3];
        for (const enhanced of [parsed.enhanced, null, common ?? null]) {
          for (const stage of SMTP_STAGES) {
            const reply: SmtpReplyInfo = { stage, code, enhanced, text: parsed.text };
            // The line's own provider or none, and one a rule names, in turn; another recipient
            // accepted or not, in turn.
            const id = checked % 2 === 0 ? provider : RULE_PROVIDERS[(checked >> 1) % RULE_PROVIDERS.length];
            const context: ClassifyContext = {
              provider: id === undefined ? null : providerById(id),
              otherRecipientAccepted: (checked >> 2) % 2 === 1,
            };
            const expected = linearRule(reply, context);
            decided.add(expected);
            assert.equal(
              classifyReply(reply, context).rule,
              expected,
              `${stage} ${code} ${enhanced ?? '-'} ${id ?? '-'} ${parsed.text}`,
            );
            checked += 1;
          }
        }
      }
    }
    assert.ok(checked > 10_000, `only ${checked} replies checked`);
    // The variants reach most of the table.
    assert.ok(decided.size >= RULES.length * 0.8, `${decided.size} of ${RULES.length} rules decided`);
  });

  it('past the enhanced codes it keeps for one stage and code, decides as the table does', () => {
    const text = 'Recipient address rejected: User unknown in virtual mailbox table';
    for (let subject = 0; subject < 8; subject += 1) {
      for (let detail = 0; detail < 30; detail += 1) {
        const reply: SmtpReplyInfo = { stage: 'rcpt', code: 550, enhanced: `5.${subject}.${detail}`, text };
        assert.equal(classifyReply(reply).rule, linearRule(reply, {}), reply.enhanced ?? '');
      }
    }
  });
});
