/**
 * The `/v1/jobs` routes: create (a JSON list, CSV or plain text, each read as it streams), status,
 * live progress as server-sent events, streamed results, cancel. A job belongs to the key that made it:
 * any other key gets the same 404 as for a job that does not exist, so ids reveal nothing.
 */
import { tmpdir } from 'node:os';

import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { stream, streamSSE, type SSEStreamingApi } from 'hono/streaming';

import type { Verdict } from '../index.js';
import type { FormatOptions, OutputRow, WebhookDelivery, WebhookOutcome } from '../jobs/index.js';
import { mediaTypeOf } from './body-limit.js';
import { HttpError } from './http-error.js';
import { readJsonJobList, type JsonJobFields } from './json-job-list.js';
import { UploadSpool } from './upload-spool.js';
import { checkWebhookHeaders, checkWebhookUrl, type JobWebhook } from './webhooks.js';
import type { Logger } from './logger.js';
import type { AppEnv, Limits } from './app-env.js';
import {
  ErrorSchema,
  JobCreateJsonSchema,
  JobCreatedSchema,
  JobIdParamSchema,
  JobSchema,
  ResultsQuerySchema,
  errorResponses,
  type JOB_STATUSES,
} from './schemas.js';

export type JobStatus = (typeof JOB_STATUSES)[number];

/** What the API needs to know of a job. */
export interface JobView {
  readonly id: string;
  /** The key id that created the job. */
  readonly owner: string;
  readonly status: JobStatus;
  /** Distinct addresses, not counting rows that could not be read. */
  readonly total: number;
  readonly done: number;
  /** Rows that could not be read (unknown/unreadable_row), apart from `total`, `counts` and `reasons`. */
  readonly unreadable: number;
  readonly counts: Readonly<Record<Verdict, number>>;
  readonly reasons: Readonly<Record<string, number>>;
  readonly createdAt: string;
  /** When work started, for the ETA; `null` while queued. */
  readonly startedAt: string | null;
  readonly updatedAt: string | null;
  readonly error: string | null;
  /** What the job was created with (its webhook, the API it came from). */
  readonly options: Readonly<Record<string, unknown>>;
}

/** The input of a new job. */
export type JobInput =
  | {
      readonly kind: 'list';
      /** The addresses, a list or a stream of them (a JSON body read back from its spool). */
      readonly emails: Iterable<string> | AsyncIterable<string>;
    }
  | { readonly kind: 'csv' | 'text'; readonly body: AsyncIterable<Uint8Array> };

/** Bad input found while reading an upload (a CSV without an address column, a broken quote, …). */
export class JobInputError extends Error {
  override readonly name = 'JobInputError';
  constructor(
    message: string,
    /** True when the input is over a size or count limit (answered 413 rather than 400). */
    readonly tooLarge = false,
  ) {
    super(message);
  }
}

/**
 * The job store has no space left (SQLite's SQLITE_FULL, PostgreSQL's 53100 disk_full): answered 507
 * with a message saying so, instead of a bare 500. What the write was for is in the message.
 */
export class JobStoreFullError extends Error {
  override readonly name = 'JobStoreFullError';
}

/**
 * The job store and runner as the API sees them (implemented over `src/jobs/` in jobs-backend.ts).
 * `create` consumes the input as it arrives and resolves once it is stored and queued.
 */
