/**
 * `rcpt serve`: the HTTP API and web page (src/server/) with the shared verification options, API keys
 * from `RCPT_API_KEYS` or `--api-key-file`, and a graceful stop on SIGTERM/SIGINT.
 */
import { readFile } from 'node:fs/promises';

import { Option, type Command } from 'commander';

import { parseApiKeys } from '../server/auth.js';
import { cannotRead } from './bulk-output.js';
import {
  DEFAULT_HEADERS_TIMEOUT_SECONDS,
  DEFAULT_HOST,
  DEFAULT_KEEP_FINISHED_JOBS_DAYS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
  DEFAULT_PORT,
  DEFAULT_RATE_LIMIT,
  DEFAULT_WRITE_STALL_TIMEOUT_SECONDS,
} from '../server/defaults.js';
import type { RunningServer } from '../server/server.js';
import { doctorOptionsFor, operatorKeysFrom, startupDoctor } from './doctor.js';
import { doctorRoutes } from '../server/doctor-route.js';
import { postgresUnreachable } from './postgres-reason.js';
import type { CliIo } from './run-verify.js';
import {
  integer,
  oneOf,
  UsageError,
  addSharedOptions,
  sharedSettings,
  toVerifyOptions,
  type SharedFlags,
} from './common-options.js';

export interface ServeFlags extends SharedFlags {
  port?: number;
  host?: string;
  db?: string;
  apiKeyFile?: string;
  rateLimit?: number;
  keepJobs?: number;
  maxConnections?: number;
  maxConnectionsPerClient?: number;
  headersTimeout?: number;
  writeStallTimeout?: number;
  logAddresses?: boolean;
  logLevel?: string;
  reacherLock?: string;
  allowedHost?: string[];
  overrideSettings?: boolean;
}

