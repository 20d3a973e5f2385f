/**
 * Scale-out workers share an MX host between API keys (docs/api.md, "Whose job runs"): a host's pass
 * reads its work in turns between the keys whose jobs have work there, so one key's big job at a host
 * holds another key's small one there for a turn, not until it is through, both when the two wait for
 * the host together and when the small one comes while the big one is being verified. Two workers on a
 * real PostgreSQL; the order is read at the SMTP servers (every RCPT as it arrives).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { VerifyOptions } from '../../src/index.js';
import { listItems } from '../helpers/job-items.js';
import {
  openScaleOut,
  startWorker,
  type RunningWorker,
  type ScaleOut,
} from '../../src/jobs/postgres/index.js';
import { PG_URL, SKIP_NO_PG, dropSchema, freshSchema, jobDone, query, until } from './helpers.js';
import { startScaleWorld, worldVerifyOptions, type ScaleWorld } from './world.js';

describe('scale-out workers share a host between API keys', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('fair');
  let world: ScaleWorld;
  let cluster: ScaleOut;
  let verify: VerifyOptions;
  const workers: RunningWorker[] = [];

  before(async () => {
    world = await startScaleWorld({ size: 10, hostCount: 5, domainCount: 8, latencyMs: 2 });
    cluster = await openScaleOut(url, { schema, supervise: false });
    verify = { ...worldVerifyOptions(world), timeoutMs: 10_000 };
  });

  after(async () => {
    for (const worker of workers) await worker.stop();
    await cluster?.close();
    await world?.close();
    await dropSchema(url, schema);
  });

  const startWorkers = async () => {
    for (let i = 0; i < 2; i++)
      workers.push(await startWorker({ url, schema, verify, leaseMs: 1_000, pollMs: 100 }));
  };

  /** A job of `key` with these addresses, stored whole (and so submitted). */
  const store = async (key: string, addresses: readonly string[]): Promise<string> => {
    const job = await cluster.store.createJob({ owner: key });
    await cluster.store.addItems(job.id, listItems(addresses));
    await cluster.store.finishIngest(job.id);
    return job.id;
  };

  /** The RCPTs of the big job's addresses at a domain that the host read before the small job's last. */
  const bigBeforeSmallEnded = (
    domain: string,
    big: string,
    small: string,
  ): { before: number; all: number } => {
    const at = world.rcptOrder.filter((address) => address.endsWith(`@${domain}`));
    const last = at.findLastIndex((address) => address.startsWith(small));
    return {
      before: at.slice(0, last).filter((address) => address.startsWith(big)).length,
      all: at.filter((address) => address.startsWith(big)).length,
    };
  };

  const list = (prefix: string, domains: readonly string[], perDomain: number): string[] =>
    domains.flatMap((domain) => Array.from({ length: perDomain }, (_, i) => `${prefix}${i}@${domain}`));

  it("a key's small job waiting at a host with another key's big one is verified in the big one's first turns", async () => {
    const domains = ['d0.scale.test', 'd1.scale.test'];
    // The hosts are held, as by a worker that died, until both jobs are planned: both wait for them.
    await query(
      url,
      `INSERT INTO ${schema}.host_leases (host, worker, expires_at)
       VALUES ('127.0.10.1', 'dead-worker', now() + interval '5 minutes'),
              ('127.0.10.2', 'dead-worker', now() + interval '5 minutes')`,
    );
    // Read in job-id order before, a host took the job whose id sorts first through to its end: the
    // big job is that one, so that the small one waited for all of it.
    const [one, two] = [
      await cluster.store.createJob({ owner: 'key-a' }),
      await cluster.store.createJob({ owner: 'key-b' }),
    ];
    const [big, small] = one.id < two.id ? [one, two] : [two, one];
    await cluster.store.addItems(big.id, listItems(list('okbig', domains, 400)));
    await cluster.store.addItems(small.id, listItems(list('oksmall', domains, 5)));
    await cluster.store.finishIngest(big.id);
    await cluster.store.finishIngest(small.id);
    await startWorkers();
    await until(
      'both jobs planned',
      async () => {
        const rows = await query<{ n: number }>(
          url,
          `SELECT count(*)::int AS n FROM ${schema}.jobs WHERE planned AND id = ANY($1::text[])`,
          [[big.id, small.id]],
        );
        return rows[0]?.n === 2;
      },
      60_000,
      100,
    );
    await query(url, `UPDATE ${schema}.host_leases SET expires_at = now() WHERE worker = 'dead-worker'`);
    await jobDone(cluster, small.id, 120_000);
    await jobDone(cluster, big.id, 120_000);
    for (const domain of domains) {
      const { before, all } = bigBeforeSmallEnded(domain, 'okbig', 'oksmall');
      assert.equal(all, 400, `${domain}: every address of the big job asked once`);
      // A turn of 100 addresses, and what the host's sessions had in hand when it ended.
      assert.ok(before <= 200, `${domain}: ${before} of the big job's 400 asked before the small job's last`);
    }
  });

  it("a key's small job that comes while another key's big one is verified at a host joins that host's pass", async () => {
    const domain = 'd2.scale.test';
    const big = await store('key-a', list('okhuge', [domain], 2_500));
    await until(
      "the big job's pass at the host to have begun",
      () => Promise.resolve(world.rcptOrder.filter((address) => address.startsWith('okhuge')).length >= 20),
      60_000,
    );
    const small = await store('key-b', list('oktiny', [domain], 5));
    await jobDone(cluster, small, 120_000);
    await jobDone(cluster, big, 120_000);
    const { before, all } = bigBeforeSmallEnded(domain, 'okhuge', 'oktiny');
    assert.equal(all, 2_500);
    // It joins at the pass's next turn, behind what the pass has read ahead (500 at most), once planned:
    // 1,000 measured. Before, it waited for the end of the pass, behind every address of the big one there.
    assert.ok(before < 2_000, `${before} of the big job's 2,500 asked before the small job's last`);
  });
});