export interface JobsBackend {
  create(
    owner: string,
    input: JobInput,
    options: {
      readonly maxAddresses: number;
      /** Stored with the job's options (its webhook, the API it came from). */
      readonly extra?: Readonly<Record<string, unknown>>;
    },
  ): Promise<JobView>;
  /**
   * The job as the store has it; a view read less than a moment ago may be given again, unless
   * `fresh` (a job's end webhook must say it ended).
   */
  get(id: string, options?: { readonly fresh?: boolean }): Promise<JobView | null>;
  /** The job's small integer (given on first asking; Reacher's `job_id`). */
  number(id: string): Promise<number>;
  /** The job a number names, or `null`. */
  idOfNumber(number: number): Promise<string | null>;
  /** Every input row in order with its result (`null` while not verified), read in pages. */
  rows(id: string): AsyncIterable<OutputRow>;
  /** Webhook calls owed (see `JobStore.claimWebhookDeliveries`). */
  claimWebhooks(now: number, leaseMs: number, limit: number): Promise<WebhookDelivery[]>;
  settleWebhook(id: number, outcome: WebhookOutcome): Promise<void>;
  /** Cancels a queued or running job; what is done stays readable. Resolves with the job after. */
  cancel(id: string): Promise<JobView | null>;
  /** The results so far, streamed: CSV (input columns, then result columns) or one JSON result a line. */
  results(id: string, format: 'csv' | 'ndjson', options?: FormatOptions): AsyncIterable<string>;
  /** Addresses waiting in queued and running jobs (the `rcpt_jobs_queue_depth` metric). */
  queueDepth(): number | Promise<number>;
}

/** How often the event stream looks at a running job (the store is the source of truth). */
const EVENTS_POLL_MS = 250;
/** A comment line every so often keeps proxies from closing an idle event stream. */
const EVENTS_KEEPALIVE_MS = 15_000;
const FINISHED: ReadonlySet<JobStatus> = new Set(['done', 'cancelled', 'failed']);

/** The job as the API returns it. */
export function jobResponse(job: JobView, now = Date.now()): z.infer<typeof JobSchema> {
  let etaSeconds: number | null = null;
  if (job.status === 'running' && job.startedAt !== null && job.done > 0 && job.total >= job.done) {
    const elapsed = now - Date.parse(job.startedAt);
    etaSeconds = Math.round(((elapsed / job.done) * (job.total - job.done)) / 1000);
  } else if (FINISHED.has(job.status)) {
    etaSeconds = 0;
  }
  return {
    id: job.id,
    status: job.status,
    total: job.total,
    done: job.done,
    progress: job.total === 0 ? (FINISHED.has(job.status) ? 1 : 0) : job.done / job.total,
    unreadable: job.unreadable,
    counts: { ...job.counts },
    reasons: { ...job.reasons },
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    etaSeconds,
    error: job.error,
  };
}

const errors = errorResponses(ErrorSchema, {
  401: 'Missing or unknown API key',
  404: 'No such job for this key',
  429: 'Rate limited; see Retry-After',
  507: 'The job store is full (no space left on the server); nothing was changed',
});

/** A full job store as the API answers it; other errors pass through unchanged. */
function storeFull(error: unknown): unknown {
  return error instanceof JobStoreFullError ? new HttpError(507, 'storage_full', error.message) : error;
}

