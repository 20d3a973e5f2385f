/**
 * The API's request and response schemas (zod, with OpenAPI metadata): `/openapi.json` is generated
 * from these, and requests are validated against them. The result schema mirrors docs/result.md.
 */
import { z } from '@hono/zod-openapi';

import { REASONS, SMTP_STAGES, SYNTAX_ERROR_CODES, VERDICTS, type Reason } from '../index.js';
import { API_ERROR_CODES } from './http-error.js';

const REASON_CODES = Object.keys(REASONS) as [Reason, ...Reason[]];

export const ErrorSchema = z
  .object({
    error: z.enum(API_ERROR_CODES).openapi({ example: 'bad_request' }),
    message: z.string().openapi({ example: 'Expected "email" (a string) or "emails" (an array of strings)' }),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Error');

/**
 * OpenAPI responses for error statuses, each with its description and the same JSON body schema (rcpt's
 * `Error`, or Reacher's for its routes).
 *
 * @example errorResponses(ErrorSchema, { 401: 'Missing or unknown API key' })
 */
export function errorResponses<const T extends Readonly<Record<number, string>>, S extends z.ZodType>(
  schema: S,
  descriptions: T,
): {
  readonly [K in keyof T]: {
    readonly description: T[K];
    readonly content: { 'application/json': { schema: S } };
  };
} {
  return Object.fromEntries(
    Object.entries(descriptions).map(([status, description]) => [
      status,
      { description, content: { 'application/json': { schema } } },
    ]),
  ) as never;
}

const SyntaxSchema = z.object({
  valid: z.boolean(),
  localPart: z.string().nullable(),
  domain: z.string().nullable(),
  asciiDomain: z.string().nullable(),
  smtputf8: z.boolean(),
  error: z
    .object({ code: z.enum(SYNTAX_ERROR_CODES), message: z.string(), index: z.number().int() })
    .nullable(),
});

const ReplySchema = z.object({
  stage: z.enum(SMTP_STAGES),
  code: z.number().int().openapi({ example: 250 }),
  enhanced: z.string().nullable().openapi({ example: '2.1.5' }),
  text: z.string().openapi({ example: 'OK' }),
});

export const ResultSchema = z
  .object({
    input: z.string().openapi({ example: 'Alice.Smith@Example.COM' }),
    address: z.string().nullable().openapi({ example: 'Alice.Smith@example.com' }),
    verdict: z.enum(VERDICTS).openapi({ example: 'deliverable' }),
    reason: z.enum(REASON_CODES).openapi({ example: 'accepted' }),
    flags: z.object({
      role: z.boolean(),
      free: z.boolean(),
      disposable: z.boolean(),
      catchAll: z.boolean(),
    }),
    suggestion: z.string().nullable(),
    syntax: SyntaxSchema,
    dns: z
      .object({
        mx: z
          .array(z.object({ exchange: z.string(), priority: z.number().int() }))
          .readonly()
          .nullable(),
        implicitMx: z.boolean(),
        nullMx: z.boolean(),
        error: z.string().nullable(),
      })
      .nullable(),
    smtp: z
      .object({
        host: z.string().nullable(),
        ip: z.string().nullable(),
        port: z.number().int().nullable(),
        tls: z.boolean(),
        provider: z.string().nullable(),
        reply: ReplySchema.nullable(),
        catchAll: z.boolean().nullable(),
        attempts: z.number().int(),
        transcript: z
          .array(z.object({ dir: z.enum(['>', '<']), line: z.string(), ms: z.number() }))
          .readonly()
          .nullable(),
        proxy: z.string().nullable(),
      })
      .nullable(),
    durationMs: z.number().int(),
    checkedAt: z.string().openapi({ example: '2026-11-28T20:00:00.000Z' }),
    retryAt: z.string().nullable(),
  })
  .openapi('Result');

export const VerifyRequestSchema = z
  .object({
    email: z.string().optional().openapi({ example: 'alice@example.com' }),
    emails: z
      .array(z.string())
      .optional()
      .openapi({ example: ['alice@example.com', 'bob@example.org'] }),
  })
  .openapi('VerifyRequest');

export const VerifyManyResponseSchema = z.object({ results: z.array(ResultSchema) }).openapi('VerifyResults');

export const JobWebhookSchema = z
  .object({
    url: z.string().openapi({ example: 'https://hooks.example.com/rcpt' }),
    events: z
      .array(z.enum(['result', 'end']))
      .min(1)
      .optional()
      .openapi({
        description: 'When to call: per verified address, when the job ends, or both. Default ["end"].',
      }),
    headers: z.record(z.string(), z.string()).optional(),
  })
  .openapi('JobWebhook', {
    description:
      'Calls signed with Rcpt-Signature (HMAC-SHA256 over "timestamp.body" with the per-key secret), retried with backoff, kept across restarts; see docs/api.md.',
  });

export const JobCreateJsonSchema = z
  .object({
    emails: z.array(z.string()).openapi({ example: ['alice@example.com', 'bob@example.org'] }),
    name: z.string().max(200).optional(),
    webhook: JobWebhookSchema.optional(),
  })
  .openapi('JobRequest');

export const JOB_STATUSES = ['queued', 'running', 'done', 'cancelled', 'failed'] as const;

const VerdictCountsSchema = z.object(
  Object.fromEntries(VERDICTS.map((verdict) => [verdict, z.number().int()])) as Record<
    (typeof VERDICTS)[number],
    z.ZodNumber
  >,
);

export const JobSchema = z
  .object({
    id: z.string().openapi({ example: 'j_4f9c2e7a1b3d' }),
    status: z.enum(JOB_STATUSES),
    total: z
      .number()
      .int()
      .openapi({ description: 'distinct addresses to verify (a duplicate row shares its result)' }),
    done: z.number().int().openapi({ description: 'distinct addresses with a result' }),
    progress: z.number().openapi({ description: 'done / total, from 0 to 1' }),
    unreadable: z.number().int().openapi({
      description:
        'rows that could not be read (a broken quote, an over-long line): kept as written with unknown/unreadable_row in the results, counted here and not in total, done, counts or reasons',
    }),
    counts: VerdictCountsSchema.openapi({ description: 'distinct addresses by verdict' }),
    reasons: z.record(z.string(), z.number().int()).openapi({ description: 'distinct addresses by reason' }),
    createdAt: z.string(),
    updatedAt: z.string().nullable(),
    etaSeconds: z.number().nullable().openapi({ description: 'estimated seconds left, null when unknown' }),
    error: z.string().nullable(),
    warnings: z.array(z.string()).openapi({
      description:
        'what the uploader should know about the upload, the job verified all the same: a CSV that is not UTF-8 outside its address column (its other columns come back with U+FFFD for the bytes UTF-8 cannot hold); empty when nothing',
    }),
  })
  .openapi('Job');

export const JobCreatedSchema = z
  .object({ id: z.string(), status: z.enum(JOB_STATUSES), total: z.number().int() })
  .openapi('JobCreated');

export const JobIdParamSchema = z.object({
  id: z
    .string()
    .min(1)
    .max(100)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'j_4f9c2e7a1b3d' }),
});

