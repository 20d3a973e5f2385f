/**
 * The benchmark world of `npm run bench`: a DNS server and a dozen simulated MTAs on loopback
 * (127.0.1.1–12, one shared port), every reply delayed to model a network round trip, serving a few
 * hundred domains with a realistic skew: five big domains hold half the list, hundreds of small domains
 * share a few hosting MX hosts under their own MX names, and an accept-all provider hosts twenty more.
 * Every domain lives under `.test` or is a provider-shaped name that exists only in this world's DNS.
 */
import { startDnsServer, type DnsServer, type DnsZones } from '../src/demo/dns-server.js';
import { seeded } from '../test/helpers/seeded.js';
import { startSimMta, type SimMta, type SimMtaOptions } from './sim-mta.js';

/** What an address should get, known from how the world was built. */
export type Expected =
  | 'deliverable/accepted'
  | 'undeliverable/mailbox_not_found'
  | 'risky/catch_all'
  | 'risky/accept_all_provider'
  | 'undeliverable/domain_not_found'
  | 'undeliverable/invalid_syntax';

export interface WorldAddress {
  readonly address: string;
  /** The MX host address it reaches, `null` when DNS or syntax decides alone. */
  readonly hostIp: string | null;
  readonly expected: Expected;
}

export interface HostPlan {
  readonly ip: string;
  readonly name: string;
  /** RCPTs per transaction the host accepts (`Infinity`: no limit). */
  readonly recipientLimit: number;
  /** Its error budget: Postfix's (announced in its greeting), the same unannounced, or none. */
  readonly budget: BudgetKind;
  /** Replies a second it gives before it delays every reply above them (`null`: no such limit). */
  readonly replyRate: number | null;
  readonly options: Omit<SimMtaOptions, 'host' | 'port' | 'latencyMs' | 'name'>;
}

export interface BenchWorld {
  readonly dnsServer: string;
  readonly smtpPort: number;
  readonly hosts: readonly { readonly plan: HostPlan; readonly mta: SimMta }[];
  readonly addresses: readonly WorldAddress[];
  readonly dns: DnsServer;
  close(): Promise<void>;
}

/** Mailboxes exist when the local part starts with "ok" (the list says which are which). */
const mailbox = (address: string) =>
  address.startsWith('ok')
    ? null
    : {
        code: 550,
        text: `5.1.1 <${address}>: Recipient address rejected: User unknown in virtual mailbox table`,
      };

/** Postfix defaults (research/lab-notes.md): sleep 1 s from the 10th error, 421 at the 20th. */
export const POSTFIX_LIMITS = { soft: 10, hard: 20, sleepMs: 1_000 } as const;

/**
 * big4's replies a second over all its connections, and the delay of each reply above them: a host that
 * slows a client down when it answers too fast, which rcpt has to learn (issue 20's fourth limit).
 */
export const BIG4_REPLY_RATE = { perSecond: 200, delayMs: 500 } as const;

/** What a host does about refused RCPTs, for the bench's report of penalties. */
export type BudgetKind = 'postfix' | 'unannounced' | 'none';

/** The world's hosts; big4 limited to `BIG4_REPLY_RATE` with `rateLimitedHost` (bench:bulk's world). */
function hostPlans(rateLimitedHost: boolean): HostPlan[] {
  const plans: HostPlan[] = [];
  for (let i = 1; i <= 5; i += 1) {
    plans.push({
      ip: `127.0.1.${i}`,
      name: `big${i}`,
      recipientLimit: i === 2 ? 50 : Infinity,
      budget: i === 1 || i === 3 ? 'postfix' : 'none',
      replyRate: i === 4 && rateLimitedHost ? BIG4_REPLY_RATE.perSecond : null,
      options: {
        recipient: mailbox,
        // big1 and big3 run Postfix with its default anti-harvest limits (and say so in their
        // greeting); big2, big4 and big5 run an MTA without an error limit; big2 takes 50 RCPTs a
        // transaction.
        ...(i === 1 || i === 3
          ? { errorLimits: POSTFIX_LIMITS }
          : { banner: `mx.big${i}.test ESMTP Exim 4.96` }),
        ...(i === 2 ? { recipientLimit: 50 } : {}),
        // big4 delays every reply above 200 a second (over its connections) by half a second.
        ...(i === 4 && rateLimitedHost ? { replyRate: BIG4_REPLY_RATE } : {}),
      },
    });
  }
  plans.push({
    ip: '127.0.1.6',
    name: 'yahoodns',
    recipientLimit: Infinity,
    budget: 'none',
    replyRate: null,
    options: { banner: 'mta5.am0.yahoodns.net ESMTP ready' },
  });
  for (let i = 7; i <= 12; i += 1) {
    // hosting1 and hosting3 run Postfix with its limits; hosting5 has the same limits behind a greeting
    // that does not say Postfix (a changed smtpd_banner): rcpt has to learn them; the others have none.
    const budget: BudgetKind = i === 11 ? 'unannounced' : i % 2 === 1 ? 'postfix' : 'none';
    plans.push({
      ip: `127.0.1.${i}`,
      name: `hosting${i - 6}`,
      recipientLimit: Infinity,
      budget,
      replyRate: null,
      options: {
        // Small domains whose names end in 0 accept every recipient (catch-all).
        recipient: (address) => (/^[^@]*@d\d\d0\.test$/.test(address) ? null : mailbox(address)),
        ...(budget === 'none' ? {} : { errorLimits: POSTFIX_LIMITS }),
        ...(budget === 'postfix' ? {} : { banner: `mx.hosting${i - 6}.test ESMTP ready` }),
      },
    });
  }
  return plans;
}

