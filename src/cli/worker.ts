/**
 * `rcpt worker --db postgres://…`: one scale-out worker (docs/scale-out.md). It plans submitted jobs and
 * verifies per-MX-host batches under cluster-wide host leases, logs one JSON line per event, and on
 * SIGTERM/SIGINT hands back what is in flight and exits 0.
 */
import { isIP } from 'node:net';

import { Option, type Command } from 'commander';

import {
  DEFAULT_CLUSTER_HOST_CONCURRENCY,
  DEFAULT_LEASE_MS,
  DEFAULT_WORKER_CONCURRENCY,
  isPostgresUrl,
  startWorker,
  type RunningWorker,
  type WorkerEvent,
} from '../jobs/postgres/index.js';
import { postgresUnreachable } from './postgres-reason.js';
import type { CliIo } from './run-verify.js';
import { doctorOptionsFor, startupDoctor } from './doctor.js';
import { doctorRoutes } from '../server/doctor-route.js';
import {
  integer,
  UsageError,
  addSharedOptions,
  toVerifyOptions,
  type SharedFlags,
} from './common-options.js';

export interface WorkerFlags extends SharedFlags {
  db?: string;
  concurrency?: number;
  hostConcurrency?: number;
  sourceIp?: string;
  leaseMs?: number;
  pgSchema?: string;
}

/** Declares `rcpt worker`'s options (and the shared ones) on `command`. */
export function addWorkerOptions(command: Command): Command {
  return addSharedOptions(
    command
      .description('a scale-out worker: verifies jobs from a PostgreSQL job store, politely cluster-wide')
      .addOption(new Option('--db <url>', 'the PostgreSQL job store, postgres://… (env RCPT_DB)'))
      .addOption(
        new Option(
          '--concurrency <n>',
          `MX hosts worked on at once (default ${DEFAULT_WORKER_CONCURRENCY})`,
        ).argParser(integer('--concurrency', 1, 1000)),
      )
      .addOption(
        new Option(
          '--host-concurrency <n>',
          `connections at once per MX host, held across the cluster (default ${DEFAULT_CLUSTER_HOST_CONCURRENCY}; give every worker the same)`,
        ).argParser(integer('--host-concurrency', 1, 100)),
      )
      .addOption(
        new Option(
          '--source-ip <address>',
          'local address to send SMTP from: this worker’s sending IP (env RCPT_SOURCE_IP)',
        ),
      )
      .addOption(
        new Option(
          '--lease-ms <ms>',
          `host lease; a dead worker’s hosts return after it (default ${DEFAULT_LEASE_MS})`,
        )
          .argParser(integer('--lease-ms', 300, 3_600_000))
          .hideHelp(),
      )
      .addOption(
        new Option(
          '--pg-schema <name>',
          'PostgreSQL schema for rcpt’s tables (env RCPT_PG_SCHEMA; default rcpt)',
        ),
      ),
  );
}

/** The PostgreSQL URL from `--db` or `RCPT_DB`; a usage error for anything else. */
export function postgresUrl(db: string | undefined, env: NodeJS.ProcessEnv, verb: string): string {
  const url = db ?? env.RCPT_DB;
  if (url === undefined || url === '') {
    throw new UsageError(`rcpt ${verb} needs --db postgres://… (or RCPT_DB)`);
  }
  if (!isPostgresUrl(url))
    throw new UsageError(`--db must be a postgres:// URL for rcpt ${verb}, got ${url}`);
  return url;
}

function describe(event: WorkerEvent): Record<string, unknown> {
  // A job verified with settings other than this worker's flags: a warning, in words.
  if (event.type === 'settings')
    return { level: 'warn', type: 'settings', job: event.job, msg: event.message };
  if (event.type !== 'error') return { ...event };
  const error = event.error;
  return {
    type: 'error',
    where: event.where,
    message: error instanceof Error ? error.message : String(error),
  };
}

/** Runs a worker until SIGTERM or SIGINT. */
export async function runWorker(flags: WorkerFlags, io: CliIo): Promise<void> {
  const url = postgresUrl(flags.db, io.env, 'worker');
  const sourceIp = flags.sourceIp ?? io.env.RCPT_SOURCE_IP;
  if (sourceIp !== undefined && isIP(sourceIp) === 0) {
    throw new UsageError(`--source-ip must be an IP address, got ${sourceIp}`);
  }
  const schema = flags.pgSchema ?? io.env.RCPT_PG_SCHEMA;
  const verify = toVerifyOptions(flags, io.env);
  const log = (event: WorkerEvent) => {
    io.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...describe(event) })}\n`);
  };
  const workerVerify = sourceIp === undefined ? verify : { ...verify, localAddress: sourceIp };
  // SIGTERM/SIGINT: stop taking hosts, hand back what is in flight, write what is verified, exit 0. The
  // handlers are in place before the worker starts: a signal that comes while it connects, or between
  // its `started` line and the doctor below, stops it as soon as it exists, rather than ending the
  // process by the signal's default action (crash.test.ts's SIGTERM right after `started`).
  const running: { worker: RunningWorker | null; check: { stop(): void } | null; stopped: boolean } = {
    worker: null,
    check: null,
    stopped: false,
  };
  const onSignal = () => {
    running.stopped = true;
    running.check?.stop();
    void running.worker?.stop();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    const worker = await startWorker({
      url,
      verify: workerVerify,
      ...(schema === undefined ? {} : { schema }),
      ...(flags.concurrency === undefined ? {} : { concurrency: flags.concurrency }),
      ...(flags.hostConcurrency === undefined ? {} : { hostConcurrency: flags.hostConcurrency }),
      ...(flags.leaseMs === undefined ? {} : { leaseMs: flags.leaseMs }),
      onEvent: log,
    }).catch((error: unknown) => {
      const unreachable = postgresUnreachable(error, url);
      throw unreachable === null ? error : new Error(`worker: ${unreachable}`);
    });
    running.worker = worker;
    if (running.stopped) {
      void worker.stop();
    } else {
      // One warning line when this machine cannot verify well (issue 10), as `rcpt serve` does; the
      // worker does not wait for it. RCPT_DOCTOR=0 skips it.
      running.check = startupDoctor(
        doctorOptionsFor(
          workerVerify,
          sourceIp === undefined ? io.env : { ...io.env, RCPT_SOURCE_IP: sourceIp },
        ),
        io.env,
        (line) => {
          io.stderr.write(
            `${JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: line })}\n`,
          );
        },
        doctorRoutes(workerVerify),
      );
    }
    await worker.done;
  } finally {
    running.check?.stop();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
