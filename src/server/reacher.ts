/**
 * rcpt's result in Reacher's `/v0/check_email` shape (reacherhq/check-if-email-exists backend 0.11,
 * `core/src/util/input_output.rs`; field names and types only, no code). The mapping and where rcpt
 * deliberately answers differently are documented in src/server/README.md.
 */
import { isPositiveReply, type Reason, type Verdict, type VerifyResult } from '../index.js';
import { toDuration, type SmtpSettingsEcho } from './reacher-settings.js';
import type { JobView } from './jobs-port.js';
import type { ReacherBulkProgress, ReacherResponse } from './schemas.js';

const IS_REACHABLE = {
  deliverable: 'safe',
  risky: 'risky',
  undeliverable: 'invalid',
  unknown: 'unknown',
} as const satisfies Record<Verdict, ReacherResponse['is_reachable']>;

/**
 * Reacher's SMTP error types (core/src/smtp/error.rs) for rcpt's unknown reasons: timeouts are `Timeout`,
 * socket-level failures `IOError`, a reply the verifier could not read as an answer `AsyncSmtpError`.
 */
const SMTP_ERROR_TYPES: Partial<Record<Reason, string>> = {
  timeout: 'Timeout',
  connection_failed: 'IOError',
  tls_error: 'IOError',
  target_not_allowed: 'IOError',
  protocol_error: 'AsyncSmtpError',
  greylisted: 'AsyncSmtpError',
  rate_limited: 'AsyncSmtpError',
  sender_blocked: 'AsyncSmtpError',
  smtputf8_unsupported: 'AsyncSmtpError',
  unexpected_reply: 'AsyncSmtpError',
};

/** Reacher's `description` for a sender-side refusal (`IpBlacklisted`; its `NeedsRDNS` is folded in). */
const SMTP_DESCRIPTIONS: Partial<Record<Reason, string>> = { sender_blocked: 'IpBlacklisted' };

