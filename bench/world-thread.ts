/**
 * The benchmark world (bulk-world.ts) in a worker thread or a child process (world-worker.ts), seen from
 * the main thread:
 * the simulated servers and the DNS server get an event loop of their own, as remote servers have,
 * instead of sharing the verifier's. Used by `bench:bulk` and `bench:scale`.
 */
import { fork, type Serializable } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import type { BudgetKind, WorldAddress } from './bulk-world.js';
import type { SimStats } from './sim-mta.js';

/** One host's counters, as the worker reports them. */
export interface HostStats extends Omit<SimStats, 'verbs'> {
  readonly name: string;
  readonly ip: string;
  /** `null`: no recipient limit. */
  readonly recipientLimit: number | null;
  /** Its error budget: Postfix's (announced), the same unannounced, or none. */
  readonly budget: BudgetKind;
  /** Replies a second it answers before it slows down, `null` for no such limit. */
  readonly replyRate: number | null;
}

export interface ThreadWorld {
  readonly dnsServer: string;
  readonly smtpPort: number;
  readonly addresses: readonly WorldAddress[];
  /** The hosts as they were when the world started. */
  readonly hosts: readonly HostStats[];
  stats(): Promise<HostStats[]>;
  /**
   * CPU time of the world so far, in microseconds: its thread's (thread-cpu.ts; `null` where unknown),
   * or its process's.
   */
  cpuMicros(): Promise<number | null>;
  resetPeaks(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the world of `count` addresses, every reply `latencyMs` late, in a worker thread, or with
 * `inProcess` in a child process (its CPU time then is none of the parent's); big4 limited to its
 * replies a second with `rateLimitedHost` (see `startBenchWorld`).
 */
export async function startWorldThread(
  count: number,
  latencyMs: number,
  inProcess = false,
  rateLimitedHost = false,
): Promise<ThreadWorld> {
  const entry = new URL('./world-worker.ts', import.meta.url);
  let post: (message: unknown) => void;
  let next: () => Promise<{ type: string }>;
  let end: () => Promise<void>;
  if (inProcess) {
    const child = fork(fileURLToPath(entry), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, RCPT_BENCH_WORLD: JSON.stringify({ count, latencyMs, rateLimitedHost }) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    post = (message) => child.send(message as Serializable);
    next = async () => ((await once(child, 'message')) as [{ type: string }])[0];
    end = async () => {
      if (child.exitCode === null) await once(child, 'exit');
    };
  } else {
    // Node 20 workers do not inherit the tsx loader; tsImport loads the TypeScript entry with it.
    const worker = new Worker(
      `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}))`,
      { eval: true, workerData: { count, latencyMs, rateLimitedHost } },
    );
    post = (message) => {
      worker.postMessage(message);
    };
    next = async () => ((await once(worker, 'message')) as [{ type: string }])[0];
    end = async () => {
      await worker.terminate();
    };
  }
  const ask = async <T>(type: string, answer: string): Promise<T> => {
    post({ type });
    for (;;) {
      const message = (await next()) as { type: string } & T;
      if (message.type === answer) return message;
    }
  };
  const ready = (await next()) as {
    dnsServer: string;
    smtpPort: number;
    addresses: WorldAddress[];
    stats: HostStats[];
  } & { type: string };
  return {
    dnsServer: ready.dnsServer,
    smtpPort: ready.smtpPort,
    addresses: ready.addresses,
    hosts: ready.stats,
    stats: async () => (await ask<{ stats: HostStats[] }>('stats', 'stats')).stats,
    cpuMicros: async () => (await ask<{ cpuMicros: number | null }>('stats', 'stats')).cpuMicros,
    resetPeaks: async () => {
      await ask('resetPeaks', 'ok');
    },
    close: async () => {
      await ask('close', 'closed');
      await end();
    },
  };
}
