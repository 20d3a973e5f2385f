/**
 * Runs the benchmark world in a worker thread, or in a child process (`bench:bulk --world-process`),
 * so the simulated servers and the DNS server have an event loop of their own, as remote servers do,
 * instead of sharing the verifier's. The parent asks for the plan (addresses, hosts), counters, CPU
 * time and peak resets over `postMessage` (a thread) or the IPC channel (a process).
 */
import { parentPort, workerData } from 'node:worker_threads';

import { startBenchWorld } from './bulk-world.js';
import { threadCpuMicros } from './thread-cpu.js';

interface Setup {
  readonly count: number;
  readonly latencyMs: number;
  readonly rateLimitedHost: boolean;
}

interface Port {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: { type: 'stats' | 'resetPeaks' | 'close' }) => void): void;
  close(): void;
}

const send = process.send?.bind(process);
const port: Port | null =
  parentPort ??
  (send === undefined
    ? null
    : {
        postMessage: (message) => send(message),
        on: (event, listener) => process.on(event, listener),
        close: () => {
          process.disconnect();
        },
      });
if (port === null) throw new Error('world-worker.ts runs as a worker thread or a child process with IPC');
const setup = (parentPort === null ? JSON.parse(process.env.RCPT_BENCH_WORLD ?? '{}') : workerData) as Setup;
const world = await startBenchWorld(setup.count, setup.latencyMs, setup.rateLimitedHost);

/** The world's CPU time: its thread's, or in a process of its own every thread of it. */
const cpuMicros = (): number | null => {
  if (parentPort !== null) return threadCpuMicros();
  const used = process.cpuUsage();
  return used.user + used.system;
};

const stats = () =>
  world.hosts.map(({ plan, mta }) => ({
    name: plan.name,
    ip: plan.ip,
    recipientLimit: Number.isFinite(plan.recipientLimit) ? plan.recipientLimit : null,
    budget: plan.budget,
    replyRate: plan.replyRate,
    ...mta.stats,
    verbs: Object.fromEntries(mta.stats.verbs),
  }));

port.on('message', (message) => {
  if (message.type === 'resetPeaks') {
    for (const { mta } of world.hosts) mta.stats.peak = mta.stats.open;
    port.postMessage({ type: 'ok' });
  } else if (message.type === 'stats') {
    port.postMessage({ type: 'stats', stats: stats(), cpuMicros: cpuMicros() });
  } else {
    void world.close().then(() => {
      port.postMessage({ type: 'closed' });
      port.close();
    });
  }
});
port.postMessage({
  type: 'ready',
  dnsServer: world.dnsServer,
  smtpPort: world.smtpPort,
  addresses: world.addresses,
  stats: stats(),
});
