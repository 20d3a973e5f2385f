/**
 * Reacher's API on rcpt (reacherhq/check-if-email-exists backend 0.11): `POST /v0/check_email` and
 * `POST /v1/check_email` with Reacher's request and response, its per-request settings checked
 * (reacher-settings.ts), and its error body (`{"error": "message"}`). docs/reacher.md is the
 * user-facing map of what answers what.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { stringify } from 'csv-stringify/sync';
import type { Context } from 'hono';

import type { VerifyCallOptions, VerifyResult } from '../index.js';
import type { AppEnv, Limits } from './app-env.js';
import { mediaTypeOf } from './body-limit.js';
import { HttpError } from './http-error.js';
import { checkUploadFields, createUploadedJob, jobsBackendOf, requireSigningKey } from './job-upload.js';
import type { JsonJobFields, JsonListShape } from './json-job-list.js';
import type { JobView, JobsBackend } from './jobs-port.js';
import type { Logger } from './logger.js';
import { REACHER_CSV_COLUMNS, toReacherCsvRecord, toReacherProgress, toReacherResponse } from './reacher.js';
import {
  readReacherSettings,
  serverEcho,
  type ReacherSettingsPolicy,
  type ServerSmtpSettings,
} from './reacher-settings.js';
import {
  ReacherBulkCreatedSchema,
  ReacherBulkProgressSchema,
  ReacherBulkRequestSchema,
  ReacherBulkResultsSchema,
  ReacherErrorBodySchema,
  ReacherJobIdParamSchema,
  ReacherRequestSchema,
  ReacherResponseSchema,
  ReacherResultsQuerySchema,
  errorResponses,
} from './schemas.js';
import { checkWebhookHeaders, checkWebhookUrl, type JobWebhook, type WebhookTarget } from './webhooks.js';

/** The paths answered in Reacher's manner (its error body included). */
const REACHER_PATHS = /^\/v[01]\/check_email$|^\/v1\/bulk(\/|$)/;

/** Whether a request path is one of Reacher's routes (errors there get Reacher's body). */
export function isReacherPath(path: string): boolean {
  return REACHER_PATHS.test(path);
}

export interface ReacherRoutesDeps {
  /** Verifies one address for the request (its deadline, its client's disconnect). */
  readonly verify: (
    c: Context<AppEnv>,
    address: string,
    call: Omit<VerifyCallOptions, 'signal'>,
  ) => Promise<VerifyResult>;
  /** Logs results as the other routes do. */
  readonly logResults: (owner: string, results: readonly VerifyResult[]) => void;
  readonly settings: ReacherSettingsPolicy;
  /** The server's own EHLO name, MAIL FROM, port and deadline, echoed when a request sets none. */
  readonly server: ServerSmtpSettings;
  /** The name in `debug.backend_name`. */
  readonly backendName: string;
  /** The job store and runner (bulk routes answer 503 without it). */
  readonly jobs: JobsBackend | null;
  readonly limits: Limits;
  /** Webhook URLs may reach private addresses (`--allow-private-targets`). */
  readonly allowPrivateTargets: boolean;
  /** Whether the caller has a webhook signing secret (an API key, or the server's own without keys). */
  readonly canSignWebhooks: (owner: string) => boolean;
  /** Where a bulk list waits while its body arrives (upload-spool.ts). Default: the system's temporary directory. */
  readonly spoolDirectory?: string;
  /** Where a bulk list's spool with no space left is told (job-upload.ts). */
  readonly logger?: Logger;
}

/** The SMTP settings of Reacher's request, which a bulk job refuses (it runs with the server's own). */
const SMTP_SETTINGS = ['from_email', 'hello_name', 'proxy', 'smtp_port', 'smtp_timeout'] as const;

/** Reacher's bulk body: its list in `input`; the webhook and the SMTP settings read beside it. */
const BULK_LIST_SHAPE: JsonListShape = {
  key: 'input',
  fields: ['webhook', ...SMTP_SETTINGS],
  emptyMessage: 'Empty input',
};

/** The webhook of a bulk body, checked once the list has been read. */
const BULK_FIELDS = ReacherBulkRequestSchema.pick({ webhook: true });

/** Reacher's default page of JSON results (its `GET /v1/bulk/{id}/results`). */
const DEFAULT_JSON_LIMIT = 50;

/** Reacher's error responses, documented once. */
export const reacherErrors = errorResponses(ReacherErrorBodySchema, {
  400: 'Malformed request, or a setting that cannot be honoured',
  401: 'Missing or unknown API key',
  403: 'A setting the operator locked (rcpt serve --reacher-lock)',
  404: 'No such job for this key',
  413: 'Body too large',
  429: 'Rate limited; see Retry-After',
});

