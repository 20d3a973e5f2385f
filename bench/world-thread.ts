/**
 * The benchmark world (bulk-world.ts) in a worker thread (world-worker.ts), seen from the main thread:
 * the simulated servers and the DNS server get an event loop of their own, as remote servers have,
 * instead of sharing the verifier's. Used by `bench:bulk` and `bench:scale`.
 */
import { once } from 'node:events';
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
}

export interface ThreadWorld {
  readonly dnsServer: string;
  readonly smtpPort: number;
  readonly addresses: readonly WorldAddress[];
  /** The hosts as they were when the world started. */
  readonly hosts: readonly HostStats[];
  stats(): Promise<HostStats[]>;
  /** CPU time of the world's thread so far, in microseconds (thread-cpu.ts); `null` where unknown. */
  cpuMicros(): Promise<number | null>;
  resetPeaks(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the world of `count` addresses, every reply `latencyMs` late, in a worker thread. */
export async function startWorldThread(count: number, latencyMs: number): Promise<ThreadWorld> {
  // Node 20 workers do not inherit the tsx loader; tsImport loads the TypeScript entry with it.
  const entry = new URL('./world-worker.ts', import.meta.url).href;
  const worker = new Worker(
    `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`,
    { eval: true, workerData: { count, latencyMs } },
  );
  const ask = async <T>(type: string, answer: string): Promise<T> => {
    worker.postMessage({ type });
    for (;;) {
      const [message] = (await once(worker, 'message')) as [{ type: string } & T];
      if (message.type === answer) return message;
    }
  };
  const [ready] = (await once(worker, 'message')) as [
    { dnsServer: string; smtpPort: number; addresses: WorldAddress[]; stats: HostStats[] },
  ];
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
      await worker.terminate();
    },
  };
}
