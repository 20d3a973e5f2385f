/**
 * The HTTP API and web page of `rcpt serve` as a value (the hono model): `createApp(deps)` builds the
 * app, testable with `app.request()` without a port; `startServer()` (server.ts) puts it on a socket.
 * Routes and schemas are declared with @hono/zod-openapi, so `/openapi.json` is generated from the
 * same declarations that validate requests. Errors become JSON responses in one place (`onError`).
 */
import { createRequire } from 'node:module';
import { hostname } from 'node:os';

import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';

import { DEFAULT_SMTP_PORT, DEFAULT_TIMEOUT_MS } from '../index.js';
import type { Verifier, VerifyCallOptions, VerifyResult } from '../index.js';
import type { DoctorOptions } from '../index.js';
import { loadWebAssets } from '../web/assets.js';
import { LOCAL_OWNER, createApiKeys, presentedKey, type ApiKeys } from './auth.js';
import { limitBodies } from './body-limit.js';
import { clientKey } from './connection-limits.js';
import { guardOrigin } from './origin-guard.js';
import { renderDocsPage } from './docs-page.js';
import { registerDoctorRoute, type DoctorRoute } from './doctor-route.js';
import { registerExplainRoute } from './explain-route.js';
import { HttpError, errorResponse, schemaMessage } from './http-error.js';
import { registerJobRoutes } from './job-routes.js';
import type { JobsBackend } from './jobs-port.js';
import { createLogger, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { isReacherPath, registerReacherRoutes } from './reacher-routes.js';
import { DEFAULT_RATE_LIMIT } from './defaults.js';
import { routeTable, type RouteTable } from './route-table.js';
import type { AppEnv, Limits } from './app-env.js';
import { webhookSecrets } from './webhooks.js';
import {
  NO_PROXIES,
  type ProxyPolicy,
  type ReacherSetting,
  type ServerSmtpSettings,
} from './reacher-settings.js';
import { createRateLimiter, type RateLimitOptions, type RateLimiter } from './rate-limit.js';
import { ErrorSchema, ResultSchema, VerifyManyResponseSchema, VerifyRequestSchema } from './schemas.js';

export type { AppEnv, Limits };

/** A JSON body of a few addresses is well under a kilobyte; 64 KiB leaves room and stops abuse. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
/** A synchronous call holds a connection open while SMTP servers answer: keep batches small. */
export const DEFAULT_MAX_SYNC_ADDRESSES = 10;
/** The verifier's own deadline is 60 s per address; a greylist retry may add to it. */
export const DEFAULT_SYNC_DEADLINE_MS = 90_000;
/** Reacher's bulk limit is 50 MB; a 1 M-row CSV export of names and addresses fits. */
export const DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
export const DEFAULT_MAX_JOB_ADDRESSES = 1_000_000;
/**
 * A page follows a job with one event stream, and a stream lasts as long as its job (hours for a long
 * list): the rate limit bounds how fast a key opens them, not how many it holds, so this does.
 */
export const DEFAULT_MAX_EVENT_STREAMS = 20;
/**
 * Wrong API keys per client address: 20 at once, then 10 a minute (a mistyped key is retried a few
 * times; guessing needs millions). Past it, 429 with Retry-After, whatever the key.
 */
export const AUTH_FAILURE_LIMIT: RateLimitOptions = { perMinute: 10, burst: 20 };

export interface AppDeps {
  /** Verifies addresses; the server owns its lifecycle. */
  readonly verifier: Verifier;
  /** The job store and runner; without it the `/v1/jobs` routes answer 503. */
  readonly jobs?: JobsBackend | null;
  /**
   * Where a job upload (`/v1/jobs`, Reacher's `/v1/bulk`) waits while its body arrives
   * (upload-spool.ts), an unlinked file: the SQLite job store's directory. Default: the system's
   * temporary directory.
   */
  readonly uploadSpoolDirectory?: string;
  /** Accepted API keys. Empty: no authentication (the server then listens on loopback only). */
  readonly apiKeys?: readonly string[];
  /** Per-key token bucket; `null` turns rate limiting off. Default 300 a minute, bursts of 60. */
  readonly rateLimit?: RateLimitOptions | null;
  readonly limits?: Partial<Limits>;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Log verified addresses (off by default: they are personal data). */
  readonly logAddresses?: boolean;
  /** Aborted when the server shuts down: event streams end at once instead of holding it open. */
  readonly shutdown?: AbortSignal;
  /** The name in Reacher's `debug.backend_name`. Default `rcpt`. */
  readonly backendName?: string;
  /** Options of `GET /v1/doctor`: the server's HELO, MAIL FROM and DNS servers. Default: runDoctor()'s. */
  readonly doctor?: DoctorOptions;
  /**
   * The ways the server's verifications leave, each checked by `GET /v1/doctor`: proxy URLs, `null`
   * for direct (`doctorRoutes(verify)`). Default: `doctor.proxy`, or direct.
   */
  readonly doctorRoutes?: readonly DoctorRoute[];
  /** API keys that may call operator-only routes (`GET /v1/doctor`); without API keys, the local caller may. */
  readonly operatorKeys?: readonly string[];
  /**
   * Host names (or addresses) the server is reached by besides loopback, e.g. a proxy's name. Without
   * API keys only loopback names and these are answered (DNS rebinding); with keys, when given, only
   * these.
   */
  readonly allowedHosts?: readonly string[];
  /** What Reacher's routes let a request set (`rcpt serve --reacher-lock`); default: everything but proxies. */
  readonly reacher?: {
    /** Settings a request may not set: refused with 403. */
    readonly locked?: ReadonlySet<ReacherSetting>;
    /** Which proxies a request may name. Default: none configured, so every proxy is refused. */
    readonly proxies?: ProxyPolicy;
  };
  /**
   * How the verifier presents itself, echoed in Reacher's `debug.smtp.verif_method` when a request sets
   * nothing. Default: the verifier's defaults (`rcpt serve` passes its options).
   */
  readonly webhooks?: {
    /** Webhook URLs may reach loopback and private addresses (`--allow-private-targets`). Default false. */
    readonly allowPrivateTargets?: boolean;
    /** The signing secret of the local caller when the server runs without keys (`RCPT_WEBHOOK_SECRET`). */
    readonly localSecret?: string;
  };
  readonly smtp?: {
    readonly helo?: string;
    readonly mailFrom?: string;
    readonly port?: number;
    readonly timeoutMs?: number;
  };
}

export type App = OpenAPIHono<AppEnv>;

/** The package's version, from its package.json (two levels up from src/server and from dist/server). */
const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

const API_PATHS = ['/v1/*', '/v0/*'] as const;

function verifyRoute() {
  return createRoute({
    method: 'post',
    path: '/v1/verify',
    summary: 'Verify one address, or a few, synchronously',
    description:
      'Send `{"email": "…"}` for one result, or `{"emails": […]}` (up to the configured few) for `{"results": […]}` in input order.',
    security: [{ bearer: [] }],
    request: {
      body: { content: { 'application/json': { schema: VerifyRequestSchema } }, required: true },
    },
    responses: {
      200: {
        description: 'The result (one address) or results (a list)',
        content: { 'application/json': { schema: z.union([ResultSchema, VerifyManyResponseSchema]) } },
      },
      400: { description: 'Malformed request', content: { 'application/json': { schema: ErrorSchema } } },
      401: {
        description: 'Missing or unknown API key',
        content: { 'application/json': { schema: ErrorSchema } },
      },
      413: {
        description: 'Body or list too large',
        content: { 'application/json': { schema: ErrorSchema } },
      },
      429: {
        description: 'Rate limited; see Retry-After',
        content: { 'application/json': { schema: ErrorSchema } },
      },
    },
  });
}

/** How the verifier presents itself, from its options with the library's defaults filled in. */
export function serverSmtpSettings(smtp: AppDeps['smtp']): ServerSmtpSettings {
  return {
    fromEmail: smtp?.mailFrom ?? '',
    helloName: smtp?.helo ?? hostname(),
    smtpPort: smtp?.port ?? DEFAULT_SMTP_PORT,
    timeoutMs: smtp?.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
}

/** Builds the app. It owns no sockets: close `deps.verifier`, `deps.jobs` and `deps.metrics` yourself. */
export function createApp(deps: AppDeps): App {
  const limits = resolveLimits(deps);
  const logger = deps.logger ?? createLogger({ level: 'silent' });
  const keys = createApiKeys(deps.apiKeys ?? []);
  const rateLimit = deps.rateLimit === undefined ? DEFAULT_RATE_LIMIT : deps.rateLimit;
  const secretOf = webhookSecrets(deps.apiKeys ?? [], deps.webhooks?.localSecret);
  const app = newApp(logger);

  app.use('*', observeRequests(logger, deps.metrics ?? null));
  app.use('*', securityHeaders);
  app.use('*', guardOrigin({ keyless: !keys.required, allowedHosts: deps.allowedHosts ?? [] }));
  const authenticate = authenticator(keys, createRateLimiter(AUTH_FAILURE_LIMIT));
  const charge = charger(rateLimit);
  const chargeOne: MiddlewareHandler<AppEnv> = async (c, next) => {
    charge(c, 1);
    await next();
  };
  for (const path of API_PATHS) {
    app.use(path, authenticate);
    app.use(path, chargeOne);
  }
  app.use('/metrics', authenticate);
  app.use('*', bodyLimits(limits));

  /** Verifies with the request's deadline: a client that hangs up stops its probes. */
  const verifyFor = (
    c: Context<AppEnv>,
    address: string,
    call: Omit<VerifyCallOptions, 'signal'> = {},
  ): Promise<VerifyResult> => {
    const signal = AbortSignal.any([AbortSignal.timeout(limits.syncDeadlineMs), c.req.raw.signal]);
    return deps.verifier.verify(address, { ...call, signal });
  };
  const logResults = (owner: string, results: readonly VerifyResult[]): void => {
    logVerified(logger, deps.logAddresses === true, owner, results);
  };
  registerVerifyRoute(app, limits, charge, verifyFor, logResults);
  registerReacherRoutes(app, {
    verify: verifyFor,
    logResults,
    logger,
    settings: {
      locked: deps.reacher?.locked ?? new Set(),
      proxies: deps.reacher?.proxies ?? NO_PROXIES,
      maxTimeoutMs: limits.syncDeadlineMs,
    },
    server: serverSmtpSettings(deps.smtp),
    backendName: deps.backendName ?? 'rcpt',
    jobs: deps.jobs ?? null,
    limits,
    allowPrivateTargets: deps.webhooks?.allowPrivateTargets === true,
    canSignWebhooks: (owner) => secretOf(owner) !== null,
    ...(deps.uploadSpoolDirectory === undefined ? {} : { spoolDirectory: deps.uploadSpoolDirectory }),
  });
  registerJobRoutes(app, {
    jobs: deps.jobs ?? null,
    limits,
    logger,
    allowPrivateTargets: deps.webhooks?.allowPrivateTargets === true,
    canSignWebhooks: (owner) => secretOf(owner) !== null,
    ...(deps.shutdown === undefined ? {} : { shutdown: deps.shutdown }),
    ...(deps.uploadSpoolDirectory === undefined ? {} : { spoolDirectory: deps.uploadSpoolDirectory }),
  });
  registerExplainRoute(app);
  registerDoctorRoute(app, {
    options: deps.doctor ?? {},
    ...(deps.doctorRoutes === undefined ? {} : { routes: deps.doctorRoutes }),
    operatorKeys: deps.operatorKeys ?? [],
  });
  registerServiceRoutes(app, deps, keys.required);
  return app;
}

/** The request limits, the defaults filled in. */
function resolveLimits(deps: AppDeps): Limits {
  return {
    maxBodyBytes: deps.limits?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxSyncAddresses: deps.limits?.maxSyncAddresses ?? DEFAULT_MAX_SYNC_ADDRESSES,
    syncDeadlineMs: deps.limits?.syncDeadlineMs ?? DEFAULT_SYNC_DEADLINE_MS,
    maxUploadBytes: deps.limits?.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    maxJobAddresses: deps.limits?.maxJobAddresses ?? DEFAULT_MAX_JOB_ADDRESSES,
    maxEventStreams: deps.limits?.maxEventStreams ?? DEFAULT_MAX_EVENT_STREAMS,
  };
}

/** The bare app: schema failures and errors answered as JSON in one place, unknown routes as 404. */
function newApp(logger: Logger): App {
  const app: App = new OpenAPIHono<AppEnv>({
    // Validation failures become the same JSON error as everything else, with each field's problem.
    defaultHook: (result, c) => {
      if (!result.success) {
        const issues = result.error.issues;
        if (result.target === 'param') throw notFoundParam(c, issues[0]?.path[0]);
        const details = issues.map((issue) => ({
          path: issue.path.map(String).join('.') || '(body)',
          message: issue.message,
        }));
        if (result.target === 'query') throw badQuery(c, details);
        const body = (result as { data?: unknown }).data;
        throw new HttpError(400, 'bad_request', schemaMessage(issues, body), {}, details);
      }
      return undefined;
    },
  });

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API key from RCPT_API_KEYS or the key file (none needed when the server runs without keys)',
  });
  const table = routeTable(app);
  app.onError((error, c) =>
    errorResponse(
      unsupportedTypeSaid(error, c, table),
      c,
      (internal) => {
        logger.error({ err: internal, method: c.req.method }, 'request failed');
      },
      // Reacher's body on its routes, also when a trailing slash missed them.
      isReacherPath(c.req.path.replace(/\/+$/, '')) ? 'reacher' : 'rcpt',
    ),
  );
  app.notFound((c) => {
    // A path that is routed for other methods: 405 with what it takes (RFC 9110 §15.5.6).
    const allowed = table.allowedMethods(c.req.path);
    if (allowed.length > 0) {
      throw new HttpError(
        405,
        'method_not_allowed',
        `${c.req.method} is not allowed on ${c.req.path}: use ${orList(allowed)}`,
        { Allow: allowed.join(', ') },
      );
    }
    // A trailing slash (`/v1/verify/`, a base URL joined with a path) names the route it meant.
    const trimmed = c.req.path.replace(/\/+$/, '');
    const meant =
      trimmed !== c.req.path && trimmed !== '' && table.allowedMethods(trimmed).length > 0
        ? `: did you mean ${trimmed} (without the trailing /)?`
        : '';
    throw new HttpError(404, 'not_found', `No route for ${c.req.method} ${c.req.path}${meant}`);
  });
  return app;
}