/** A duration as Rust's `Debug` prints it (`45s`, `1.5s`, `800ms`), as Reacher's timeout message has it. */
function rustDuration(duration: { secs: number; nanos: number }): string {
  const ms = duration.secs * 1000 + Math.round(duration.nanos / 1_000_000);
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Gmail ignores dots and `+tags` in the local part, and googlemail.com is gmail.com (Reacher's rule). */
const GMAIL_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/** Reacher's `normalized_email`: the address, and for Gmail without dots or `+tag`, lowercased. */
export function normalizedEmail(result: VerifyResult): string | null {
  const { localPart, domain } = result.syntax;
  if (!result.syntax.valid || localPart === null || domain === null) return null;
  if (!GMAIL_DOMAINS.has(domain)) return result.address;
  const local = localPart.split('+')[0]?.replace(/\./g, '').toLowerCase() ?? '';
  return `${local}@gmail.com`;
}

/** A DNS name with its root dot, as Reacher prints MX records (`alt1.gmail-smtp-in.l.google.com.`). */
function fqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

function mxBlock(result: VerifyResult): ReacherResponse['mx'] {
  const dns = result.dns;
  if (dns === null || dns.error === 'NXDOMAIN') return { accepts_mail: false, records: [] };
  if (dns.error !== null)
    return { error: { type: 'ResolveError', message: `DNS lookup failed: ${dns.error}` } };
  // A null MX (RFC 7505) says the domain accepts no mail; Reacher reports `true` there (its #900).
  if (dns.nullMx) return { accepts_mail: false, records: [] };
  const records = (dns.mx ?? []).map((mx) => fqdn(mx.exchange));
  return { accepts_mail: records.length > 0, records };
}

function smtpBlock(result: VerifyResult, settings: SmtpSettingsEcho): ReacherResponse['smtp'] {
  const errorType = SMTP_ERROR_TYPES[result.reason];
  if (result.verdict === 'unknown' && errorType !== undefined) {
    const reply = result.smtp?.reply;
    let message =
      reply !== null && reply !== undefined
        ? `${reply.code}${reply.enhanced === null ? '' : ` ${reply.enhanced}`} ${reply.text.replace(/\n/g, '; ')}`
        : result.reason.replace(/_/g, ' ');
    // Reacher's timeout error names the limit that passed: `Timeout error: 45s`.
    if (result.reason === 'timeout' && settings.smtp_timeout !== null) {
      message = `Timeout error: ${rustDuration(settings.smtp_timeout)}`;
    }
    const description = SMTP_DESCRIPTIONS[result.reason];
    return { error: { type: errorType, message }, ...(description === undefined ? {} : { description }) };
  }
  const smtp = result.smtp;
  if (smtp === null) {
    // No SMTP conversation (bad syntax, no mail domain): Reacher's default, every field false.
    return {
      can_connect_smtp: false,
      has_full_inbox: false,
      is_catch_all: false,
      is_deliverable: false,
      is_disabled: false,
    };
  }
  return {
    can_connect_smtp: smtp.host !== null,
    has_full_inbox: result.reason === 'mailbox_full',
    is_catch_all: result.flags.catchAll || result.reason === 'accept_all_provider',
    // The server accepted the RCPT: true also for catch-all and accept-all answers, as in Reacher.
    is_deliverable: smtp.reply?.stage === 'rcpt' && isPositiveReply(smtp.reply),
    is_disabled: result.reason === 'mailbox_disabled',
  };
}

/**
 * Maps one rcpt result to Reacher's response. `startedAt` is when the check began; `settings` how it
 * presented itself (echoed in `debug.smtp.verif_method`).
 */
export function toReacherResponse(
  result: VerifyResult,
  startedAt: Date,
  settings: SmtpSettingsEcho,
  backendName = 'rcpt',
): ReacherResponse {
  const end = new Date(startedAt.getTime() + result.durationMs);
  const host = result.smtp?.host ?? null;
  return {
    input: result.input,
    is_reachable: IS_REACHABLE[result.verdict],
    misc: {
      is_disposable: result.flags.disposable,
      is_role_account: result.flags.role,
      is_b2c: result.flags.free,
      gravatar_url: null,
      haveibeenpwned: null,
    },
    mx: mxBlock(result),
    smtp: smtpBlock(result, settings),
    syntax: {
      address: result.address,
      domain: result.syntax.domain ?? '',
      username: result.syntax.localPart ?? '',
      is_valid_syntax: result.syntax.valid,
      normalized_email: normalizedEmail(result),
      suggestion: result.suggestion,
    },
    debug: {
      backend_name: backendName,
      start_time: startedAt.toISOString(),
      end_time: end.toISOString(),
      duration: toDuration(result.durationMs),
      smtp: {
        verif_method:
          host === null
            ? { type: 'Skipped' }
            : // An address literal's host is no DNS name: it keeps its brackets and gets no dot.
              { type: 'Smtp', host: host.startsWith('[') ? host : fqdn(host), verif_method: settings },
      },
    },
  };
}

/** The columns of Reacher's bulk CSV (its `CsvResponse`), in its order. */
export const REACHER_CSV_COLUMNS = [
  'input',
  'is_reachable',
  'misc.is_disposable',
  'misc.is_role_account',
  'misc.gravatar_url',
  'mx.accepts_mail',
  'smtp.can_connect',
  'smtp.has_full_inbox',
  'smtp.is_catch_all',
  'smtp.is_deliverable',
  'smtp.is_disabled',
  'syntax.is_valid_syntax',
  'syntax.domain',
  'syntax.username',
  'error',
] as const;

/**
 * One output as a row of Reacher's bulk CSV: booleans as `true`/`false`, a missing value empty, and
 * `error` the JSON of the mx or smtp error. (Reacher's own CSV reads `mx.accepts_email`, a name its
 * output does not have, so its `mx.accepts_mail` column is always false; rcpt writes the real value.)
 */
export function toReacherCsvRecord(output: ReacherResponse): string[] {
  const bool = (value: boolean | undefined): string => (value === true ? 'true' : 'false');
  const mx = 'error' in output.mx ? null : output.mx;
  const smtp = 'error' in output.smtp ? null : output.smtp;
  const error =
    'error' in output.smtp
      ? JSON.stringify(output.smtp.error)
      : 'error' in output.mx
        ? JSON.stringify(output.mx.error)
        : '';
  return [
    output.input,
    output.is_reachable,
    bool(output.misc.is_disposable),
    bool(output.misc.is_role_account),
    output.misc.gravatar_url ?? '',
    bool(mx?.accepts_mail),
    bool(smtp?.can_connect_smtp),
    bool(smtp?.has_full_inbox),
    bool(smtp?.is_catch_all),
    bool(smtp?.is_deliverable),
    bool(smtp?.is_disabled),
    bool(output.syntax.is_valid_syntax),
    output.syntax.domain,
    output.syntax.username,
    error,
  ];
}

/** Reacher's `job_status`: it knows only these two; a cancelled or failed job has ended too. */
const REACHER_JOB_STATUS = {
  queued: 'Running',
  running: 'Running',
  done: 'Completed',
  cancelled: 'Completed',
  failed: 'Completed',
} as const satisfies Record<JobView['status'], 'Running' | 'Completed'>;

/** A job as Reacher's `GET /v1/bulk/{job_id}` answers it. Counts are of distinct addresses. */
export function toReacherProgress(job: JobView, jobId: number): ReacherBulkProgress {
  const status = REACHER_JOB_STATUS[job.status];
  return {
    job_id: jobId,
    created_at: job.createdAt,
    finished_at: status === 'Completed' ? (job.updatedAt ?? job.createdAt) : null,
    // Reacher has no count of unreadable rows: they are its unknown records.
    total_records: job.total + job.unreadable,
    total_processed: job.done + job.unreadable,
    summary: {
      total_safe: job.counts.deliverable,
      total_risky: job.counts.risky,
      total_invalid: job.counts.undeliverable,
      total_unknown: job.counts.unknown + job.unreadable,
    },
    job_status: status,
  };
}
