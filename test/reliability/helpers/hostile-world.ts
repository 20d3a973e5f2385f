/**
 * A bulk world for "hostile servers at scale" (issue 9): `hosts` MX hosts on 127.9.2.1…, one domain
 * each, every fifth one hostile (tarpit, trickle, 1 MB line, endless continuation, reset, broken TLS,
 * garbage, in turn) and the others plain MTAs where `ok…` mailboxes exist. Used by the short test
 * (test/reliability/hostile-scale.test.ts) and the full run (bench/hostile.bench.ts).
 */
import { startDnsServer, type DnsServer, type DnsZones } from '../../../src/demo/dns-server.js';
import {
  createVerifier,
  type VerifyManyOptions,
  type VerifyOptions,
  type VerifyResult,
} from '../../../src/index.js';
import { HOSTILE_KINDS, startMxServer, type MxKind, type MxServer } from './mx-server.js';

export interface HostileWorld {
  readonly dns: DnsServer;
  readonly servers: readonly MxServer[];
  readonly port: number;
  /** The list: `perDomain` addresses at each domain, interleaved across domains. */
  readonly addresses: readonly string[];
  /** Domains whose MX is hostile. */
  readonly hostileDomains: ReadonlySet<string>;
  /** Verifier options for this world (timeouts scaled down so hostile hosts cost seconds). */
  readonly options: VerifyOptions;
  /** Bulk settings for this world: quick backoff, two sessions per address at most. */
  readonly many: VerifyManyOptions;
  close(): Promise<void>;
}

const USERS = new Set(Array.from({ length: 10_000 }, (_, i) => `ok${i}`));

function kindOf(index: number): MxKind {
  return index % 5 === 4 ? (HOSTILE_KINDS[Math.floor(index / 5) % HOSTILE_KINDS.length] ?? 'tarpit') : 'smtp';
}

/** 127.9.2.1, …, 127.9.2.250, 127.9.3.1, … */
function ipOf(index: number): string {
  return `127.9.${2 + Math.floor(index / 250)}.${1 + (index % 250)}`;
}

export async function startHostileWorld(hosts: number, perDomain: number): Promise<HostileWorld> {
  let servers: MxServer[] = [];
  for (let attempt = 0; ; attempt++) {
    try {
      const first = await startMxServer({ host: ipOf(0), port: 0, kind: kindOf(0), users: USERS });
      servers = [first];
      for (let i = 1; i < hosts; i++) {
        servers.push(await startMxServer({ host: ipOf(i), port: first.port, kind: kindOf(i), users: USERS }));
      }
      break;
    } catch (error) {
      await Promise.all(servers.map((server) => server.close()));
      if (attempt >= 4) throw error;
    }
  }
  const port = servers[0]?.port ?? 0;
  const zones: Record<string, DnsZones[string]> = {};
  const hostileDomains = new Set<string>();
  const domains: string[] = [];
  for (let i = 0; i < hosts; i++) {
    const domain = `d${i}.scale.test`;
    domains.push(domain);
    zones[domain] = { MX: [{ priority: 10, exchange: `mx.${domain}` }] };
    zones[`mx.${domain}`] = { A: [ipOf(i)] };
    if (kindOf(i) !== 'smtp') hostileDomains.add(domain);
  }
  const dns = await startDnsServer({ host: '127.0.0.1', port: 0, zones });
  const addresses: string[] = [];
  for (let n = 0; n < perDomain; n++) {
    for (const domain of domains) addresses.push(`${n % 4 === 3 ? 'nobody' : 'ok'}${n}@${domain}`);
  }
  return {
    dns,
    servers,
    port,
    addresses,
    hostileDomains,
    options: {
      dnsServers: [dns.address],
      smtpPort: port,
      allowPrivateTargets: true,
      helo: 'probe.scale.test',
      mailFrom: 'verify@scale.test',
      timeoutMs: 6_000,
      connectTimeoutMs: 1_000,
      greetingTimeoutMs: 1_000,
      commandTimeoutMs: 1_000,
      greylistWaitMs: 0,
    },
    many: { hostTries: 2, backoffMs: 100, maxBackoffMs: 400, greylistRetries: 0 },
    async close() {
      await Promise.all([dns.close(), ...servers.map((server) => server.close())]);
    },
  };
}

export interface ScaleRun {
  readonly results: readonly VerifyResult[];
  readonly ms: number;
  /** Highest `process.memoryUsage().rss` sampled every 50 ms during the run, in bytes. */
  readonly peakRss: number;
}

/** Runs the whole list through one verifier's `verifyMany()`, sampling RSS. */
export async function runScale(world: HostileWorld, extra: VerifyManyOptions = {}): Promise<ScaleRun> {
  const verifier = createVerifier(world.options);
  const results: VerifyResult[] = [];
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  const started = performance.now();
  try {
    for await (const result of verifier.verifyMany(world.addresses, { ...world.many, ...extra })) {
      results.push(result);
    }
  } finally {
    clearInterval(sampler);
    await verifier.close();
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  return { results, ms: performance.now() - started, peakRss };
}

/** What a good host must answer for `address`. */
export function expectedGood(address: string): string {
  return address.startsWith('ok') ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found';
}