function checkEmailRoute(version: 'v0' | 'v1') {
  return createRoute({
    method: 'post',
    path: `/${version}/check_email`,
    summary:
      version === 'v0'
        ? 'Reacher-compatible check (v0, sunset by Reacher: use /v1/check_email)'
        : 'Reacher-compatible check (v1)',
    description:
      "Accepts Reacher's request body (per-request settings checked; see docs/reacher.md) and answers in Reacher's CheckEmailOutput, mapped from rcpt's result. The key may be sent as `Authorization: Bearer KEY`, `Authorization: KEY` or `x-reacher-secret: KEY`. Errors are Reacher's `{\"error\": message}` (with rcpt's `code`).",
    security: [{ bearer: [] }],
    request: {
      body: { content: { 'application/json': { schema: ReacherRequestSchema } }, required: true },
    },
    responses: {
      200: {
        description: "Reacher's CheckEmailOutput",
        content: { 'application/json': { schema: ReacherResponseSchema } },
      },
      ...reacherErrors,
    },
  });
}

/**
 * `to_email`, required and not empty, as Reacher checks it; trimmed of surrounding white space as
 * `POST /v1/verify`, a job's list and the CLI trim an address.
 */
export function toEmailOf(body: Readonly<Record<string, unknown>>): string {
  const toEmail = body.to_email;
  if (toEmail !== undefined && typeof toEmail !== 'string') {
    throw new HttpError(400, 'bad_request', 'to_email must be a string.');
  }
  const trimmed = toEmail?.trim() ?? '';
  if (trimmed === '') throw new HttpError(400, 'bad_request', 'to_email field is required.');
  return trimmed;
}

/** One receiver of Reacher's webhook object (`{url, headers?, extra?}`), checked. */
async function readTarget(
  name: string,
  value: { url: string; headers?: Record<string, string> | undefined; extra?: unknown } | undefined,
  allowPrivate: boolean,
): Promise<WebhookTarget | null> {
  if (value === undefined) return null;
  try {
    return {
      url: await checkWebhookUrl(value.url, allowPrivate),
      headers: checkWebhookHeaders(value.headers),
      extra: value.extra ?? null,
    };
  } catch (error) {
    if (error instanceof HttpError)
      throw new HttpError(400, 'bad_request', `webhook.${name}: ${error.message}`);
    throw error;
  }
}

/** `POST /v1/bulk`: Reacher's bulk job. */
const BULK_ROUTE = createRoute({
  method: 'post',
  path: '/v1/bulk',
  summary: 'Reacher-compatible bulk job',
  description:
    'Reacher\'s `{"input": [...], "webhook"?: {"on_each_email": {url, headers?, extra?}}}` → `{"job_id": n}`. Runs on rcpt\'s job engine (the same store, tenancy, limits and politeness as /v1/jobs); duplicates are verified once. rcpt adds `webhook.on_job_end`. Per-request SMTP settings are refused: bulk jobs run with the server\'s own. The body is read as it streams and the job stored only once it has ended within the limits of a JSON job list (50 MiB, 1,000,000 addresses, strings of at most 65,536 characters, nesting of at most 16 levels, 64 KiB beside the list).',
  security: [{ bearer: [] }],
  request: {
    body: {
      // A reference, not the zod schema: the body is streamed and checked by the handler
      // (job-upload.ts), never parsed whole by a validator. Registered in registerReacherRoutes().
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ReacherBulkRequest' } } },
      required: true,
    },
  },
  responses: {
    200: {
      description: 'The job, queued',
      content: { 'application/json': { schema: ReacherBulkCreatedSchema } },
    },
    ...reacherErrors,
    507: {
      description: 'No space left on the server (the job store full, or the disk the list waits on)',
      content: { 'application/json': { schema: ReacherErrorBodySchema } },
    },
  },
});

/** `GET /v1/bulk/{job_id}`: Reacher's bulk progress. */
const BULK_PROGRESS_ROUTE = createRoute({
  method: 'get',
  path: '/v1/bulk/{job_id}',
  summary: 'Reacher-compatible bulk job progress',
  description:
    'Counts are of distinct addresses (a duplicate in `input` is verified once); `job_status` is `Completed` once the job is done, cancelled or failed.',
  security: [{ bearer: [] }],
  request: { params: ReacherJobIdParamSchema },
  responses: {
    200: {
      description: 'The job',
      content: { 'application/json': { schema: ReacherBulkProgressSchema } },
    },
    ...reacherErrors,
  },
});

/** `GET /v1/bulk/{job_id}/results`: Reacher's bulk results. */
const BULK_RESULTS_ROUTE = createRoute({
  method: 'get',
  path: '/v1/bulk/{job_id}/results',
  summary: 'Reacher-compatible bulk job results',
  description:
    'JSON `{"results": [CheckEmailOutput…]}` (`limit` default 50, `offset`) or CSV with Reacher\'s columns (`format=csv`; every row unless `limit`), one per input row in input order. A job still running is a 400, as in Reacher.',
  security: [{ bearer: [] }],
  request: { params: ReacherJobIdParamSchema, query: ReacherResultsQuerySchema },
  responses: {
    200: {
      description: 'A page of results',
      content: {
        'application/json': { schema: ReacherBulkResultsSchema },
        'text/csv': { schema: z.string() },
      },
    },
    ...reacherErrors,
  },
});

