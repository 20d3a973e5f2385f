/**
 * INTERIM: a minimal `explainReply` over the classifier, in the shape of the reply explainer of issue
 * 18, used by the bounce explainer until that lands; replaced by it on rebase. Not exported.
 */
import { classifyReply } from '../classify/index.js';
import type { Reason, SmtpStage, Verdict } from '../types.js';

export type ReplyPermanence = 'success' | 'temporary' | 'permanent';
export type ExplainCommand =
  'CONNECT' | 'EHLO' | 'HELO' | 'STARTTLS' | 'AUTH' | 'MAIL' | 'RCPT' | 'DATA' | 'RSET' | 'QUIT';

export interface ReplyExplanation {
  readonly reply: {
    readonly code: number | null;
    readonly enhanced: string | null;
    readonly text: string;
    readonly command: ExplainCommand | null;
  };
  readonly readAs: SmtpStage | null;
  readonly verdict: Verdict;
  readonly reason: Reason;
  readonly category: string;
  readonly permanence: ReplyPermanence | null;
  readonly side: string | null;
  readonly meaning: string;
  readonly action: {
    readonly kind: string;
    readonly advice: string;
    readonly retryAfterMs: number | null;
    readonly url: string | null;
  };
  readonly rule: { readonly id: string; readonly source: string; readonly url: string | null };
  readonly provider: string | null;
}

export interface ExplainReplyOptions {
  readonly command?: ExplainCommand | null;
  readonly provider?: string | null;
}

const STAGES: Record<string, SmtpStage> = {
  RCPT: 'rcpt',
  MAIL: 'mail',
  DATA: 'rcpt',
  CONNECT: 'connect',
  HELO: 'helo',
  EHLO: 'helo',
};

export function explainReply(input: string, options: ExplainReplyOptions = {}): ReplyExplanation[] {
  const match = /^\s*([2-5]\d\d)(?:[ -]|$)\s*(?:([2-5]\.\d{1,3}\.\d{1,3})\b)?\s*([\s\S]*)$/.exec(input);
  const command = options.command ?? null;
  if (match === null) {
    return [
      {
        reply: { code: null, enhanced: null, text: input, command },
        readAs: null,
        verdict: 'unknown',
        reason: 'unexpected_reply',
        category: 'not_a_reply',
        permanence: null,
        side: null,
        meaning: 'No SMTP reply code was found.',
        action: { kind: 'investigate', advice: 'Look at the reply.', retryAfterMs: null, url: null },
        rule: { id: 'not-a-reply', source: '', url: null },
        provider: null,
      },
    ];
  }
  const code = Number(match[1]);
  const enhanced = match[2] ?? null;
  const text = (match[3] ?? '').replace(/^[2-5]\d\d[- ](?:[2-5]\.\d{1,3}\.\d{1,3} )?/gm, '');
  const stage = STAGES[command ?? ''] ?? 'rcpt';
  const c = classifyReply({ stage, code, enhanced, text });
  return [
    {
      reply: { code, enhanced, text, command },
      readAs: stage,
      verdict: c.verdict,
      reason: c.reason,
      category: categoryOf(c.reason, code, enhanced, text),
      permanence: code >= 500 ? 'permanent' : code >= 400 ? 'temporary' : 'success',
      side: null,
      meaning: '',
      action: {
        kind: c.verdict === 'undeliverable' ? 'remove_address' : 'retry_later',
        advice: c.verdict === 'undeliverable' ? 'Remove the address.' : 'Retry later.',
        retryAfterMs: c.retryAfterMs,
        url: null,
      },
      rule: { id: c.rule, source: '', url: null },
      provider: null,
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
  if (sd === '4.1' || sd === '4.2') return 'network_error';
  if (code >= 400) return 'server_error';
  return 'unrecognised';
}