/**
 * A path parameter no job can have (`/v1/bulk/abc`, an id of 200 characters) names no job: the same 404
 * as an id nobody has, in the words of the route (every path parameter is a job's id).
 */
function notFoundParam(c: Context, name: PropertyKey | undefined): HttpError {
  const given = typeof name === 'string' ? (c.req.param(name) ?? '') : '';
  const shown = given.length > MAX_ECHOED_PARAM ? `${given.slice(0, MAX_ECHOED_PARAM)}…` : given;
  // Reacher's job ids are numbers (its POST /v1/bulk answers one): say so, as a client may send rcpt's.
  const hint = name === 'job_id' ? ': a job_id is a positive integer, as POST /v1/bulk answers it' : '';
  return new HttpError(404, 'not_found', `No job ${shown}${hint}`);
}

/** Longest path parameter repeated in a 404: enough to recognise, short of echoing a whole URL back. */
const MAX_ECHOED_PARAM = 100;

/**
 * A query parameter with a value the route does not take: its name, what it takes (the schema's own
 * message, written for people) and what was sent, in one line (`format must be csv or ndjson (got
 * "xml")`), the same on rcpt's routes and Reacher's.
 */
function badQuery(c: Context, details: readonly { path: string; message: string }[]): HttpError {
  const message = details
    .map(({ path, message: what }) => `${what} (got ${JSON.stringify(c.req.query(path) ?? '')})`)
    .join('; ');
  return new HttpError(400, 'bad_request', message);
}