/**
 * A query word read case-insensitively (`format=CSV`), as the CLI takes `--format CSV`; the message is
 * the 400's (app.ts).
 */
const queryWord = <const T extends readonly [string, ...string[]]>(values: T, error: string) =>
  z.string().toLowerCase().pipe(z.enum(values, { error }));

export const ResultsQuerySchema = z.object({
  format: queryWord(['csv', 'ndjson'], 'format must be csv or ndjson')
    .optional()
    .openapi({
      param: { name: 'format', in: 'query' },
      example: 'csv',
      description: '`csv` (default) or `ndjson`, in any case',
    }),
  csv_formulas: z
    .enum(['escape', 'keep'], { error: 'csv_formulas must be escape or keep' })
    .optional()
    .openapi({
      param: { name: 'csv_formulas', in: 'query' },
      description:
        "CSV cells starting with = + - @ tab or CR: `escape` (default) puts a ' before them so spreadsheets do not run them as formulas; `keep` writes them as they are. NDJSON is never changed.",
      example: 'escape',
    }),
});

export const DeleteJobQuerySchema = z.object({
  purge: z
    .enum(['true'])
    .optional()
    .openapi({
      param: { name: 'purge', in: 'query' },
      description:
        '`true` deletes a job that has ended (done, cancelled, failed) with its rows and results (`204`); a queued or running one is `409`: cancel it first. Without it, the job is cancelled and what is done stays downloadable.',
      example: 'true',
    }),
});

