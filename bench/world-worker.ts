/**
 * Runs the benchmark world in a worker thread, so the simulated servers and the DNS server have an
 * event loop of their own, as remote servers do, instead of sharing the verifier's. The main thread
 * asks for the plan (addresses, hosts), counters and peak resets over `postMessage`.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { startBenchWorld } from './bulk-world.js';
import { threadCpuMicros } from './thread-cpu.js';

interface Setup {
  readonly count: number;
  readonly latencyMs: number;
}

const setup = workerData as Setup;
const port = parentPort;
if (port === null) throw new Error('world-worker.ts runs as a worker thread');
const world = await startBenchWorld(setup.count, setup.latencyMs);

const stats = () =>
  world.hosts.map(({ plan, mta }) => ({
    name: plan.name,
    ip: plan.ip,
    recipientLimit: Number.isFinite(plan.recipientLimit) ? plan.recipientLimit : null,
    budget: plan.budget,
    ...mta.stats,
    verbs: Object.fromEntries(mta.stats.verbs),
  }));

port.on('message', (message: { type: 'stats' | 'resetPeaks' | 'close' }) => {
  if (message.type === 'resetPeaks') {
    for (const { mta } of world.hosts) mta.stats.peak = mta.stats.open;
    port.postMessage({ type: 'ok' });
  } else if (message.type === 'stats') {
    port.postMessage({ type: 'stats', stats: stats(), cpuMicros: threadCpuMicros() });
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