/** `a`, `a or b`, `a, b or c`. */
function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/**
 * The `415` of a route's body validator (@hono/zod-openapi says only "Unsupported Media Type") with
 * what to send: the media types the route declares.
 */
function unsupportedTypeSaid(error: Error, c: Context<AppEnv>, table: RouteTable): Error {
  if (!(error instanceof HTTPException) || error.status !== 415) return error;
  const types = table.bodyTypes(c.req.method, routePath(c));
  const sent = c.req.header('content-type');
  const named = orList(types.length === 0 ? ['application/json'] : types);
  return new HttpError(
    415,
    'unsupported_media_type',
    `Unsupported Media Type (${sent ?? 'no Content-Type'}): send the body as ${named}, and say so in Content-Type`,
  );
}

/** One log line and one metric per request: route pattern, status, time, caller's key id; no bodies. */
function observeRequests(logger: Logger, metrics: Metrics | null): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const pattern = routePath(c, -1);
    const route = pattern === '*' ? '(unmatched)' : pattern;
    metrics?.observeRequest(c.req.method, route, c.res.status, seconds);
    logger.info(
      {
        method: c.req.method,
        route,
        status: c.res.status,
        ms: Math.round(seconds * 1000),
        key: c.get('owner'),
      },
      'request',
    );
  };
}