/** A JSON media type (`application/json`, `application/…+json`): the body is a list, parsed whole. */
export function isJsonType(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

/**
 * The body as chunks, or `null` when it has no byte at all (an empty upload is refused, not stored as
 * a job of no rows). Reads the first chunk to know.
 */
async function nonEmpty(body: ReadableStream<Uint8Array> | null): Promise<AsyncIterable<Uint8Array> | null> {
  if (body === null) return null;
  const reader = body.getReader();
  let first = await reader.read();
  while (!first.done && first.value.byteLength === 0) first = await reader.read();
  if (first.done) return null;
  const head = first.value;
  return (async function* () {
    let finished = false;
    try {
      yield head;
      for (;;) {
        const next = await reader.read();
        if (next.done) break;
        yield next.value;
      }
      finished = true;
    } finally {
      // A reader that stopped early (a refused upload) leaves the rest of the body unread.
      if (!finished) await reader.cancel().catch(() => undefined);
    }
  })();
}

export interface JobRoutesDeps {
  readonly jobs: JobsBackend | null;
  readonly limits: Limits;
  readonly logger: Logger;
  /** Webhook URLs may reach private addresses (`--allow-private-targets`). */
  readonly allowPrivateTargets: boolean;
  /** Whether the caller has a webhook signing secret. */
  readonly canSignWebhooks: (owner: string) => boolean;
  /** Ends event streams when the server shuts down. */
  readonly shutdown?: AbortSignal;
  /**
   * Where a JSON list waits while its body arrives (upload-spool.ts): the job store's directory for a
   * SQLite store. Default: the system's temporary directory.
   */
  readonly spoolDirectory?: string;
}

/** The fields of a JSON job beside its list, checked once the list has been read. */
const JOB_FIELDS = JobCreateJsonSchema.pick({ name: true, webhook: true });

/** `POST /v1/jobs`: a list, a CSV or a text upload becomes a job. */
const CREATE_JOB_ROUTE = createRoute({
  method: 'post',
  path: '/v1/jobs',
  summary: 'Create a verification job',
  description:
    'Send `{"emails": […]}`, or a `text/csv` body (a header row; the address column is found by name: email, e-mail, address, mail) or a `text/plain` body (one address a line). A CSV or text upload is streamed into the job store; a JSON list is parsed as it streams and stored once it has ended within the limits (50 MiB, 1,000,000 addresses, strings of at most 65,536 characters, nesting of at most 16 levels, 64 KiB beside the list).',
  security: [{ bearer: [] }],
  request: {
    body: {
      // Not `required`: a required body makes the JSON validator run for CSV and text bodies too.
      // An empty body is refused by the handler.
      required: false,
      content: {
        // A reference, not the zod schema: the body is streamed and checked by the handler
        // (json-job-list.ts), never parsed whole by a validator. Registered in registerJobRoutes().
        'application/json': { schema: { $ref: '#/components/schemas/JobRequest' } },
        'text/csv': { schema: z.string() },
        'text/plain': { schema: z.string() },
      },
    },
  },
  responses: {
    202: {
      description: 'Accepted and queued',
      content: { 'application/json': { schema: JobCreatedSchema } },
    },
    400: { description: 'Malformed input', content: { 'application/json': { schema: ErrorSchema } } },
    401: errors[401],
    413: {
      description: 'Upload or list too large',
      content: { 'application/json': { schema: ErrorSchema } },
    },
    415: {
      description: 'Unsupported content type',
      content: { 'application/json': { schema: ErrorSchema } },
    },
    429: errors[429],
    507: errors[507],
  },
});

/** `GET /v1/jobs/{id}`. */
const GET_JOB_ROUTE = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}',
  summary: 'A job: status, totals by verdict and reason, progress, ETA',
  security: [{ bearer: [] }],
  request: { params: JobIdParamSchema },
  responses: {
    200: { description: 'The job', content: { 'application/json': { schema: JobSchema } } },
    401: errors[401],
    404: errors[404],
    429: errors[429],
  },
});

/** `GET /v1/jobs/{id}/events`. */
const JOB_EVENTS_ROUTE = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/events',
  summary: 'Live progress as server-sent events',
  description:
    'A `progress` event (the job as JSON) whenever it changes, then one `end` event when the job is done, cancelled or failed; the stream then closes.',
  security: [{ bearer: [] }],
  request: { params: JobIdParamSchema },
  responses: {
    200: { description: 'An event stream', content: { 'text/event-stream': { schema: z.string() } } },
    401: errors[401],
    404: errors[404],
    429: errors[429],
  },
});

/** `GET /v1/jobs/{id}/results`. */
const JOB_RESULTS_ROUTE = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/results',
  summary: 'The results so far, streamed as CSV or NDJSON',
  description:
    'CSV keeps the input columns and appends the result columns; NDJSON is one result object (docs/result.md) a line.',
  security: [{ bearer: [] }],
  request: { params: JobIdParamSchema, query: ResultsQuerySchema },
  responses: {
    200: {
      description: 'The results',
      content: { 'text/csv': { schema: z.string() }, 'application/x-ndjson': { schema: z.string() } },
    },
    401: errors[401],
    404: errors[404],
    429: errors[429],
  },
});

/** `DELETE /v1/jobs/{id}`. */
const CANCEL_JOB_ROUTE = createRoute({
  method: 'delete',
  path: '/v1/jobs/{id}',
  summary: 'Cancel a job; what is done stays downloadable',
  security: [{ bearer: [] }],
  request: { params: JobIdParamSchema },
  responses: {
    200: {
      description: 'The job after cancelling',
      content: { 'application/json': { schema: JobSchema } },
    },
    401: errors[401],
    404: errors[404],
    429: errors[429],
    507: errors[507],
  },
});

