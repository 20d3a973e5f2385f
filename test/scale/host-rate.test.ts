/**
 * The ceiling on RCPTs per minute (`hostRate`) across scale-out workers: three workers on one job, and
 * the hosts passed from worker to worker mid-run (their holders stopped, as a deploy does), so that a
 * window kept in one worker's memory would let the next holder send a second window's worth at once.
 * Counted at the SMTP servers, by the time each RCPT arrived; the window is shortened to 1.5 s
 * (`hostRateWindowMs`) so that the run stays short.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { startSimMta, type SimMta } from '../../bench/sim-mta.js';
import { startDnsServer, type DnsServer } from '../../src/demo/dns-server.js';
import type { VerifyOptions } from '../../src/index.js';
import {
  openScaleOut,
  startWorker,
  type RunningWorker,
  type ScaleOut,
} from '../../src/jobs/postgres/index.js';
import {
  PG_URL,
  SKIP_NO_PG,
  dropSchema,
  freshSchema,
  jobDone,
  query,
  submitAddresses,
  verdictCounts,
} from './helpers.js';
import { busiestWindow } from '../helpers/busiest-window.js';
import { loopbackOptions } from '../helpers/world-options.js';

const WINDOW_MS = 1_500;
const CEILING = 8;
const HOSTS = ['127.0.11.1', '127.0.11.2', '127.0.11.3'];
const PER_HOST = 40;

describe('hostRate across scale-out workers', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('rate');
  const arrivals = new Map<string, number[]>(HOSTS.map((host) => [host, []]));
  const servers: SimMta[] = [];
  let dns: DnsServer;
  let cluster: ScaleOut;
  let verify: VerifyOptions;

  before(async () => {
    let port = 0;
    for (const host of HOSTS) {
      const server = await startSimMta({
        name: `rate-${host}`,
        host,
        port,
        // Every RCPT is counted against the ceiling, the check of what the host does after a refusal
        // (src/scheduler/poisoning.ts: an address it accepted, or postmaster) too: recipient() sees it
        // (and accepts postmaster, as RFC 5321 §4.5.1 requires).
        postmaster: false,
        recipient: (address) => {
          arrivals.get(host)?.push(performance.now());
          return address.startsWith('no')
            ? { code: 550, text: `5.1.1 <${address}>: Recipient address rejected: User unknown` }
            : null;
        },
      });
      port = server.port;
      servers.push(server);
    }
    const zones: Record<string, unknown> = {};
    HOSTS.forEach((ip, i) => {
      zones[`rate${i}.test`] = { MX: [{ priority: 10, exchange: `mx.rate${i}.test` }] };
      zones[`mx.rate${i}.test`] = { A: [ip] };
    });
    dns = await startDnsServer({ zones: zones as Parameters<typeof startDnsServer>[0]['zones'] });
    cluster = await openScaleOut(url, { schema, supervise: false });
    verify = {
      ...loopbackOptions({ dnsServer: dns.address, smtpPort: port }),
      timeoutMs: 10_000,
      catchAll: false,
      hostRate: CEILING,
    };
  });

  after(async () => {
    await cluster?.close();
    await dns?.close();
    await Promise.all(servers.map((server) => server.close()));
    await dropSchema(url, schema);
  });

  const submit = (addresses: readonly string[]): Promise<string> => submitAddresses(cluster, addresses);

  it('3 workers on one job: no host receives more RCPTs than the ceiling within any window, hand-overs included', async () => {
    const start = () =>
      startWorker({ url, schema, verify, hostRateWindowMs: WINDOW_MS, leaseMs: 2_000, pollMs: 100 });
    const workers: RunningWorker[] = [await start(), await start(), await start()];
    const list = HOSTS.flatMap((_, i) =>
      Array.from({ length: PER_HOST }, (_, n) => `${n % 4 === 0 ? 'no' : 'ok'}${n}@rate${i}.test`),
    );
    const handedOver: { host: string; at: number }[] = [];
    try {
      const jobId = await submit(list);
      // Twice, the worker holding a host is stopped once the host has been worked a while: it hands
      // the host back and another worker takes it at once, into the same window.
      for (let round = 0; round < 2; round += 1) {
        await new Promise((resolve) => setTimeout(resolve, 2_200));
        const leases = await query<{ host: string; worker: string }>(
          url,
          `SELECT host, worker FROM ${schema}.host_leases WHERE host = ANY($1::text[]) ORDER BY host`,
          [HOSTS],
        );
        const lease = leases[0];
        if (lease === undefined) break;
        const holder = workers.find((worker) => worker.id === lease.worker);
        assert.ok(holder !== undefined, 'a host is leased by one of the three');
        await holder.stop();
        handedOver.push({ host: lease.host, at: performance.now() });
        workers.splice(workers.indexOf(holder), 1, await start());
      }
      await jobDone(cluster, jobId, 90_000);
      assert.deepEqual(await verdictCounts(url, schema, jobId), [
        ['deliverable', (PER_HOST * 3 * 3) / 4],
        ['undeliverable', (PER_HOST * 3) / 4],
      ]);
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }
    assert.ok(handedOver.length > 0, 'a host changed hands mid-run');
    for (const { host, at } of handedOver) {
      const after = (arrivals.get(host) ?? []).filter((time) => time > at).length;
      assert.ok(after > 0, `${host} was worked on by another worker after the hand-over`);
    }
    for (const host of HOSTS) {
      const times = arrivals.get(host) ?? [];
      assert.ok(times.length >= PER_HOST, `${host}: an RCPT for every address`);
      assert.ok(
        busiestWindow(times, WINDOW_MS) <= CEILING,
        `${host}: ${busiestWindow(times, WINDOW_MS)} RCPTs within ${WINDOW_MS} ms, ceiling ${CEILING}`,
      );
    }
  });
});