// ---------------------------------------------------------------------------------------------------
// Reacher (reacherhq/check-if-email-exists backend 0.11) request and response, by field name and type.

/** A request field that the handler checks itself (src/server/reacher-settings.ts), so bad values get
 * Reacher's messages; the schema here documents it. */
const documented = (type: 'string' | 'integer' | 'number' | 'boolean' | 'object', description: string) =>
  z.unknown().optional().openapi({ type, description });

const VERIF_METHOD_DOC =
  'Accepted for compatibility: rcpt verifies every provider by SMTP, so only "Smtp" (or {"type":"smtp"}) is accepted; "Api" and "Headless" are refused with 400.';

export const ReacherRequestSchema = z
  .looseObject({
    // Optional to the validator so a missing to_email gets Reacher's own message from the handler.
    to_email: z.unknown().optional().openapi({
      type: 'string',
      example: 'someone@example.com',
      description: 'The address to check (required, not empty).',
    }),
    from_email: documented(
      'string',
      'MAIL FROM address (an email address, or "" for the null reverse-path <>); the server\'s own when left out.',
    ),
    hello_name: documented('string', 'EHLO name: a host name or an address literal.'),
    smtp_port: documented('integer', "Port of the MX hosts, 1 to 65535. Default: the server's (25)."),
    smtp_timeout: documented(
      'object',
      'Deadline of the check: Reacher\'s duration {"secs": 30, "nanos": 0}, or a number of seconds; capped at the synchronous deadline.',
    ),
    proxy: documented(
      'object',
      'A SOCKS5 proxy {host, port, username?, password?}: honoured only when it names one of the operator proxies (rcpt serve --proxy), else 400.',
    ),
    gmail_verif_method: documented('string', VERIF_METHOD_DOC),
    hotmailb2b_verif_method: documented('string', VERIF_METHOD_DOC),
    hotmailb2c_verif_method: documented('string', VERIF_METHOD_DOC),
    yahoo_verif_method: documented('string', VERIF_METHOD_DOC),
    check_gravatar: documented('boolean', 'Only false: rcpt makes no third-party lookups.'),
  })
  .openapi('ReacherCheckEmailRequest');

/** Reacher's error body: the message in `error`; rcpt adds its machine code. */
export const ReacherErrorBodySchema = z
  .object({
    error: z.string().openapi({ example: 'to_email field is required.' }),
    code: z.string().openapi({ example: 'bad_request' }),
  })
  .openapi('ReacherError');

const ReacherErrorSchema = z.object({ type: z.string(), message: z.string() });

export const ReacherResponseSchema = z
  .object({
    input: z.string(),
    is_reachable: z.enum(['safe', 'risky', 'invalid', 'unknown']),
    misc: z.object({
      is_disposable: z.boolean(),
      is_role_account: z.boolean(),
      is_b2c: z.boolean(),
      gravatar_url: z.string().nullable(),
      haveibeenpwned: z.boolean().nullable(),
    }),
    mx: z.union([
      z.object({ accepts_mail: z.boolean(), records: z.array(z.string()) }),
      z.object({ error: ReacherErrorSchema }),
    ]),
    smtp: z.union([
      z.object({
        can_connect_smtp: z.boolean(),
        has_full_inbox: z.boolean(),
        is_catch_all: z.boolean(),
        is_deliverable: z.boolean(),
        is_disabled: z.boolean(),
      }),
      z.object({ error: ReacherErrorSchema, description: z.string().optional() }),
    ]),
    syntax: z.object({
      address: z.string().nullable(),
      domain: z.string(),
      username: z.string(),
      is_valid_syntax: z.boolean(),
      normalized_email: z.string().nullable(),
      suggestion: z.string().nullable(),
    }),
    debug: z.object({
      backend_name: z.string(),
      start_time: z.string(),
      end_time: z.string(),
      duration: z.object({ secs: z.number().int(), nanos: z.number().int() }),
      smtp: z.object({
        verif_method: z.union([
          z.object({
            type: z.literal('Smtp'),
            host: z.string(),
            verif_method: z.object({
              from_email: z.string(),
              hello_name: z.string(),
              proxy: z.string().nullable(),
              smtp_port: z.number().int(),
              smtp_timeout: z.object({ secs: z.number().int(), nanos: z.number().int() }).nullable(),
              retries: z.number().int(),
            }),
          }),
          z.object({ type: z.literal('Skipped') }),
        ]),
      }),
    }),
  })
  .openapi('ReacherCheckEmailResponse');