interface DomainPlan {
  readonly domain: string;
  readonly mx: string;
  readonly ip: string;
  readonly weight: number;
  readonly catchAll: boolean;
  readonly acceptAll: boolean;
}

function domainPlans(): DomainPlan[] {
  const domains: DomainPlan[] = [];
  const big = [0.14, 0.11, 0.1, 0.08, 0.07];
  big.forEach((weight, i) => {
    domains.push({
      domain: `big${i + 1}.test`,
      mx: `mx.big${i + 1}.test`,
      ip: `127.0.1.${i + 1}`,
      weight,
      catchAll: false,
      acceptAll: false,
    });
  });
  // The other half, Zipf-like over 20 accept-all-provider domains and 280 hosted domains.
  const small: Omit<DomainPlan, 'weight'>[] = [];
  for (let i = 1; i <= 20; i += 1) {
    small.push({
      domain: `y${i}.test`,
      mx: `mta${(i % 7) + 1}.am0.yahoodns.net`,
      ip: '127.0.1.6',
      catchAll: false,
      acceptAll: true,
    });
  }
  for (let i = 1; i <= 280; i += 1) {
    const id = String(i).padStart(3, '0');
    small.push({
      domain: `d${id}.test`,
      mx: `mx.d${id}.test`,
      ip: `127.0.1.${7 + (i % 6)}`,
      catchAll: i % 10 === 0,
      acceptAll: false,
    });
  }
  const rng = seeded(7);
  const order = small.map((plan) => ({ plan, key: rng() })).sort((a, b) => a.key - b.key);
  const zipf = order.map((_, rank) => 1 / (rank + 1) ** 0.8);
  const total = zipf.reduce((a, b) => a + b, 0);
  order.forEach(({ plan }, rank) => domains.push({ ...plan, weight: (0.5 * (zipf[rank] ?? 0)) / total }));
  return domains;
}

/** The list: `count` distinct addresses, 80 % existing mailboxes, 1 % unknown domains, 0.5 % bad syntax. */
function buildList(count: number, domains: readonly DomainPlan[]): WorldAddress[] {
  const rng = seeded(42);
  const cumulative: number[] = [];
  let sum = 0;
  for (const plan of domains) {
    sum += plan.weight;
    cumulative.push(sum);
  }
  const list: WorldAddress[] = [];
  for (let n = 0; n < count; n += 1) {
    const roll = rng();
    if (roll < 0.01) {
      list.push({
        address: `user${n}@nx${n}.test`,
        hostIp: null,
        expected: 'undeliverable/domain_not_found',
      });
      continue;
    }
    if (roll < 0.015) {
      list.push({
        address: `bad..dots${n}@big1.test`,
        hostIp: null,
        expected: 'undeliverable/invalid_syntax',
      });
      continue;
    }
    const pick = rng() * sum;
    const index = cumulative.findIndex((edge) => pick < edge);
    const plan = domains[index === -1 ? domains.length - 1 : index];
    if (plan === undefined) continue;
    const exists = rng() < 0.8;
    const address = `${exists ? 'ok' : 'no'}${n}@${plan.domain}`;
    const expected: Expected = plan.acceptAll
      ? 'risky/accept_all_provider'
      : plan.catchAll
        ? 'risky/catch_all'
        : exists
          ? 'deliverable/accepted'
          : 'undeliverable/mailbox_not_found';
    list.push({ address, hostIp: plan.ip, expected });
  }
  return list;
}

function zones(domains: readonly DomainPlan[]): DnsZones {
  const table: Record<string, DnsZones[string]> = {};
  for (const plan of domains) {
    table[plan.domain] = { MX: [{ priority: 10, exchange: plan.mx }] };
    table[plan.mx] = { A: [plan.ip] };
  }
  return table;
}

/** Starts the world: `count` addresses, every reply `latencyMs` late (DNS answers too). */
export async function startBenchWorld(
  count: number,
  latencyMs: number,
  rateLimitedHost = false,
): Promise<BenchWorld> {
  const domains = domainPlans();
  const plans = hostPlans(rateLimitedHost);
  const hosts: { plan: HostPlan; mta: SimMta }[] = [];
  let port = 0;
  try {
    for (const plan of plans) {
      const mta = await startSimMta({ ...plan.options, name: plan.name, host: plan.ip, port, latencyMs });
      port = mta.port;
      hosts.push({ plan, mta });
    }
  } catch (error) {
    await Promise.all(hosts.map((host) => host.mta.close()));
    throw error;
  }
  const dns = await startDnsServer({ host: '127.0.0.1', port: 0, zones: zones(domains), delayMs: latencyMs });
  return {
    dnsServer: dns.address,
    smtpPort: port,
    hosts,
    addresses: buildList(count, domains),
    dns,
    async close() {
      await Promise.all([dns.close(), ...hosts.map((host) => host.mta.close())]);
    },
  };
}

/** The verification flags of `rcpt bulk | worker` that point them at a bench world (loopback only). */
export function worldFlags(world: { readonly dnsServer: string; readonly smtpPort: number }): string[] {
  return [
    '--dns-server',
    world.dnsServer,
    '--smtp-port',
    String(world.smtpPort),
    '--allow-private-targets',
    '--helo',
    'bench.rcpt.test',
    '--mail-from',
    'verify@rcpt.test',
    // The world has a host that greets as Yahoo: the benches measure the scheduler, not the provider
    // ceiling on RCPTs per minute (docs/bulk.md, "RCPTs per minute").
    '--host-rate',
    '0',
  ];
}