/** The job backend, or 503 when the server runs without a job store. */
function backendOf(deps: JobRoutesDeps): JobsBackend {
  if (deps.jobs === null) throw new HttpError(503, 'unavailable', 'This server runs without a job store');
  return deps.jobs;
}

/** The caller's job, or a 404 that does not say whether the id exists for someone else. */
async function ownJobOf(deps: JobRoutesDeps, c: Context<AppEnv>, id: string): Promise<JobView> {
  const job = await backendOf(deps).get(id);
  if (job === null || job.owner !== c.get('owner')) {
    throw new HttpError(404, 'not_found', `No job ${id}`);
  }
  return job;
}

/** rcpt's `webhook` object, checked: its URL through the private-target filter, its headers. */
/**
 * Checks the fields of a JSON job beside its list (read by json-job-list.ts) as the app's schema
 * check words its 400 (app.ts), and returns its webhook, if any.
 */
async function readJobFields(
  deps: JobRoutesDeps,
  owner: string,
  given: JsonJobFields,
): Promise<JobWebhook | null> {
  const fields = JOB_FIELDS.safeParse(given);
  if (!fields.success) {
    const details = fields.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.') || '(body)',
      message: issue.message,
    }));
    throw new HttpError(400, 'bad_request', 'The request does not match the schema', {}, details);
  }
  const webhook = fields.data.webhook;
  return webhook === undefined ? null : readJobWebhook(deps, owner, webhook);
}

async function readJobWebhook(
  deps: JobRoutesDeps,
  owner: string,
  given: NonNullable<z.infer<typeof JobCreateJsonSchema>['webhook']>,
): Promise<JobWebhook> {
  if (!deps.canSignWebhooks(owner)) {
    throw new HttpError(
      400,
      'bad_request',
      'webhook: this server has no API keys, so no key to sign webhook calls with: set RCPT_WEBHOOK_SECRET',
    );
  }
  const target = {
    url: await checkWebhookUrl(given.url, deps.allowPrivateTargets),
    headers: checkWebhookHeaders(given.headers),
    extra: null,
  };
  const events = new Set(given.events ?? ['end']);
  return {
    onResult: events.has('result'),
    onEnd: events.has('end'),
    api: 'rcpt',
    result: events.has('result') ? target : null,
    end: events.has('end') ? target : null,
  };
}

/**
 * A `progress` event whenever the job's view changes (a comment line now and then to keep the
 * connection open), then `end` once it is finished; stops when the client leaves or the server stops.
 */
async function streamJobEvents(
  sse: SSEStreamingApi,
  jobs: JobsBackend,
  id: string,
  shutdown: AbortSignal | undefined,
): Promise<void> {
  let last = '';
  let quietSince = Date.now();
  let eventId = 0;
  while (!sse.aborted && !sse.closed && shutdown?.aborted !== true) {
    const job = await jobs.get(id);
    if (job === null) break;
    const view = jobResponse(job);
    const data = JSON.stringify(view);
    if (data !== last) {
      last = data;
      quietSince = Date.now();
      await sse.writeSSE({ event: 'progress', data, id: String(++eventId) });
    } else if (Date.now() - quietSince > EVENTS_KEEPALIVE_MS) {
      quietSince = Date.now();
      await sse.write(': keep-alive\n\n');
    }
    if (FINISHED.has(job.status)) {
      await sse.writeSSE({ event: 'end', data, id: String(eventId + 1) });
      break;
    }
    await sse.sleep(EVENTS_POLL_MS);
  }
}