/** Pages are same-origin only: no inline script, no framing, no sniffing. */
const securityHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  c.res.headers.set('X-Content-Type-Options', 'nosniff');
  c.res.headers.set('Referrer-Policy', 'no-referrer');
  if (c.res.headers.get('Content-Type')?.startsWith('text/html') === true) {
    c.res.headers.set(
      'Content-Security-Policy',
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
  }
};

/**
 * Sets the caller's key id as `owner`, or answers 401 (no key, an unknown key); guessing keys is
 * slowed per client address by `authFailures`.
 */
function authenticator(keys: ApiKeys, authFailures: RateLimiter): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!keys.required) {
      c.set('owner', LOCAL_OWNER);
      return next();
    }
    const presented = presentedKey(c.req.header('authorization'), c.req.header('x-reacher-secret'));
    const owner = presented === null ? null : keys.identify(presented);
    if (owner === null && presented !== null) {
      // Guessing keys is slowed per client address; a right key still passes.
      const decision = authFailures.take(clientAddress(c));
      if (!decision.allowed) {
        throw new HttpError(
          429,
          'rate_limited',
          `Too many wrong API keys from this address; retry in ${decision.retryAfterSeconds} s`,
          { 'Retry-After': String(decision.retryAfterSeconds) },
        );
      }
    }
    if (owner === null) {
      throw new HttpError(
        401,
        'unauthorized',
        presented === null
          ? 'This server needs an API key: send "Authorization: Bearer <key>"'
          : 'Unknown API key',
        { 'WWW-Authenticate': 'Bearer realm="rcpt"' },
      );
    }
    c.set('owner', owner);
    return next();
  };
}

