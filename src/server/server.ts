/**
 * `startServer()`: the app of app.ts on a real socket (@hono/node-server), with its verifier, job
 * store, metrics and logs, and one `close()` that stops everything in order.
 */
import { mkdir } from 'node:fs/promises';
import type { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';

import { createAdaptorServer } from '@hono/node-server';

import { createVerifier, type Verifier, type VerifyOptions } from '../index.js';
import {
  openSqliteJobStore,
  storedHostLimitsFor,
  type JobStore,
  type StoredHostLimitsFacts,
} from '../jobs/index.js';
import { isPostgresUrl, openScaleOut } from '../jobs/postgres/index.js';
import type { DoctorOptions } from '../index.js';
import type { JobSettings } from '../jobs/index.js';
import { answerClientErrors } from './client-errors.js';
import { limitedServerFactory, type ConnectionLimits } from './connection-limits.js';
import { createApp, serverSmtpSettings, type App, type AppDeps, type Limits } from './app.js';
import { DEFAULT_HOST, DEFAULT_PORT } from './defaults.js';
import { createJobsBackend, type ClosableJobsBackend } from './jobs-backend.js';
import { doctorRoutes } from './doctor-route.js';
import { lingerOnUnreadBodies } from './lingering-close.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createWebhookSource } from './webhook-source.js';
import { WebhookSender, webhookSecrets } from './webhooks.js';
import type { RateLimitOptions } from './rate-limit.js';

export { DEFAULT_HOST, DEFAULT_PORT };

/** Requests in flight get this long to finish on shutdown before their connections are cut. */
export const SHUTDOWN_GRACE_MS = 5_000;
/** How often idle keep-alive connections are closed while shutting down. */
const IDLE_SWEEP_MS = 50;

export interface ServerOptions {
  /** Default 8025; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. Without API keys the server binds loopback whatever this says. */
  readonly host?: string;
  /** How to verify (DNS servers, HELO, MAIL FROM, timeouts, private targets). */
  readonly verify?: VerifyOptions;
  readonly apiKeys?: readonly string[];
  /**
   * The job store: a SQLite file, created with its folder when missing. Without it (and without
   * `jobs`), the `/v1/jobs` routes answer 503.
   */
  readonly db?: string;
  /** The PostgreSQL schema when `db` is a `postgres://` URL (scale-out). Default `rcpt`. */
  readonly pgSchema?: string;
  /** A job backend of the caller's own (tests); wins over `db`. */
  readonly jobs?: ClosableJobsBackend | null;
  /** Jobs verified at once. Default 2. */
  readonly runningJobs?: number;
  /** How long a job of the API is kept once it ended, in ms; `Infinity`: for ever. Default 30 days. */
  readonly keepFinishedJobsMs?: number;
  /** Addresses of a job's turn when keys share the running places (see `JobsBackendOptions`). */
  readonly turnAddresses?: number;
  /** How long a job that gave its place may answer what it had read (see `JobsBackendOptions`). */
  readonly pauseGraceMs?: number;
  /** `verify` as the flags that set it, recorded with each job (see `JobsBackendOptions.settings`). */
  readonly jobSettings?: JobSettings;
  /** Resume jobs that began with other settings with these (see `JobsBackendOptions`). */
  readonly overrideSettings?: boolean;
  readonly rateLimit?: RateLimitOptions | null;
  readonly limits?: Partial<Limits>;
  /** How many connections it holds, in all and per client, and how long idle or slow ones may stay. */
  readonly connections?: ConnectionLimits;
  readonly logger?: Logger;
  readonly logAddresses?: boolean;
  /** Collect Node process metrics (CPU, memory, event loop) too. Default true. */
  readonly processMetrics?: boolean;
  /**
   * Options of `GET /v1/doctor` (see `createApp`). It checks every proxy of `verify` and the direct
   * route when some mail goes direct, unless these name a `proxy` of their own.
   */
  readonly doctor?: DoctorOptions;
  /** API keys that may call `GET /v1/doctor` (they must also be among `apiKeys`). */
  readonly operatorKeys?: readonly string[];
  /** What Reacher's routes let a request set (see `createApp`). */
  readonly reacher?: AppDeps['reacher'];
  /** Host names the server answers besides loopback (see `createApp`). */
  readonly allowedHosts?: readonly string[];
  /** Webhook calls of jobs: the local caller's secret without keys, and the sender's timings. */
  readonly webhooks?: {
    readonly localSecret?: string;
    readonly pollMs?: number;
    readonly backoffMs?: number;
    readonly maxBackoffMs?: number;
    readonly maxAttempts?: number;
    readonly timeoutMs?: number;
  };
}

export interface RunningServer {
  readonly app: App;
  /** Where it listens, e.g. `http://127.0.0.1:8025`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish (up to a grace period), then closes everything. */
  close(): Promise<void>;
}

/** Loopback: the only place a server without keys may listen (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  return /^127(\.\d{1,3}){3}$/.test(host) || host === '::1' || host === '[::1]' || host === 'localhost';
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger();
  const apiKeys = options.apiKeys ?? [];
  const host = listenHost(options, logger);
  const verifyOptions = options.verify ?? {};
  if (verifyOptions.allowPrivateTargets === true) {
    logger.warn('private targets allowed: this server will probe loopback and private networks');
  }
  // A SQLite job store opens first: what earlier runs on it learned of the hosts' limits is where
  // this verifier starts (docs/bulk.md, "What is kept between runs").
  const sqlite = options.jobs === undefined ? await openSqliteJobs(options, verifyOptions, logger) : null;
  let verifier: Verifier;
  try {
    verifier = createVerifier(
      sqlite === null ? verifyOptions : { ...verifyOptions, hostLimits: sqlite.hostLimits },
    );
  } catch (error) {
    await sqlite?.store.close();
    throw error;
  }
  const metrics = createMetrics({ processMetrics: options.processMetrics ?? true });
  const toClose: (() => Promise<void> | void)[] = [
    () => {
      metrics.close();
    },
    () => verifier.close(),
  ];
  try {
    const jobs = options.jobs ?? (await openJobs(options, verifier, logger, toClose, sqlite));
    const smtp = smtpSettingsOf(verifyOptions);
    const allowPrivateTargets = verifyOptions.allowPrivateTargets === true;
    const { localSecret, ...senderTimings } = options.webhooks ?? {};
    if (jobs !== null) {
      // Running jobs stop first (they go back to queued, resumable), then the verifier closes.
      toClose.unshift(() => jobs.close());
      metrics.setQueueDepth(() => jobs.queueDepth());
      // Unfinished jobs that began with other settings stop the start (JobSettingsError), before
      // this server listens.
      await jobs.resumed;
      // Webhook calls owed by any job of the store, sent from here; stopped before the store closes.
      const sender = new WebhookSender({
        source: createWebhookSource(jobs, serverSmtpSettings(smtp), 'rcpt'),
        secretOf: webhookSecrets(apiKeys, localSecret),
        allowPrivateTargets,
        logger,
        ...senderTimings,
      });
      sender.start();
      toClose.unshift(() => sender.close());
    }
    const shutdown = new AbortController();
    const app = createApp({
      shutdown: shutdown.signal,
      verifier,
      jobs,
      // A JSON list waits beside the SQLite store, on the disk chosen for job data.
      ...(sqlite === null || options.db === undefined
        ? {}
        : { uploadSpoolDirectory: dirname(resolve(options.db)) }),
      apiKeys,
      ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      logger,
      metrics,
      logAddresses: options.logAddresses === true,
      ...(options.doctor === undefined ? {} : { doctor: options.doctor }),
      // Every proxy and the direct route the verifier may use; a doctor's own `proxy` is checked alone.
      ...(options.doctor?.proxy === undefined ? { doctorRoutes: doctorRoutes(verifyOptions) } : {}),
      ...(options.operatorKeys === undefined ? {} : { operatorKeys: options.operatorKeys }),
      ...(options.reacher === undefined ? {} : { reacher: options.reacher }),
      ...(options.allowedHosts === undefined ? {} : { allowedHosts: options.allowedHosts }),
      // Echoed in Reacher's debug.smtp.verif_method when a request sets none of its own.
      smtp,
      webhooks: { allowPrivateTargets, ...(localSecret === undefined ? {} : { localSecret }) },
    });
    // A body still arriving after its response is ours to drop and close on (lingering-close.ts):
    // the adapter's own clean-up closes it after 500 ms, before a slow client has read its answer.
    const server = createAdaptorServer({
      fetch: app.fetch,
      autoCleanupIncoming: false,
      // Its caps and deadlines (connection-limits.ts); @hono/node-server would create Node's defaults.
      createServer: limitedServerFactory(options.connections ?? {}, logger) as typeof createServer,
    }) as Server;
    answerClientErrors(server);
    lingerOnUnreadBodies(server);
    await listen(server, options.port ?? DEFAULT_PORT, host);
    const address = server.address() as AddressInfo;
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    logger.info(
      { url, auth: apiKeys.length > 0 ? `${apiKeys.length} API key(s)` : 'none', jobs: jobs !== null },
      'listening',
    );
    let closing: Promise<void> | null = null;
    return {
      app,
      url,
      host: address.address,
      port: address.port,
      close() {
        closing ??= closeGracefully(server, shutdown, toClose, logger);
        return closing;
      },
    };
  } catch (error) {
    for (const step of toClose) await step();
    throw error;
  }
}

/** Where to listen: without API keys, loopback only whatever was asked (with a warning either way). */
function listenHost(options: ServerOptions, logger: Logger): string {
  const host = options.host ?? DEFAULT_HOST;
  if ((options.apiKeys ?? []).length > 0) return host;
  if (!isLoopbackHost(host)) {
    logger.warn(
      { requestedHost: host, host: DEFAULT_HOST },
      'no API keys configured (RCPT_API_KEYS or --api-key-file): listening on loopback only',
    );
    return DEFAULT_HOST;
  }
  logger.warn({ host }, 'no API keys configured: the API is open to anyone on this machine (loopback only)');
  return host;
}

/**
 * The job backend over `options.db`: PostgreSQL for scale-out (jobs verified by `rcpt worker`), else a
 * SQLite file (opened already by `openSqliteJobs`); `null` without a `db`. What it opens is added to `toClose`.
 */
async function openJobs(
  options: ServerOptions,
  verifier: Verifier,
  logger: Logger,
  toClose: (() => Promise<void> | void)[],
  sqlite: SqliteJobs | null,
): Promise<ClosableJobsBackend | null> {
  if (options.db === undefined) return null;
  if (isPostgresUrl(options.db)) {
    // Scale-out: jobs are stored in PostgreSQL and verified by `rcpt worker` processes; this server
    // accepts them and serves progress and results.
    const cluster = await openScaleOut(options.db, {
      supervise: false,
      ...(options.pgSchema === undefined ? {} : { schema: options.pgSchema }),
      onError: (error) => {
        logger.error({ err: error }, 'job queue error');
      },
    });
    toClose.push(() => cluster.close());
    const jobs = createJobsBackend({
      store: cluster.store,
      verifier,
      logger,
      dispatch: (id) => cluster.submit(id),
      ...(options.keepFinishedJobsMs === undefined ? {} : { keepFinishedMs: options.keepFinishedJobsMs }),
      // Recorded with each job: the workers verify it with these, not with their own flags.
      ...(options.jobSettings === undefined ? {} : { settings: options.jobSettings }),
    });
    const shown = new URL(options.db);
    if (shown.password !== '') shown.password = '***';
    logger.info(
      { db: shown.href, schema: cluster.store.schema },
      'job store open (PostgreSQL: rcpt worker verifies)',
    );
    return jobs;
  }
  if (sqlite === null) throw new TypeError('a SQLite job store is opened before the verifier');
  const jobs = createJobsBackend({
    store: sqlite.store,
    hostLimits: sqlite.hostLimits,
    verifier,
    logger,
    ...(options.runningJobs === undefined ? {} : { runningJobs: options.runningJobs }),
    ...(options.turnAddresses === undefined ? {} : { turnAddresses: options.turnAddresses }),
    ...(options.keepFinishedJobsMs === undefined ? {} : { keepFinishedMs: options.keepFinishedJobsMs }),
    ...(options.pauseGraceMs === undefined ? {} : { pauseGraceMs: options.pauseGraceMs }),
    ...(options.jobSettings === undefined ? {} : { settings: options.jobSettings }),
    ...(options.overrideSettings === undefined ? {} : { overrideSettings: options.overrideSettings }),
  });
  logger.info({ db: resolve(options.db) }, 'job store open');
  return jobs;
}

interface SqliteJobs {
  readonly store: JobStore;
  readonly hostLimits: StoredHostLimitsFacts;
}

/**
 * The SQLite job store of `options.db` (created with its folder) and the learned host limits kept in
 * it, expired ones dropped and the rest loaded; `null` without a `db` or with a PostgreSQL one.
 */
async function openSqliteJobs(
  options: ServerOptions,
  verifyOptions: VerifyOptions,
  logger: Logger,
): Promise<SqliteJobs | null> {
  if (options.db === undefined || isPostgresUrl(options.db)) return null;
  await mkdir(dirname(resolve(options.db)), { recursive: true });
  const store = openSqliteJobStore(options.db);
  const hostLimits = storedHostLimitsFor(store, verifyOptions, (error) => {
    logger.warn({ err: error }, 'could not store learned host limits');
  });
  try {
    await hostLimits.loadAll();
  } catch (error) {
    await store.close();
    throw error;
  }
  return { store, hostLimits };
}

/** How the verifier presents itself, as the app echoes it (only what the options set). */
function smtpSettingsOf(verifyOptions: VerifyOptions): NonNullable<AppDeps['smtp']> {
  return {
    ...(verifyOptions.helo === undefined ? {} : { helo: verifyOptions.helo }),
    ...(verifyOptions.mailFrom === undefined ? {} : { mailFrom: verifyOptions.mailFrom }),
    ...(verifyOptions.smtpPort === undefined ? {} : { port: verifyOptions.smtpPort }),
    ...(verifyOptions.timeoutMs === undefined ? {} : { timeoutMs: verifyOptions.timeoutMs }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((done, reject) => {
    server.once('error', reject);
    server.listen(port, host.replace(/^\[|\]$/g, ''), () => {
      server.off('error', reject);
      done();
    });
  });
}

/**
 * Stops accepting, ends event streams (`shutdown`), lets requests in flight finish for up to
 * `SHUTDOWN_GRACE_MS`, then runs `toClose` in order.
 */
async function closeGracefully(
  server: Server,
  shutdown: AbortController,
  toClose: readonly (() => Promise<void> | void)[],
  logger: Logger,
): Promise<void> {
  shutdown.abort();
  const closed = new Promise<void>((done) => {
    server.close(() => {
      done();
    });
  });
  // A connection becomes idle when its last response ends (event streams end on `shutdown`):
  // close idle ones as they appear rather than waiting for their keep-alive timeout.
  server.closeIdleConnections();
  const sweep = setInterval(() => {
    server.closeIdleConnections();
  }, IDLE_SWEEP_MS);
  // Slow requests get a grace period, then their connections are cut.
  const grace = setTimeout(() => {
    server.closeAllConnections();
  }, SHUTDOWN_GRACE_MS);
  grace.unref();
  await closed;
  clearInterval(sweep);
  clearTimeout(grace);
  for (const step of toClose) await step();
  logger.info('stopped');
}