export function registerJobRoutes(app: OpenAPIHono<AppEnv>, deps: JobRoutesDeps): void {
  const { limits, logger } = deps;
  const backend = (): JobsBackend => backendOf(deps);
  const ownJob = (c: Context<AppEnv>, id: string): Promise<JobView> => ownJobOf(deps, c, id);

  app.openAPIRegistry.register('JobRequest', JobCreateJsonSchema);
  app.openapi(CREATE_JOB_ROUTE, async (c) => {
    const jobs = backend();
    // The body is counted on the way in (body-limit.ts) and cut with a 413 at the upload limit.
    const type = mediaTypeOf(c);
    if (!isJsonType(type) && type !== 'text/csv' && type !== 'text/plain') {
      throw new HttpError(
        415,
        'unsupported_media_type',
        'Unsupported Media Type: send application/json, text/csv or text/plain',
      );
    }
    const body = await nonEmpty(c.req.raw.body);
    if (body === null) throw new HttpError(400, 'bad_request', 'The body is empty');
    const owner = c.get('owner');
    let spool: UploadSpool | null = null;
    let job: JobView;
    try {
      let input: JobInput;
      let webhook: JobWebhook | null = null;
      if (isJsonType(type)) {
        // Read to its end before the job exists, into a spool file rather than memory or the store:
        // a list refused on the way (413 at a limit, 400 malformed) costs a chunk of memory and
        // writes nothing to the store; one that passes is read back from the spool into it.
        spool = await UploadSpool.open(deps.spoolDirectory ?? tmpdir());
        const into = spool;
        const list = await readJsonJobList(body, {
          maxAddresses: limits.maxJobAddresses,
          onAddresses: (addresses) => into.write(addresses),
        });
        webhook = await readJobFields(deps, owner, list.fields);
        input = { kind: 'list', emails: spool.read() };
      } else {
        // Streamed into the store as it arrives (src/jobs/ingest.ts); a refused one is deleted.
        input = { kind: type === 'text/csv' ? 'csv' : 'text', body };
      }
      job = await jobs.create(owner, input, {
        maxAddresses: limits.maxJobAddresses,
        ...(webhook === null ? {} : { extra: { webhook } }),
      });
      logger.info({ key: owner, job: job.id, total: job.total, kind: input.kind }, 'job created');
    } catch (error) {
      if (error instanceof JobInputError) {
        throw new HttpError(
          error.tooLarge ? 413 : 400,
          error.tooLarge ? 'payload_too_large' : 'bad_request',
          error.message,
        );
      }
      throw storeFull(error);
    } finally {
      await spool?.close();
    }
    return c.json({ id: job.id, status: job.status, total: job.total }, 202, {
      Location: `/v1/jobs/${job.id}`,
    });
  });

  app.openapi(GET_JOB_ROUTE, async (c) => {
    const job = await ownJob(c, c.req.valid('param').id);
    return c.json(jobResponse(job), 200);
  });

  app.openapi(JOB_EVENTS_ROUTE, async (c) => {
    const id = c.req.valid('param').id;
    await ownJob(c, id);
    const jobs = backend();
    return streamSSE(c, (sse) => streamJobEvents(sse, jobs, id, deps.shutdown));
  });

  app.openapi(JOB_RESULTS_ROUTE, async (c) => {
    const id = c.req.valid('param').id;
    const query = c.req.valid('query');
    const format = query.format ?? 'csv';
    await ownJob(c, id);
    const lines = backend().results(id, format, { csvFormulas: query.csv_formulas ?? 'escape' });
    c.header('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    c.header(
      'Content-Disposition',
      `attachment; filename="rcpt-${id}.${format === 'csv' ? 'csv' : 'ndjson'}"`,
    );
    return stream(
      c,
      async (out) => {
        for await (const line of lines) {
          if (out.aborted) break;
          await out.write(line);
        }
      },
      async (error) => {
        logger.error({ err: error, job: id }, 'results stream failed');
        await Promise.resolve();
      },
    );
  });

  app.openapi(CANCEL_JOB_ROUTE, async (c) => {
    const id = c.req.valid('param').id;
    await ownJob(c, id);
    const job = await backend()
      .cancel(id)
      .catch((error: unknown) => {
        throw storeFull(error);
      });
    if (job === null) throw new HttpError(404, 'not_found', `No job ${id}`);
    logger.info({ key: c.get('owner'), job: id, status: job.status }, 'job cancelled');
    return c.json(jobResponse(job), 200);
  });
}
