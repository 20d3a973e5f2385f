/**
 * `startServer()`: the app of app.ts on a real socket (@hono/node-server), with its verifier, job
 * store, metrics and logs, and one `close()` that stops everything in order.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createAdaptorServer } from '@hono/node-server';

import { createVerifier, type VerifyOptions } from '../index.js';
import { createApp, type App, type Limits } from './app.js';
import type { JobsBackend } from './job-routes.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import type { RateLimitOptions } from './rate-limit.js';

/** The port `rcpt serve` listens on unless told otherwise (DESIGN.md §3). */
export const DEFAULT_PORT = 8025;
export const DEFAULT_HOST = '127.0.0.1';
/** Requests in flight get this long to finish on shutdown before their connections are cut. */
export const SHUTDOWN_GRACE_MS = 5_000;

export interface ServerOptions {
  /** Default 8025; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. Without API keys the server binds loopback whatever this says. */
  readonly host?: string;
  /** How to verify (DNS servers, HELO, MAIL FROM, timeouts, private targets). */
  readonly verify?: VerifyOptions;
  readonly apiKeys?: readonly string[];
  /**
   * The job store and runner. Optional so the API can run without one; a factory receives the server's
   * verifier options and the logger.
   */
  readonly jobs?:
    | JobsBackend
    | ((context: {
        verify: VerifyOptions;
        logger: Logger;
      }) => Promise<JobsBackend & { close?(): Promise<void> | void }>)
    | null;
  readonly rateLimit?: RateLimitOptions | null;
  readonly limits?: Partial<Limits>;
  readonly logger?: Logger;
  readonly logAddresses?: boolean;
  /** Collect Node process metrics (CPU, memory, event loop) too. Default true. */
  readonly processMetrics?: boolean;
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
  let host = options.host ?? DEFAULT_HOST;
  if (apiKeys.length === 0) {
    if (!isLoopbackHost(host)) {
      logger.warn(
        { requestedHost: host, host: DEFAULT_HOST },
        'no API keys configured (RCPT_API_KEYS or --api-key-file): listening on loopback only',
      );
      host = DEFAULT_HOST;
    } else {
      logger.warn(
        { host },
        'no API keys configured: the API is open to anyone on this machine (loopback only)',
      );
    }
  }
  const verifyOptions = options.verify ?? {};
  if (verifyOptions.allowPrivateTargets === true) {
    logger.warn('private targets allowed: this server will probe loopback and private networks');
  }
  const verifier = createVerifier(verifyOptions);
  const metrics = createMetrics({ processMetrics: options.processMetrics ?? true });
  const toClose: (() => Promise<void> | void)[] = [
    () => {
      metrics.close();
    },
    () => verifier.close(),
  ];
  try {
    let jobs: JobsBackend | null = null;
    if (typeof options.jobs === 'function') {
      const created = await options.jobs({ verify: verifyOptions, logger });
      jobs = created;
      if (created.close !== undefined)
        toClose.unshift(async () => {
          await created.close?.();
        });
    } else {
      jobs = options.jobs ?? null;
    }
    if (jobs !== null) {
      const backend = jobs;
      metrics.setQueueDepth(() => backend.queueDepth());
    }
    const app = createApp({
      verifier,
      jobs,
      apiKeys,
      ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      logger,
      metrics,
      logAddresses: options.logAddresses === true,
    });
    const server = createAdaptorServer({ fetch: app.fetch }) as Server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? DEFAULT_PORT, host.replace(/^\[|\]$/g, ''), () => {
        server.off('error', reject);
        resolve();
      });
    });
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
        closing ??= (async () => {
          const closed = new Promise<void>((resolve) => {
            server.close(() => {
              resolve();
            });
          });
          server.closeIdleConnections();
          // Event streams and slow verifications hold connections: give them a grace period, then cut.
          const grace = setTimeout(() => {
            server.closeAllConnections();
          }, SHUTDOWN_GRACE_MS);
          grace.unref();
          await closed;
          clearTimeout(grace);
          for (const step of toClose) await step();
          logger.info('stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const step of toClose) await step();
    throw error;
  }
}
