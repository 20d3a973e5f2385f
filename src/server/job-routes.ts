/**
 * The `/v1/jobs` routes: create (a JSON list, CSV or plain text, each read as it streams), status,
 * live progress as server-sent events, streamed results, cancel. A job belongs to the key that made it:
 * any other key gets the same 404 as for a job that does not exist, so ids reveal nothing.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { stream, streamSSE, type SSEStreamingApi } from 'hono/streaming';

import { charsetOf, mediaTypeOf } from './body-limit.js';
import { HttpError } from './http-error.js';
import {
  checkUploadFields,
  createUploadedJob,
  jobErrorResponse,
  jobsBackendOf,
  requireSigningKey,
} from './job-upload.js';
import { JOB_LIST_SHAPE, type JsonJobFields } from './json-job-list.js';
import type { JobStatus, JobView, JobsBackend } from './jobs-port.js';
import { checkWebhookHeaders, checkWebhookUrl, type JobWebhook } from './webhooks.js';
import type { Logger } from './logger.js';
import type { AppEnv, Limits } from './app-env.js';
import {
  ErrorSchema,
  JobCreateJsonSchema,
  JobCreatedSchema,
  JobIdParamSchema,
  JobSchema,
  DeleteJobQuerySchema,
  ResultsQuerySchema,
  errorResponses,
} from './schemas.js';

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
    warnings: [...job.warnings],
  };
}

const errors = errorResponses(ErrorSchema, {
  401: 'Missing or unknown API key',
  404: 'No such job for this key',
  409: 'The job has not ended: cancel it before deleting it',
  429: 'Rate limited; see Retry-After',
  507: 'No space left on the server (the job store full, or the disk an upload waits on); nothing was changed',
});

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
   * Where an upload waits while its body arrives (upload-spool.ts): the job store's directory for a
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
    'Send `{"emails": […]}`, or a `text/csv` body (a header row; the address column is found by name: email, e-mail, address, mail) or a `text/plain` body (one address a line). Every upload is read as it streams and stored only once it has ended within the limits (50 MiB, 1,000,000 addresses; for JSON also strings of at most 65,536 characters, nesting of at most 16 levels, 64 KiB beside the list): a refused one stores nothing.',
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
  summary: 'Cancel a job, what is done staying downloadable; or, with purge=true, delete one that ended',
  security: [{ bearer: [] }],
  request: { params: JobIdParamSchema, query: DeleteJobQuerySchema },
  responses: {
    200: {
      description: 'The job after cancelling',
      content: { 'application/json': { schema: JobSchema } },
    },
    204: { description: 'Deleted with its results (purge=true)' },
    401: errors[401],
    404: errors[404],
    409: errors[409],
    429: errors[429],
    507: errors[507],
  },
});

/** The caller's job, or a 404 that does not say whether the id exists for someone else. */
async function ownJobOf(deps: JobRoutesDeps, c: Context<AppEnv>, id: string): Promise<JobView> {
  const job = await jobsBackendOf(deps.jobs).get(id);
  if (job === null || job.owner !== c.get('owner')) {
    throw new HttpError(404, 'not_found', `No job ${id}`);
  }
  return job;
}

/**
 * Checks the fields of a JSON job beside its list (read by json-job-list.ts) as the app's schema
 * check words its 400 (app.ts), and returns its webhook, if any.
 */
async function readJobFields(
  deps: JobRoutesDeps,
  owner: string,
  given: JsonJobFields,
): Promise<JobWebhook | null> {
  const webhook = checkUploadFields(JOB_FIELDS, given).webhook;
  return webhook === undefined ? null : readJobWebhook(deps, owner, webhook);
}

/** rcpt's `webhook` object, checked: its URL through the private-target filter, its headers. */
async function readJobWebhook(
  deps: JobRoutesDeps,
  owner: string,
  given: NonNullable<z.infer<typeof JobCreateJsonSchema>['webhook']>,
): Promise<JobWebhook> {
  requireSigningKey(deps.canSignWebhooks, owner);
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

/**
 * Counts one more event stream of `owner` in `open`, or answers 429 when it holds `max` already;
 * returns what to call when the stream ends.
 */
function holdEventStream(open: Map<string, number>, owner: string, max: number): () => void {
  const held = open.get(owner) ?? 0;
  if (held >= max) {
    throw new HttpError(
      429,
      'rate_limited',
      `At most ${max} event streams open at once per key: close one, or read the job with GET /v1/jobs/{id}`,
    );
  }
  open.set(owner, held + 1);
  return () => {
    const left = (open.get(owner) ?? 1) - 1;
    if (left === 0) open.delete(owner);
    else open.set(owner, left);
  };
}

export function registerJobRoutes(app: OpenAPIHono<AppEnv>, deps: JobRoutesDeps): void {
  const { logger } = deps;
  const backend = (): JobsBackend => jobsBackendOf(deps.jobs);
  const ownJob = (c: Context<AppEnv>, id: string): Promise<JobView> => ownJobOf(deps, c, id);
  const openStreams = new Map<string, number>();

  app.openAPIRegistry.register('JobRequest', JobCreateJsonSchema);
  app.openapi(CREATE_JOB_ROUTE, async (c) => {
    // The body is counted on the way in (body-limit.ts) and cut with a 413 at the upload limit.
    const owner = c.get('owner');
    const job = await createUploadedJob(deps, {
      owner,
      body: c.req.raw.body,
      mediaType: mediaTypeOf(c),
      charset: charsetOf(c),
      jsonOnly: false,
      shape: JOB_LIST_SHAPE,
      extraOf: async (fields) => {
        const webhook = await readJobFields(deps, owner, fields);
        return webhook === null ? {} : { webhook };
      },
    });
    logger.info({ key: owner, job: job.id, total: job.total, kind: job.options.input }, 'job created');
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
    const release = holdEventStream(openStreams, c.get('owner'), deps.limits.maxEventStreams);
    return streamSSE(c, async (sse) => {
      try {
        await streamJobEvents(sse, jobs, id, deps.shutdown);
      } finally {
        release();
      }
    });
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
    if (c.req.valid('query').purge === 'true') {
      const deleted = await backend()
        .delete(id)
        .catch((error: unknown) => {
          throw jobErrorResponse(error);
        });
      if (deleted === null) throw new HttpError(404, 'not_found', `No job ${id}`);
      if (deleted === 'unfinished') {
        throw new HttpError(
          409,
          'conflict',
          `Job ${id} has not ended: cancel it (DELETE /v1/jobs/${id}), then delete it once it is cancelled`,
        );
      }
      logger.info({ key: c.get('owner'), job: id }, 'job deleted');
      return c.body(null, 204);
    }
    const job = await backend()
      .cancel(id)
      .catch((error: unknown) => {
        throw jobErrorResponse(error);
      });
    if (job === null) throw new HttpError(404, 'not_found', `No job ${id}`);
    logger.info({ key: c.get('owner'), job: id, status: job.status }, 'job cancelled');
    return c.json(jobResponse(job), 200);
  });
}