/** Spends `cost` tokens of the caller's bucket, or answers 429 with when to come back. */
function charger(rateLimit: RateLimitOptions | null): (c: Context<AppEnv>, cost: number) => void {
  const limiter = rateLimit === null ? null : createRateLimiter(rateLimit);
  return (c, cost) => {
    if (limiter === null) return;
    const decision = limiter.take(c.get('owner'), cost);
    if (!decision.allowed) {
      throw new HttpError(
        429,
        'rate_limited',
        `Rate limit of ${rateLimit?.perMinute ?? 0} a minute reached for this key; retry in ${decision.retryAfterSeconds} s`,
        { 'Retry-After': String(decision.retryAfterSeconds) },
      );
    }
  };
}

/**
 * Every body of every route, counted as it arrives whatever its framing: job uploads (rcpt's and
 * Reacher's) up to their own limit, streamed into their spool; everything else up to `maxBodyBytes`,
 * routes added later included.
 */
function bodyLimits(limits: Limits): MiddlewareHandler<AppEnv> {
  return limitBodies(
    limits.maxBodyBytes,
    [
      {
        method: 'POST',
        path: '/v1/jobs',
        maxBytes: limits.maxUploadBytes,
        // Every kind is read as it streams into its spool (job-upload.ts).
        streams: () => true,
      },
      // Reacher's bulk list the same way, up to the same upload limit.
      { method: 'POST', path: '/v1/bulk', maxBytes: limits.maxUploadBytes, streams: () => true },
    ],
    (rule) => (rule === null ? '; for long lists, create a job (POST /v1/jobs)' : ''),
  );
}