/** The same default file as `rcpt bulk`: one machine, one job store. */
export const DEFAULT_DB = '.rcpt/jobs.db';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Adds `serve`'s own options (the shared ones come from shared-options.ts). */
export function addServeOptions(command: Command): Command {
  return addSharedOptions(
    command
      .addOption(
        new Option('--port <n>', `port to listen on (env RCPT_PORT; default ${DEFAULT_PORT})`).argParser(
          integer('--port', 0, 65535),
        ),
      )
      .addOption(
        new Option(
          '--host <address>',
          `address to listen on (env RCPT_HOST; default ${DEFAULT_HOST}; loopback only without API keys)`,
        ),
      )
      .addOption(
        new Option(
          '--db <file|url>',
          `job store: a SQLite file, or postgres://… for scale-out with rcpt worker (env RCPT_DB; default ${DEFAULT_DB})`,
        ),
      )
      .addOption(
        new Option(
          '--api-key-file <file>',
          'file of API keys, one a line (also env RCPT_API_KEYS, comma-separated)',
        ),
      )
      .addOption(
        new Option(
          '--rate-limit <n>',
          `requests (addresses) a minute per key, 0 for none (default ${DEFAULT_RATE_LIMIT.perMinute})`,
        ).argParser(integer('--rate-limit', 0, 10_000_000)),
      )
      .addOption(
        new Option(
          '--keep-jobs <days>',
          `days a job and its results are kept once it ended, 0 for ever (env RCPT_KEEP_JOBS; default ${DEFAULT_KEEP_FINISHED_JOBS_DAYS})`,
        ).argParser(integer('--keep-jobs', 0, 36_500)),
      )
      .addOption(
        new Option(
          '--max-connections <n>',
          `connections held at once; past it one is answered 503, 0 for no cap (default ${DEFAULT_MAX_CONNECTIONS})`,
        ).argParser(integer('--max-connections', 0, 1_000_000)),
      )
      .addOption(
        new Option(
          '--max-connections-per-client <n>',
          `connections held at once from one client address (an IPv6 one by its /64), 0 for no cap; behind a reverse proxy every client is the proxy (default ${DEFAULT_MAX_CONNECTIONS_PER_CLIENT})`,
        ).argParser(integer('--max-connections-per-client', 0, 1_000_000)),
      )
      .addOption(
        new Option(
          '--headers-timeout <seconds>',
          `time a request's headers may take to arrive before 408 (default ${DEFAULT_HEADERS_TIMEOUT_SECONDS})`,
        ).argParser(integer('--headers-timeout', 1, 3_600)),
      )
      .addOption(
        new Option(
          '--write-stall-timeout <seconds>',
          `time an answer may wait for a client that stopped reading it before the connection is closed (default ${DEFAULT_WRITE_STALL_TIMEOUT_SECONDS})`,
        ).argParser(integer('--write-stall-timeout', 1, 3_600)),
      )
      .addOption(
        new Option('--log-addresses', 'write verified addresses to the log (off: they are personal data)'),
      )
      .addOption(
        new Option(
          '--override-settings',
          'finish the unfinished jobs of an earlier server with these settings where they differ',
        ),
      )
      .addOption(
        new Option('--log-level <level>', 'log level (env RCPT_LOG_LEVEL; default info)')
          .choices(LOG_LEVELS)
          .argParser(oneOf(LOG_LEVELS)),
      )
      .addOption(
        new Option(
          '--allowed-host <name>',
          'a host name the server is reached by besides loopback (a proxy, a LAN name); repeat for more (env RCPT_ALLOWED_HOSTS, comma-separated). Other Host headers get 421 (DNS rebinding)',
        ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
      )
      .addOption(
        new Option(
          '--reacher-lock <settings>',
          'Reacher request settings a request may not set, comma-separated, or all: from_email, hello_name, smtp_port, smtp_timeout, proxy, *_verif_method, check_gravatar (env RCPT_REACHER_LOCK)',
        ),
      ),
  );
}

/**
 * Takes the signals from now on: `arrived` resolves with the first one; `cancel()` lets them go again
 * (their default action back) when nothing is left to stop.
 */
function nextSignal(signals: readonly NodeJS.Signals[]): {
  readonly arrived: Promise<NodeJS.Signals>;
  cancel(): void;
} {
  let cancel: () => void = () => undefined;
  const arrived = new Promise<NodeJS.Signals>((resolve) => {
    // Node passes the listener the signal's name.
    const taken = (signal: NodeJS.Signals) => {
      cancel();
      resolve(signal);
    };
    cancel = () => {
      for (const signal of signals) process.off(signal, taken);
    };
    for (const signal of signals) process.on(signal, taken);
  });
  return { arrived, cancel };
}

/**
 * Why the server could not listen, in words that say what to do; `null` for another error. Node says
 * only `listen EADDRINUSE: address already in use 127.0.0.1:8025`.
 */
function listenFailure(error: unknown): Error | null {
  const { code, address, port } = (error ?? {}) as { code?: unknown; address?: unknown; port?: unknown };
  if (typeof address !== 'string') return null;
  const where = typeof port === 'number' ? `port ${port} on ${address}` : address;
  switch (code) {
    case 'EADDRINUSE':
      return new Error(
        `serve: ${where} is already in use (another rcpt serve?): stop what listens there, or choose another --port`,
      );
    case 'EACCES':
      return new Error(
        `serve: no permission to listen on ${where}${typeof port === 'number' && port < 1024 ? ' (ports below 1024 need root)' : ''}: choose another --port`,
      );
    case 'EADDRNOTAVAIL':
      return new Error(`serve: ${address} is not an address of this machine: choose another --host`);
    default:
      return null;
  }
}

/**
 * Starts the server and runs until SIGTERM or SIGINT, then stops gracefully. `started` is called once
 * it listens (tests use it).
 */
export async function runServe(
  flags: ServeFlags,
  io: CliIo,
  started?: (server: RunningServer) => void,
): Promise<void> {
  const env = io.env;
  const logLevel = flags.logLevel ?? env.RCPT_LOG_LEVEL?.trim().toLowerCase() ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`RCPT_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}.`);
  }
  // The HTTP stack (Hono, zod, pino, prom-client) is loaded by this verb only: the others start lighter.
  const [{ createLogger }, { startServer }, { parseLockedSettings, configuredProxies }] = await Promise.all([
    import('../server/logger.js'),
    import('../server/server.js'),
    import('../server/reacher-settings.js'),
  ]);
  const logger = createLogger({ level: logLevel, destination: io.stdout });
  let keyFile: string | undefined;
  if (flags.apiKeyFile !== undefined) {
    try {
      keyFile = await readFile(flags.apiKeyFile, 'utf8');
    } catch (error) {
      throw new UsageError(`--api-key-file: ${cannotRead(flags.apiKeyFile, error)}`);
    }
  }
  let apiKeys: string[];
  try {
    apiKeys = parseApiKeys(env.RCPT_API_KEYS, keyFile);
    // A key file without a key is a mistake (a wrong file, a copy that failed), not a wish to run
    // open: without keys the API answers anyone on this machine.
    if (flags.apiKeyFile !== undefined && parseApiKeys(keyFile).length === 0) {
      throw new RangeError(
        `--api-key-file ${flags.apiKeyFile} holds no API key (one a line; # comments and blank lines are skipped): put keys in it, or leave the flag out to run without keys`,
      );
    }
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const port =
    flags.port ?? (env.RCPT_PORT === undefined ? undefined : integer('RCPT_PORT', 0, 65535)(env.RCPT_PORT));
  const rateLimit = flags.rateLimit;
  const keepJobs =
    flags.keepJobs ??
    (env.RCPT_KEEP_JOBS === undefined ? undefined : integer('RCPT_KEEP_JOBS', 0, 36_500)(env.RCPT_KEEP_JOBS));
  const db = flags.db ?? env.RCPT_DB ?? DEFAULT_DB;
  const operatorKeys = operatorKeysFrom(env);
  let locked;
  try {
    locked = parseLockedSettings(flags.reacherLock ?? env.RCPT_REACHER_LOCK ?? '');
  } catch (error) {
    throw new UsageError(`--reacher-lock: ${error instanceof Error ? error.message : String(error)}`);
  }
  const doctor = doctorOptionsFor(toVerifyOptions(flags, env), env);
  const { JobSettingsError } = await import('../server/jobs-backend.js');
  const verify = toVerifyOptions(flags, env);
  // Reacher's per-request `proxy` may name only the operator's own proxies (docs/proxies.md).
  const proxies = configuredProxies([
    ...(typeof verify.proxy === 'string' ? [verify.proxy] : (verify.proxy ?? [])),
    ...(verify.proxyRoutes ?? []).flatMap((route) => (route.via === 'direct' ? [] : route.via.split(','))),
  ]);
  // SIGTERM/SIGINT are taken from before the start: one that comes while the server starts, or between
  // its first log line and the wait below, closes it once it has started (exit 0) instead of ending the
  // process by the signal's default action.
  const signals = nextSignal(['SIGTERM', 'SIGINT']);
  const server = await startServer({
    port: port ?? DEFAULT_PORT,
    host: flags.host ?? env.RCPT_HOST ?? DEFAULT_HOST,
    verify,
    // Recorded with each job; a restart with other settings does not silently finish old jobs.
    jobSettings: sharedSettings(flags, env),
    overrideSettings: flags.overrideSettings === true,
    apiKeys: [...apiKeys, ...operatorKeys],
    doctor,
    operatorKeys,
    db,
    // Scale-out (`--db postgres://…`): the schema of rcpt's tables, as `rcpt worker` takes it.
    ...(env.RCPT_PG_SCHEMA === undefined ? {} : { pgSchema: env.RCPT_PG_SCHEMA }),
    ...(rateLimit === undefined ? {} : { rateLimit: rateLimit === 0 ? null : { perMinute: rateLimit } }),
    ...(keepJobs === undefined
      ? {}
      : { keepFinishedJobsMs: keepJobs === 0 ? Infinity : keepJobs * 86_400_000 }),
    connections: {
      ...(flags.maxConnections === undefined ? {} : { maxConnections: flags.maxConnections }),
      ...(flags.maxConnectionsPerClient === undefined
        ? {}
        : { maxConnectionsPerClient: flags.maxConnectionsPerClient }),
      ...(flags.headersTimeout === undefined ? {} : { headersTimeoutMs: flags.headersTimeout * 1000 }),
      ...(flags.writeStallTimeout === undefined
        ? {}
        : { writeStallTimeoutMs: flags.writeStallTimeout * 1000 }),
    },
    logger,
    logAddresses: flags.logAddresses === true,
    reacher: { locked, proxies },
    allowedHosts: [
      ...(flags.allowedHost ?? []),
      ...(env.RCPT_ALLOWED_HOSTS ?? '')
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== ''),
    ],
    // Signs webhook calls for the local caller of a server without API keys (with keys, each key's own).
    ...(env.RCPT_WEBHOOK_SECRET === undefined ? {} : { webhooks: { localSecret: env.RCPT_WEBHOOK_SECRET } }),
  }).catch(async (error: unknown) => {
    signals.cancel();
    // Unfinished jobs that began with other settings: a usage error, named (exit 64).
    if (error instanceof JobSettingsError) throw new UsageError(error.message);
    // Loaded already, with the server.
    const { isPostgresUrl } = await import('../jobs/postgres/index.js');
    const unreachable = isPostgresUrl(db) ? postgresUnreachable(error, db) : null;
    if (unreachable !== null) throw new Error(`serve: ${unreachable}`);
    throw listenFailure(error) ?? error;
  });
  started?.(server);
  // One warning line when this machine cannot verify well (issue 10); the server does not wait for it.
  const check = startupDoctor(
    doctor,
    env,
    (line) => {
      logger.warn(line);
    },
    doctorRoutes(verify),
  );
  const signal = await signals.arrived;
  check.stop();
  logger.info({ signal }, 'stopping');
  await server.close();
}
