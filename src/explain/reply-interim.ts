/**
 * INTERIM: a minimal `explainReply` over the classifier, used by the bounce explainer until the reply
 * explainer of issue 18 lands; replaced by it on rebase. Not exported from the package.
 */
import { classifyReply } from '../classify/index.js';
import type { Reason, SmtpStage, Verdict } from '../types.js';

export interface ReplyExplanation {
  readonly reply: string;
  readonly code: number | null;
  readonly enhanced: string | null;
  readonly command: string | null;
  readonly verdict: Verdict;
  readonly reason: Reason;
  readonly category: string;
  readonly permanent: boolean | null;
  readonly side: string;
  readonly action: string;
  readonly rule: string;
  readonly source: string;
}

const STAGES: Record<string, SmtpStage> = {
  RCPT: 'rcpt',
  MAIL: 'mail',
  DATA: 'rcpt',
  CONNECT: 'connect',
  HELO: 'helo',
  EHLO: 'helo',
};

export function explainReply(
  input: string,
  options: { command?: string | null; provider?: string | null } = {},
): ReplyExplanation[] {
  const match = /^\s*([2-5]\d\d)(?:[ -]|$)\s*(?:([2-5]\.\d{1,3}\.\d{1,3})\b)?\s*([\s\S]*)$/.exec(input);
  const command = options.command ?? null;
  if (match === null) {
    return [
      {
        reply: input,
        code: null,
        enhanced: null,
        command,
        verdict: 'unknown',
        reason: 'unexpected_reply',
        category: 'unknown',
        permanent: null,
        side: 'unknown',
        action: 'look at the reply',
        rule: 'no-code',
        source: '',
      },
    ];
  }
  const code = Number(match[1]);
  const enhanced = match[2] ?? null;
  const text = (match[3] ?? '').replace(/^[2-5]\d\d[- ](?:[2-5]\.\d{1,3}\.\d{1,3} )?/gm, '');
  const c = classifyReply({ stage: STAGES[command ?? ''] ?? 'rcpt', code, enhanced, text });
  const category = categoryOf(c.reason, code, enhanced, text);
  return [
    {
      reply: input,
      code,
      enhanced,
      command,
      verdict: c.verdict,
      reason: c.reason,
      category,
      permanent: code >= 500,
      side: 'unknown',
      action: c.verdict === 'undeliverable' ? 'remove the address' : 'retry later',
      rule: c.rule,
      source: '',
    },
  ];
}

function categoryOf(reason: Reason, code: number, enhanced: string | null, text: string): string {
  const sd = enhanced?.slice(2) ?? '';
  if (reason === 'mailbox_not_found') return 'mailbox_unknown';
  if (reason === 'mailbox_disabled') return 'mailbox_disabled';
  if (reason === 'mailbox_full') return 'mailbox_full';
  if (reason === 'domain_not_found' || reason === 'no_mail_server') return 'domain_unknown';
  if (reason === 'domain_rejects_mail' || reason === 'null_mx') return 'domain_no_mail';
  if (reason === 'rate_limited') return 'rate_limited';
  if (reason === 'greylisted') return 'greylisted';
  if (reason === 'tls_error') return 'tls_required';
  if (/virus|malware/i.test(text)) return 'content_virus';
  if (sd === '3.4' || /too (big|large)|size/i.test(text)) return 'content_size';
  if (/\bspam\b/i.test(text)) return 'content_spam';
  if (reason === 'sender_blocked') return 'sender_policy';
  if (sd === '4.7') return 'expired';
  if (code >= 400) return 'server_error';
  return 'unknown';
}