function logVerified(
  logger: Logger,
  logAddresses: boolean,
  owner: string,
  results: readonly VerifyResult[],
): void {
  for (const result of results) {
    logger.info(
      {
        key: owner,
        verdict: result.verdict,
        reason: result.reason,
        ms: result.durationMs,
        ...(logAddresses ? { address: result.input } : {}),
      },
      'verified',
    );
  }
}

/** `POST /v1/verify`: one address, or a short list, verified within the request. */
function registerVerifyRoute(
  app: App,
  limits: Limits,
  charge: (c: Context<AppEnv>, cost: number) => void,
  verifyFor: (c: Context<AppEnv>, address: string) => Promise<VerifyResult>,
  logResults: (owner: string, results: readonly VerifyResult[]) => void,
): void {
  app.openapi(verifyRoute(), async (c) => {
    const body = c.req.valid('json');
    const single = body.email !== undefined;
    if (single === (body.emails !== undefined)) {
      throw new HttpError(
        400,
        'bad_request',
        'Send either "email" (a string) or "emails" (an array of strings)',
      );
    }
    // Surrounding white space (a pasted address, a form field's newline) is trimmed, as a job's list
    // and the CLI trim it, so one address has one verdict whichever way it comes.
    const emails = (body.emails ?? [body.email ?? '']).map((email) => email.trim());
    if (emails.length === 0) throw new HttpError(400, 'bad_request', '"emails" is empty');
    if (emails.length > limits.maxSyncAddresses) {
      throw new HttpError(
        413,
        'payload_too_large',
        `At most ${limits.maxSyncAddresses} addresses per synchronous request (got ${emails.length}); create a job (POST /v1/jobs) for more`,
      );
    }
    // The first token was spent by the API middleware; a list pays one per address.
    charge(c, emails.length - 1);
    const results = await Promise.all(emails.map((email) => verifyFor(c, email)));
    logResults(c.get('owner'), results);
    if (single) return c.json(results[0] as VerifyResult, 200);
    return c.json({ results }, 200);
  });
}

/** Health, the version, metrics, the OpenAPI document and its page, and the web page's files. */
function registerServiceRoutes(app: App, deps: AppDeps, keysRequired: boolean): void {
  const metrics = deps.metrics ?? null;
  app.get('/healthz', (c) =>
    c.json({ status: 'ok', jobs: deps.jobs != null, auth: keysRequired ? 'api-key' : 'none' }),
  );
  // Reacher's `GET /version`, in its shape and like it without a key: its clients and health checks
  // call it. The version is rcpt's own.
  app.get('/version', (c) => c.json({ version: VERSION }));
  app.get('/metrics', async (c) => {
    if (metrics === null) throw new HttpError(404, 'not_found', 'Metrics are not enabled on this server');
    return c.body(await metrics.render(), 200, { 'Content-Type': metrics.registry.contentType });
  });
  const openApiDocument = () =>
    app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: {
        title: 'rcpt',
        version: '1',
        description:
          'Email address verification: syntax, DNS and SMTP, with a verdict and its evidence. Every result has the same fields; `verdict` is one of deliverable, undeliverable, risky, unknown, and `reason` one code of the Result schema.',
      },
    });
  app.get('/openapi.json', (c) => c.json(openApiDocument()));
  app.get('/docs', (c) => c.html(renderDocsPage(openApiDocument())));
  for (const [path, asset] of loadWebAssets()) {
    app.get(path, (c) =>
      c.body(asset.body, 200, { 'Content-Type': asset.type, 'Cache-Control': 'no-cache', ETag: asset.etag }),
    );
  }
}

/**
 * The client as the socket saw it, counted as the connection caps count it (`clientKey()`: an IPv6
 * client by its /64, which it could otherwise spread its guesses over); `unknown` under
 * `app.request()`, without a socket.
 */
function clientAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return clientKey(env?.incoming?.socket?.remoteAddress);
}