/** Bulk jobs run with the server's own SMTP settings: a request that sets one is refused. */
function refuseSmtpSettings(body: JsonJobFields): void {
  for (const setting of SMTP_SETTINGS) {
    if (body[setting] !== undefined && body[setting] !== null) {
      throw new HttpError(
        400,
        'bad_request',
        `${setting}: bulk jobs run with this server's own SMTP settings; leave it out (or use /v1/check_email)`,
      );
    }
  }
}

/** Reacher's `webhook` object (and rcpt's `on_job_end`), checked; `null` when there is none. */
async function readBulkWebhook(
  deps: ReacherRoutesDeps,
  owner: string,
  given: z.infer<typeof ReacherBulkRequestSchema>['webhook'],
): Promise<JobWebhook | null> {
  const result = await readTarget('on_each_email', given?.on_each_email, deps.allowPrivateTargets);
  const end = await readTarget('on_job_end', given?.on_job_end, deps.allowPrivateTargets);
  if (result === null && end === null) return null;
  requireSigningKey(deps.canSignWebhooks, owner);
  return { onResult: result !== null, onEnd: end !== null, api: 'reacher', result, end };
}

export function registerReacherRoutes(app: OpenAPIHono<AppEnv>, deps: ReacherRoutesDeps): void {
  /** The caller's job by Reacher number, or the same 404 whether it exists for someone else or not. */
  const ownJob = async (c: Context<AppEnv>, jobId: number): Promise<JobView> => {
    const jobs = jobsBackendOf(deps.jobs);
    const id = await jobs.idOfNumber(jobId);
    const job = id === null ? null : await jobs.get(id);
    if (job === null || job.owner !== c.get('owner'))
      throw new HttpError(404, 'not_found', `No job ${jobId}`);
    return job;
  };

  for (const version of ['v0', 'v1'] as const) {
    app.openapi(checkEmailRoute(version), async (c) => {
      const body = c.req.valid('json') as Record<string, unknown>;
      const toEmail = toEmailOf(body);
      const settings = readReacherSettings(body, deps.settings, deps.server);
      const startedAt = new Date();
      const result = await deps.verify(c, toEmail, settings.call);
      deps.logResults(c.get('owner'), [result]);
      return c.json(toReacherResponse(result, startedAt, settings.echo, deps.backendName), 200);
    });
  }

  app.openAPIRegistry.register('ReacherBulkRequest', ReacherBulkRequestSchema);
  app.openapi(BULK_ROUTE, async (c) => {
    // The body is counted on the way in (body-limit.ts) and cut with a 413 at the upload limit.
    const owner = c.get('owner');
    const job = await createUploadedJob(deps, {
      owner,
      body: c.req.raw.body,
      mediaType: mediaTypeOf(c),
      jsonOnly: true,
      shape: BULK_LIST_SHAPE,
      extraOf: async (fields) => {
        refuseSmtpSettings(fields);
        const webhook = await readBulkWebhook(deps, owner, checkUploadFields(BULK_FIELDS, fields).webhook);
        return { api: 'reacher', ...(webhook === null ? {} : { webhook }) };
      },
    });
    return c.json({ job_id: await jobsBackendOf(deps.jobs).number(job.id) }, 200);
  });

  app.openapi(BULK_PROGRESS_ROUTE, async (c) => {
    const jobId = c.req.valid('param').job_id;
    const job = await ownJob(c, jobId);
    return c.json(toReacherProgress(job, jobId), 200);
  });

  app.openapi(BULK_RESULTS_ROUTE, async (c) => {
    const jobId = c.req.valid('param').job_id;
    const query = c.req.valid('query');
    const job = await ownJob(c, jobId);
    if (toReacherProgress(job, jobId).job_status === 'Running') {
      throw new HttpError(400, 'bad_request', `Job ${jobId} is still running, please try again later`);
    }
    const format = query.format ?? 'json';
    const offset = query.offset ?? 0;
    const limit = query.limit ?? (format === 'json' ? DEFAULT_JSON_LIMIT : Number.POSITIVE_INFINITY);
    const echo = serverEcho(deps.server);
    const page = [];
    let seen = 0;
    for await (const row of jobsBackendOf(deps.jobs).rows(job.id)) {
      if (page.length >= limit) break;
      // Rows never verified (a cancelled job) have no output, as Reacher has no task result for them.
      if (row.result === null) continue;
      if (seen++ < offset) continue;
      page.push(toReacherResponse(row.result, new Date(row.result.checkedAt), echo, deps.backendName));
    }
    if (format === 'json') return c.json({ results: page }, 200);
    const csv = stringify([[...REACHER_CSV_COLUMNS], ...page.map(toReacherCsvRecord)]);
    return c.body(csv, 200, { 'Content-Type': 'text/csv; charset=utf-8' });
  });
}
