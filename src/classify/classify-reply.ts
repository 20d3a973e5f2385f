/**
 * Reply → verdict (docs/verdicts.md): walks the ordered rule table of reply-rules.ts. Total and pure: any
 * reply, however odd, gets a classification; nothing throws.
 */
import { SMTP_STAGES, verdictOf, type SmtpReplyInfo } from '../types.js';
import type { Classification, ClassifyContext, ReplyClass, ReplyRule } from './classification.js';
import { effectiveEnhancedCode, type EnhancedCode } from './enhanced-code.js';
import { OUTSIDE_RULES, REPLY_RULES } from './reply-rules.js';
import { parseRetryAfterMs } from './retry-after.js';

/** Widened once, so optional conditions read as optional whatever each literal rule declares. */
const RULES: readonly ReplyRule[] = REPLY_RULES;

/**
 * Rules match the start of a reply; a hostile server may send 64 KiB (the parser's cap). Bounding the
 * text keeps every regular expression's work small.
 */
const MAX_TEXT_CHARS = 4096;

/** What the rules read of a reply and its context, worked out once per reply. */
export interface ReplyFacts {
  readonly stage: SmtpReplyInfo['stage'];
  readonly code: number;
  readonly replyClass: ReplyClass;
  readonly enhanced: EnhancedCode | null;
  readonly text: string;
  readonly providerId: string | null;
  readonly otherRecipientAccepted: boolean;
}

/** Enhanced codes kept per stage and code (a hostile server could send a million distinct ones). */
const MAX_ENHANCED_KEYS = 64;

/**
 * The rules whose stage, class and code conditions replies of one stage and code meet, in table
 * order, and of those, by the reply's enhanced code (`subject.detail`, `''` for none), the ones whose
 * enhanced-code conditions it meets too: a `550 5.1.1` is tried only against rules that can match it
 * (a third fewer than by code alone; the rest need its text). Built on first use of each.
 */
class CodeCandidates {
  readonly rules: readonly ReplyRule[];
  readonly #byEnhanced = new Map<string, readonly RuleRun[]>();

  constructor(rules: readonly ReplyRule[]) {
    this.rules = rules;
  }