export type ReacherResponse = z.infer<typeof ReacherResponseSchema>;

export const ReacherBulkRequestSchema = z
  .looseObject({
    input: z.array(z.string()).openapi({ example: ['alice@example.com', 'bob@example.org'] }),
    webhook: z
      .looseObject({
        on_each_email: z
          .object({
            url: z.string(),
            headers: z.record(z.string(), z.string()).optional(),
            extra: z.unknown().optional(),
          })
          .optional()
          .openapi({
            description: 'POSTed `{result, extra, job_id, event: "result"}` for every address verified',
          }),
        on_job_end: z
          .object({
            url: z.string(),
            headers: z.record(z.string(), z.string()).optional(),
            extra: z.unknown().optional(),
          })
          .optional()
          .openapi({ description: 'rcpt addition: POSTed the job progress once when the job ends' }),
      })
      .optional()
      .openapi({ description: 'Signed (Rcpt-Signature), retried with backoff; see docs/reacher.md' }),
  })
  .openapi('ReacherBulkRequest');

export const ReacherBulkCreatedSchema = z
  .object({ job_id: z.number().int().openapi({ example: 1 }) })
  .openapi('ReacherBulkCreated');

export const ReacherBulkProgressSchema = z
  .object({
    job_id: z.number().int(),
    created_at: z.string(),
    finished_at: z.string().nullable(),
    total_records: z.number().int(),
    total_processed: z.number().int(),
    summary: z.object({
      total_safe: z.number().int(),
      total_risky: z.number().int(),
      total_invalid: z.number().int(),
      total_unknown: z.number().int(),
    }),
    job_status: z.enum(['Running', 'Completed']),
  })
  .openapi('ReacherBulkProgress');

export type ReacherBulkProgress = z.infer<typeof ReacherBulkProgressSchema>;

export const ReacherBulkResultsSchema = z
  .object({ results: z.array(ReacherResponseSchema) })
  .openapi('ReacherBulkResults');

/**
 * A whole number written in plain decimal `digits` (at most 15: below 2^53). Not `z.coerce`:
 * JavaScript's `Number()` reads `''` as 0, `0x10` as 16 and `1e1` as 10, so `?limit=` was a limit of 0
 * and `/v1/bulk/0x10` was job 16.
 */
const decimal = (digits: RegExp, error: string) => z.string().regex(digits, { error }).transform(Number);

export const ReacherJobIdParamSchema = z.object({
  job_id: decimal(/^[1-9][0-9]{0,14}$/, 'a job_id is a positive integer').openapi({
    param: { name: 'job_id', in: 'path' },
    example: 1,
  }),
});

/** A count in the query: a whole number, 0 or more (the message is the 400's, app.ts). */
const queryCount = (name: string) => decimal(/^[0-9]{1,15}$/, `${name} must be a whole number, 0 or more`);

export const ReacherResultsQuerySchema = z.object({
  format: queryWord(['json', 'csv'], 'format must be json or csv')
    .optional()
    .openapi({
      param: { name: 'format', in: 'query' },
      example: 'json',
      description: '`json` (default) or `csv`, in any case',
    }),
  limit: queryCount('limit')
    .optional()
    .openapi({
      param: { name: 'limit', in: 'query' },
      description: 'default 50 for JSON, every row for CSV',
    }),
  offset: queryCount('offset')
    .optional()
    .openapi({ param: { name: 'offset', in: 'query' }, example: 0 }),
});