  forEnhanced(enhanced: EnhancedCode | null): readonly RuleRun[] {
    const subjectDetail = enhanced === null ? null : enhanced.subjectDetail;
    const key = subjectDetail ?? '';
    let runs = this.#byEnhanced.get(key);
    if (runs === undefined) {
      runs = ruleRuns(this.rules.filter((rule) => meetsEnhanced(rule, subjectDetail)));
      if (this.#byEnhanced.size < MAX_ENHANCED_KEYS) this.#byEnhanced.set(key, runs);
    }
    return runs;
  }
}

/**
 * Consecutive candidates whose only condition left is their text, with one expression that matches
 * where any of theirs does (their alternation, same flags): a reply that matches none of them is past
 * the whole run in one search instead of one per rule. A `550 5.1.1 … User unknown` meets its rule
 * after dozens that read only its text.
 */
interface RuleRun {
  readonly rules: readonly ReplyRule[];
  /** Matches the text when some rule of `rules` may (`null`: a run of one, tried as it is). */
  readonly anyText: RegExp | null;
}

/**
 * Only a text to match (no provider, evidence or exception; stage, code and enhanced code are met), by
 * an expression that means the same inside an alternation: no state between searches (`g`, `y`), no
 * numbered or named groups referred back to (their numbers would shift), no named groups (a name may
 * occur once per expression).
 */
function textOnly(rule: ReplyRule): rule is ReplyRule & { readonly text: RegExp } {
  const text = rule.text;
  return (
    text !== undefined &&
    rule.providers === undefined &&
    rule.requires === undefined &&
    rule.unlessText === undefined &&
    !text.global &&
    !text.sticky &&
    !/\\[1-9]|\\k<|\(\?<[^=!]/.test(text.source)
  );
}

function ruleRuns(rules: readonly ReplyRule[]): RuleRun[] {
  const runs: RuleRun[] = [];
  let run: (ReplyRule & { readonly text: RegExp })[] = [];
  const close = (): void => {
    if (run.length === 0) return;
    const [first] = run;
    runs.push({
      rules: run,
      anyText:
        run.length === 1 || first === undefined
          ? null
          : new RegExp(run.map((rule) => `(?:${rule.text.source})`).join('|'), first.text.flags),
    });
    run = [];
  };
  for (const rule of rules) {
    if (!textOnly(rule)) {
      close();
      runs.push({ rules: [rule], anyText: null });
      continue;
    }
    const flags = run[0]?.text.flags;
    if (flags !== undefined && flags !== rule.text.flags) close();
    run.push(rule);
  }
  close();
  return runs;
}

/**
 * The candidates of each stage and code, by stage and then by code − 200 (no key string made per
 * reply): at most `SMTP_STAGES` × 400 (`classifyReply` takes codes 200–599 only).
 */
const CANDIDATES = new Map<string, (CodeCandidates | undefined)[]>();

function candidatesFor(stage: SmtpReplyInfo['stage'], code: number): CodeCandidates {
  let byCode = CANDIDATES.get(stage);
  let candidates = byCode?.[code - 200];
  if (candidates === undefined) {
    const replyClass = Math.floor(code / 100) as ReplyClass;
    candidates = new CodeCandidates(
      RULES.filter(
        (rule) =>
          (rule.stages === undefined || rule.stages.includes(stage)) &&
          (rule.classes === undefined || rule.classes.includes(replyClass)) &&
          (rule.codes === undefined || rule.codes.includes(code)),
      ),
    );
    // A stage outside the list (a reply rebuilt from stored JSON) is matched, never kept.
    if ((SMTP_STAGES as readonly string[]).includes(stage)) {
      if (byCode === undefined) {
        byCode = new Array<CodeCandidates | undefined>(400).fill(undefined);
        CANDIDATES.set(stage, byCode);
      }
      byCode[code - 200] = candidates;
    }
  }
  return candidates;
}

/** The rule's enhanced-code conditions, met by a reply whose code is `subjectDetail` (`null`: none). */
function meetsEnhanced(rule: ReplyRule, subjectDetail: string | null): boolean {
  if (rule.enhanced !== undefined && (subjectDetail === null || !rule.enhanced.test(subjectDetail)))
    return false;
  return !(
    rule.unlessEnhanced !== undefined &&
    subjectDetail !== null &&
    rule.unlessEnhanced.test(subjectDetail)
  );
}

/**
 * The rule's conditions beyond stage, class, code and enhanced code (those are met by every rule
 * `CodeCandidates.forEnhanced()` gives).
 */
function meetsRest(rule: ReplyRule, facts: ReplyFacts): boolean {
  if (rule.providers !== undefined) {
    const id = facts.providerId;
    if (id === null || !(rule.providers as readonly string[]).includes(id)) return false;
  }
  if (rule.requires === 'otherRecipientAccepted' && !facts.otherRecipientAccepted) return false;
  if (rule.text !== undefined && !rule.text.test(facts.text)) return false;
  if (rule.unlessText?.test(facts.text) === true) return false;
  return true;
}

/**
 * Every condition of `rule` against `facts`, without the index: what `classifyReply()`'s first
 * matching rule must equal when the table is walked from the top (the test of the index).
 */
export function ruleMatches(rule: ReplyRule, facts: ReplyFacts): boolean {
  return (
    (rule.stages === undefined || rule.stages.includes(facts.stage)) &&
    (rule.classes === undefined || rule.classes.includes(facts.replyClass)) &&
    (rule.codes === undefined || rule.codes.includes(facts.code)) &&
    meetsEnhanced(rule, facts.enhanced === null ? null : facts.enhanced.subjectDetail) &&
    meetsRest(rule, facts)
  );
}

/** The first rule of `runs` that `facts` meet, a run skipped at once when its text matches none of its rules. */
function firstMatch(runs: readonly RuleRun[], facts: ReplyFacts): ReplyRule | undefined {
  for (let at = 0; at < runs.length; at++) {
    const run = runs[at] as RuleRun;
    if (run.anyText !== null && !run.anyText.test(facts.text)) continue;
    const rules = run.rules;
    for (let index = 0; index < rules.length; index++) {
      const rule = rules[index] as ReplyRule;
      if (meetsRest(rule, facts)) return rule;
    }
  }
  return undefined;
}

function isReplyCode(code: number): boolean {
  return Number.isInteger(code) && code >= 200 && code <= 599;
}

/** White space other than a single space: a character other than U+0020, or two in a row. */
const UNEVEN_SPACE = /[^\S ]|\s{2}/;

/** What the rules read of `reply` (codes 200–599) and `context`. */
export function replyFacts(reply: SmtpReplyInfo, context: ClassifyContext): ReplyFacts {
  const code = reply.code;
  // The types promise strings; a reply rebuilt from stored JSON may not keep the promise.
  const rawText = typeof (reply.text as unknown) === 'string' ? reply.text : '';
  const head = rawText.slice(0, MAX_TEXT_CHARS);
  // Runs of white space become one space; most texts have none but single spaces (no new string then).
  const text = (UNEVEN_SPACE.test(head) ? head.replace(/\s+/g, ' ') : head).trim();
  const enhancedField = typeof (reply.enhanced as unknown) === 'string' ? reply.enhanced : null;
  return {
    stage: reply.stage,
    code,
    replyClass: Math.floor(code / 100) as ReplyClass,
    enhanced: effectiveEnhancedCode({ code, enhanced: enhancedField, text: head }),
    text,
    providerId: context.provider?.id ?? null,
    otherRecipientAccepted: context.otherRecipientAccepted === true,
  };
}

/**
 * What a reply means for the address it answered. Rules are tried in order (reply-rules.ts, README.md
 * here); the first match decides. A 4xx is never `undeliverable`; a reply about the sender is never
 * `mailbox_not_found`; only RCPT replies speak about a mailbox.
 *
 * `deliverable/accepted` means "250/251 to RCPT TO" and nothing more: the verifier downgrades it for
 * accept-all providers (`ProviderRule.acceptAll`), catch-all domains and disposable services.
 *
 * @example
 * classifyReply({ stage: 'rcpt', code: 550, enhanced: '5.1.1', text: 'User unknown' })
 * // { verdict: 'undeliverable', reason: 'mailbox_not_found', rule: 'mailbox-not-found-text', … }
 */
export function classifyReply(reply: SmtpReplyInfo, context: ClassifyContext = {}): Classification {
  const code = reply.code;
  if (!isReplyCode(code)) {
    // RFC 5321 §4.2: reply codes are 2yz–5yz; anything else is not SMTP.
    return {
      verdict: 'unknown',
      reason: 'protocol_error',
      rule: 'code-out-of-range',
      category: OUTSIDE_RULES['code-out-of-range'].category,
      retryAfterMs: null,
      backOff: false,
    };
  }
  const facts = replyFacts(reply, context);
  const rule = firstMatch(candidatesFor(facts.stage, code).forEnhanced(facts.enhanced), facts);
  const reason = rule?.reason ?? 'unexpected_reply';
  const deferred = reason === 'greylisted' || reason === 'rate_limited';
  return {
    verdict: verdictOf(reason),
    reason,
    rule: rule?.id ?? 'unrecognised',
    category: rule?.category ?? OUTSIDE_RULES.unrecognised.category,
    retryAfterMs: deferred ? parseRetryAfterMs(facts.text) : null,
    backOff:
      code === 421 ||
      (facts.replyClass === 4 && facts.enhanced?.subject === 7) ||
      reason === 'rate_limited' ||
      reason === 'sender_blocked',
  };
}

/**
 * True when how `reply` is classified may depend on `otherRecipientAccepted`: a rule its stage and code
 * can meet reads that evidence (the ambiguous "mailbox unavailable" text, RFC 5321 §4.2.2). Otherwise a
 * classification made without the evidence is the one made with it, and a caller that learns of
 * another accepted recipient after classifying need not classify again.
 */
export function readsOtherRecipients(reply: Pick<SmtpReplyInfo, 'stage' | 'code'>): boolean {
  if (!isReplyCode(reply.code)) return false;
  return candidatesFor(reply.stage, reply.code).rules.some(
    (rule) => rule.requires === 'otherRecipientAccepted',
  );
}

/** True for a reply that accepts the recipient: 250 or 251 to `RCPT TO` (RFC 5321 §4.3.2). */
export function isAccepted(reply: Pick<SmtpReplyInfo, 'stage' | 'code'>): boolean {
  return reply.stage === 'rcpt' && (reply.code === 250 || reply.code === 251);
}

/** True for any 4xx: the condition is temporary (RFC 5321 §4.2.1); the address must be asked again. */
export function isTransient(reply: Pick<SmtpReplyInfo, 'code'>): boolean {
  return Number.isInteger(reply.code) && reply.code >= 400 && reply.code <= 499;
}

/** True when the reply is a greylisting deferral: retry the same triplet after `retryAfterMs`. */
export function isGreylisting(reply: SmtpReplyInfo, context?: ClassifyContext): boolean {
  return classifyReply(reply, context).reason === 'greylisted';
}

/** True when the scheduler must slow down towards the host (see `Classification.backOff`). */
export function shouldBackOff(reply: SmtpReplyInfo, context?: ClassifyContext): boolean {
  return classifyReply(reply, context).backOff;
}
