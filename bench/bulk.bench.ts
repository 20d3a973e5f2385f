/**
 * `npm run bench` (bulk part): rcpt's `verifyMany()` against a naive baseline that opens one connection
 * per address (what open-source peers do: `verify()` per address, here with the same per-host cap), in
 * the same run, on the benchmark world of bulk-world.ts (every reply delayed to model a round trip).
 *
 * Prints, for both: addresses per second, CPU time per address (process.cpuUsage() around the run,
 * user + system, divided by the addresses verified; the world's thread is in the same process and
 * counted too: the series docs/bulk.md records), then the same split by thread (the world's thread,
 * measured in that thread; the rest, rcpt's, split into its main thread and V8's and libuv's
 * background threads: thread-cpu.ts), connections, RCPTs and round trips per address (counted at the
 * servers), peak connections per host, and the penalties drawn (replies delayed by a soft error
 * limit, `421 too many errors` disconnects, refusals of our sender), by the kind of error budget the
 * host has (Postfix's, announced in its greeting; the same unannounced; none); then this world's lower
 * bounds (issue 6):
 *   lock-step            = L × ⌈(3 × sessions + 2 × extra transactions + N) / C⌉ per host,
 *   one conn per address = L × ⌈4N / C⌉ per host,
 * the slowest host bounding the world; and checks the targets of issue 20 (>= 20x the baseline,
 * <= 0.03 connections and <= 1.1 RCPTs per address, no penalty but the one delayed reply that learns
 * an unannounced budget) and that every verdict equals the address-by-address one (and the one the
 * world was built to give). `--timeline` adds when each host's results came and what each host saw.
 * The machine's load average is printed with the figures: on a shared machine, read them with it.
 *
 * With `--proxy`, instead: rcpt's `verifyMany()` directly and through a SOCKS5 proxy (Dante, started on
 * loopback for the run: /usr/sbin/danted from Debian's dante-server), in the same run, on the same
 * world; the target is >= 80% of the direct throughput (one extra round trip per connection, and rcpt
 * keeps sessions open) with every verdict equal (docs/proxies.md).
 *
 * `--warm N` first runs `verifyMany()` over N of the world's addresses on a verifier of its own,
 * outside the timings, so that V8's one-time work on the bulk path (compiling it, in background
 * threads that `process.cpuUsage()` counts) is not in the figures; without it (the default, the
 * series docs/bulk.md records) a 10,000-address run carries that work in its CPU per address.
 *
 * `--world-process` runs the world in a child process instead of a worker thread: rcpt's process then
 * holds rcpt alone (V8's background threads, which compile both sides' code, included), and the world's
 * CPU time is its process's; the cpu µs/addr column still adds both.
 *
 * The world has one host that slows down above a number of replies a second (big4, 200 over its
 * connections, each reply above them half a second late): the slowdowns rcpt draws there are printed.
 * `--without-rate-host` runs the world without it, as the series before 2026-12-06 23:00 was measured.
 *
 * `--rcpt-dist DIR` runs rcpt from DIR (another checkout's dist/, built there) on this tree's world and
 * bench: the way to measure two commits like for like (issue 16's CPU series in docs/bulk.md).
 *
 * Usage: node --import tsx bench/bulk.bench.ts [--addresses 10000] [--latency 25] [--cap 2] [--warm 0]
 *   [--world-process] [--proxy] [--without-rate-host] [--slow-start N] [--dist | --rcpt-dist DIR]
 * `--slow-start N` runs rcpt with verifyMany()'s `slowStart` set to N (docs/bulk.md, "Replies per
 * second"); without it, its default (a slow start of 100); `--slow-start 0` runs it without one.
 * Exit status 1 when a target is missed or a verdict differs.
 */
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';

import type { VerifyOptions, VerifyResult } from '../src/index.js';
import { startDante } from '../test/helpers/dante.js';
import { POSTFIX_LIMITS } from './bulk-world.js';
import { threadCpuMicros } from './thread-cpu.js';
import { startWorldThread, type HostStats, type ThreadWorld } from './world-thread.js';

const { values } = parseArgs({
  options: {
    addresses: { type: 'string', default: '10000' },
    latency: { type: 'string', default: '25' },
    cap: { type: 'string', default: '2' },
    /** Addresses verified with verifyMany() before the timings (see above). */
    warm: { type: 'string', default: '0' },
    /** Only rcpt's run (for profiling): no baseline, no ratios, no verdict comparison. */
    'rcpt-only': { type: 'boolean', default: false },
    'without-rate-host': { type: 'boolean', default: false },
    /** verifyMany()'s `slowStart` (its default when not given; 0: none). */
    'slow-start': { type: 'string' },
    /** Print when each host's last rcpt result arrived, and results per second. */
    timeline: { type: 'boolean', default: false },
    /** The world in a child process instead of a worker thread: its CPU time is then none of rcpt's. */
    'world-process': { type: 'boolean', default: false },
    /** rcpt directly against rcpt through Dante, instead of rcpt against the naive baseline. */
    proxy: { type: 'boolean', default: false },
    /** rcpt from dist/, compiled by tsc as users run it (`npm run build` first), instead of src/ through tsx. */
    dist: { type: 'boolean', default: false },
    /** rcpt from another tree's dist/ (its `npm run build`), on this tree's world: two commits like for like. */
    'rcpt-dist': { type: 'string' },
  },
});
// tsx compiles src/ keeping every function's name (a call per named closure made); tsc's dist/ does not.
const entry =
  values['rcpt-dist'] !== undefined
    ? pathToFileURL(join(resolve(values['rcpt-dist']), 'index.js')).href
    : values.dist
      ? '../dist/index.js'
      : '../src/index.js';
const { createVerifier } = (await import(entry)) as typeof import('../src/index.js');
const COUNT = Number(values.addresses);
const LATENCY = Number(values.latency);
const CAP = Number(values.cap);
const SLOW_START = values['slow-start'] === undefined ? undefined : Number(values['slow-start']);

interface Counted {
  connections: number;
  rcpts: number;
  roundTrips: number;
  peakByHost: Map<string, number>;
  sleptReplies: number;
  hardLimitHits: number;
  mailRefusals: number;
  /** Penalties drawn (delayed replies, 421 disconnects, refusals of our sender) by the host's budget kind. */
  penaltiesByBudget: Map<string, number>;
  /** Replies a rate-limited host delayed for coming above its replies a second, and the times it began to. */
  rateDelayed: number;
  rateSlowdowns: number;
  /** The same per host that limits its replies a second, by name. */
  rateByHost: Map<string, { slowdowns: number; delayed: number }>;
}

function counted(before: readonly HostStats[], after: readonly HostStats[]): Counted {
  const result: Counted = {
    connections: 0,
    rcpts: 0,
    roundTrips: 0,
    peakByHost: new Map(),
    sleptReplies: 0,
    hardLimitHits: 0,
    mailRefusals: 0,
    penaltiesByBudget: new Map(),
    rateDelayed: 0,
    rateSlowdowns: 0,
    rateByHost: new Map(),
  };
  after.forEach((end, i) => {
    const start = before[i];
    if (start === undefined) return;
    const penalties =
      end.sleptReplies -
      start.sleptReplies +
      end.hardLimitHits -
      start.hardLimitHits +
      end.mailRefusals -
      start.mailRefusals;
    result.penaltiesByBudget.set(end.budget, (result.penaltiesByBudget.get(end.budget) ?? 0) + penalties);
    result.mailRefusals += end.mailRefusals - start.mailRefusals;
    result.connections += end.connections - start.connections;
    result.rcpts += end.rcpts - start.rcpts;
    result.roundTrips += end.roundTrips - start.roundTrips;
    result.sleptReplies += end.sleptReplies - start.sleptReplies;
    result.hardLimitHits += end.hardLimitHits - start.hardLimitHits;
    result.rateDelayed += end.rateDelayed - start.rateDelayed;
    result.rateSlowdowns += end.rateSlowdowns - start.rateSlowdowns;
    result.peakByHost.set(end.name, end.peak);
    if (end.replyRate !== null)
      result.rateByHost.set(end.name, {
        slowdowns: end.rateSlowdowns - start.rateSlowdowns,
        delayed: end.rateDelayed - start.rateDelayed,
      });
  });
  return result;
}

/** What a host's count of crossings of its replies a second says against the floor of one a host. */
function floorNote(slowdowns: number): string {
  if (slowdowns === 0) return '';
  if (slowdowns === 1) return ' (the floor: a rate nobody announces is crossed once to be learned)';
  return ` (${slowdowns - 1} past the floor of 1)`;
}

async function runRcpt(world: ThreadWorld, options: VerifyOptions): Promise<Map<string, VerifyResult>> {
  const verifier = createVerifier(options);
  const results = new Map<string, VerifyResult>();
  const hostOf = new Map(world.addresses.map((a) => [a.address, a.hostIp ?? 'dns only']));
  const started = performance.now();
  const lastByHost = new Map<string, { first: number; at: number; count: number }>();
  const perSecond: number[] = [];
  try {
    for await (const result of verifier.verifyMany(
      world.addresses.map((a) => a.address),
      { hostConcurrency: CAP, ...(SLOW_START === undefined ? {} : { slowStart: SLOW_START }) },
    )) {
      results.set(result.input, result);
      const at = performance.now() - started;
      const host = hostOf.get(result.input) ?? '?';
      const seen = lastByHost.get(host);
      lastByHost.set(host, { first: seen?.first ?? at, at, count: (seen?.count ?? 0) + 1 });
      const second = Math.floor(at / 1000);
      perSecond[second] = (perSecond[second] ?? 0) + 1;
    }
  } finally {
    await verifier.close();
  }
  if (values.timeline) {
    for (const [host, { first, at, count }] of [...lastByHost.entries()].sort((a, b) => a[1].at - b[1].at)) {
      console.log(
        `  ${host.padEnd(10)} ${String(count).padStart(5)} addresses, results from ${fmt(first / 1000, 2)} s to ${fmt(at / 1000, 2)} s`,
      );
    }
    console.log(`  results per second: ${perSecond.map((n) => String(n)).join(' ')}`);
  }
  return results;
}

/** One connection per address: `verify()` per address, at most CAP at once per MX host address. */
async function runNaive(world: ThreadWorld, options: VerifyOptions): Promise<Map<string, VerifyResult>> {
  const verifier = createVerifier(options);
  const results = new Map<string, VerifyResult>();
  const byHost = new Map<string, string[]>();
  for (const { address, hostIp } of world.addresses) {
    const key = hostIp ?? 'dns-only';
    byHost.set(key, [...(byHost.get(key) ?? []), address]);
  }
  try {
    await Promise.all(
      [...byHost.entries()].flatMap(([key, list]) => {
        let next = 0;
        const workers = key === 'dns-only' ? 16 : CAP;
        return Array.from({ length: workers }, async () => {
          while (next < list.length) {
            const address = list[next++];
            if (address !== undefined) results.set(address, await verifier.verify(address));
          }
        });
      }),
    );
  } finally {
    await verifier.close();
  }
  return results;
}

/** Per-host bounds of issue 6 for this world, in milliseconds; the slowest host bounds the world. */
function bounds(world: ThreadWorld): { lockStep: number; onePerAddress: number } {
  const perHost = new Map<string, number>();
  for (const { hostIp } of world.addresses)
    if (hostIp !== null) perHost.set(hostIp, (perHost.get(hostIp) ?? 0) + 1);
  let lockStep = 0;
  let onePerAddress = 0;
  for (const host of world.hosts) {
    const n = perHost.get(host.ip) ?? 0;
    if (n === 0) continue;
    const sessions = Math.min(CAP, n);
    const transactions = Math.max(
      sessions,
      host.recipientLimit === null ? 0 : Math.ceil(n / host.recipientLimit),
    );
    const extra = transactions - sessions;
    lockStep = Math.max(lockStep, LATENCY * Math.ceil((3 * sessions + 2 * extra + n) / CAP));
    onePerAddress = Math.max(onePerAddress, LATENCY * Math.ceil((4 * n) / CAP));
  }
  return { lockStep, onePerAddress };
}

/**
 * The world's wall-time bound at `CAP` connections per host with 0 penalties, in milliseconds: a host
 * with an error budget refuses at most `soft` RCPTs in a session without delaying a reply (Postfix's
 * `smtpd_soft_error_limit`: the reply after the 10th refusal is the first one delayed), so its refused
 * RCPTs (unknown mailboxes and the catch-all probes of its domains that are not catch-all) need at
 * least ⌈refusals / soft⌉ sessions, each of at least 3 round trips (greeting, EHLO, one pipelined
 * MAIL + RCPTs + QUIT), `CAP` at a time: L × 3 × ⌈sessions / CAP⌉. Hosts without a budget need one
 * session of 3 round trips. DNS and CPU are left out; the slowest host bounds the world.
 */
function budgetBound(world: ThreadWorld): { ms: number; host: string; refusals: number; sessions: number } {
  const refusals = new Map<string, number>();
  const probed = new Set<string>();
  for (const { address, hostIp, expected } of world.addresses) {
    if (hostIp === null) continue;
    let refused = expected === 'undeliverable/mailbox_not_found' ? 1 : 0;
    // One catch-all probe per domain, refused unless the domain accepts every recipient.
    const domain = address.slice(address.lastIndexOf('@') + 1);
    const probeRefused =
      expected === 'deliverable/accepted' || expected === 'undeliverable/mailbox_not_found';
    if (probeRefused && !probed.has(domain)) {
      probed.add(domain);
      refused += 1;
    }
    refusals.set(hostIp, (refusals.get(hostIp) ?? 0) + refused);
  }
  let worst = { ms: 0, host: '', refusals: 0, sessions: 0 };
  for (const host of world.hosts) {
    const refused = refusals.get(host.ip) ?? 0;
    const sessions = host.budget === 'none' ? 1 : Math.max(1, Math.ceil(refused / POSTFIX_LIMITS.soft));
    const ms = LATENCY * 3 * Math.ceil(sessions / CAP);
    if (ms > worst.ms) worst = { ms, host: host.name, refusals: refused, sessions };
  }
  return worst;
}

/**
 * The fewest round trips a scheduler needs at a host with an error budget when it cannot know which
 * RCPTs will be refused before it asks: any RCPT may be, so a round trip carries at most the refusals
 * the session has left (`soft` a session, Postfix's soft limit), and a session costs 2 round trips
 * (greeting, EHLO) before its first pipelined MAIL + RCPTs. `refused` is the host's list in order, true
 * where the RCPT is refused. Dynamic programming over (position, refusals left).
 */
export function blindRoundTrips(refused: readonly boolean[], soft: number): number {
  const n = refused.length;
  const before = [0];
  for (const flag of refused) before.push((before.at(-1) ?? 0) + (flag ? 1 : 0));
  // open[i][r]: round trips to finish from i with a session open and r refusals left; fresh[i]: none open.
  const open: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(soft + 1).fill(0));
  const fresh = new Array<number>(n + 1).fill(0);
  for (let i = n - 1; i >= 0; i -= 1) {
    const row = open[i] ?? [];
    const best = (r: number): number => {
      let min = Infinity;
      for (let size = 1; size <= Math.min(r, n - i); size += 1) {
        const j = i + size;
        const left = r - ((before[j] ?? 0) - (before[i] ?? 0));
        const rest = j === n ? 0 : left > 0 ? (open[j]?.[left] ?? 0) : (fresh[j] ?? 0);
        min = Math.min(min, 1 + rest);
      }
      return min;
    };
    row[soft] = best(soft);
    fresh[i] = 2 + (row[soft] ?? 0);
    for (let r = soft - 1; r >= 1; r -= 1) row[r] = Math.min(fresh[i] ?? 0, best(r));
  }
  return fresh[0] ?? 0;
}

/**
 * The same bound for a scheduler that cannot know the answers in advance (`blindRoundTrips` at each host
 * with an error budget, its catch-all probes last, `CAP` connections at a time); hosts without a budget
 * as in `budgetBound`. The slowest host bounds the world.
 */
function blindBound(world: ThreadWorld): { ms: number; host: string; roundTrips: number } {
  const lists = new Map<string, boolean[]>();
  const probes = new Map<string, number>();
  const probed = new Set<string>();
  for (const { address, hostIp, expected } of world.addresses) {
    if (hostIp === null) continue;
    const list = lists.get(hostIp) ?? [];
    list.push(expected === 'undeliverable/mailbox_not_found');
    lists.set(hostIp, list);
    const domain = address.slice(address.lastIndexOf('@') + 1);
    const probeRefused =
      expected === 'deliverable/accepted' || expected === 'undeliverable/mailbox_not_found';
    if (probeRefused && !probed.has(domain)) {
      probed.add(domain);
      probes.set(hostIp, (probes.get(hostIp) ?? 0) + 1);
    }
  }
  let worst = { ms: 0, host: '', roundTrips: 0 };
  for (const host of world.hosts) {
    if (host.budget === 'none') continue;
    const list = [...(lists.get(host.ip) ?? []), ...new Array<boolean>(probes.get(host.ip) ?? 0).fill(true)];
    const roundTrips = blindRoundTrips(list, POSTFIX_LIMITS.soft);
    const ms = LATENCY * Math.ceil(roundTrips / CAP);
    if (ms > worst.ms) worst = { ms, host: host.name, roundTrips };
  }
  return worst;
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);

async function main(): Promise<number> {
  const worldProcess = values['world-process'];
  const world = await startWorldThread(COUNT, LATENCY, worldProcess, !values['without-rate-host']);
  try {
    const smtpAddresses = world.addresses.filter((a) => a.hostIp !== null).length;
    const domains = new Set(world.addresses.map((a) => a.address.slice(a.address.lastIndexOf('@') + 1)));
    console.log(
      `bulk: ${world.addresses.length} addresses (${smtpAddresses} reach SMTP) at ${domains.size} domains, ` +
        `${world.hosts.length} MX hosts, ${LATENCY} ms per reply, cap ${CAP} connections per host`,
    );
    const limited = world.hosts.filter((host) => host.replyRate !== null);
    console.log(
      limited.length === 0
        ? 'world: no host limits its replies a second (--without-rate-host: the world of the series before 2026-12-06 23:00)'
        : `world: ${limited.map((h) => `${h.name} delays every reply above ${String(h.replyRate)} a second`).join(', ')} ` +
            '(new on 2026-12-06: its figures are not comparable with the series before; --without-rate-host for that world)',
    );
    const options: VerifyOptions = {
      dnsServers: [world.dnsServer],
      smtpPort: world.smtpPort,
      allowPrivateTargets: true,
      helo: 'bench.rcpt.test',
      mailFrom: 'verify@rcpt.test',
      greylistWaitMs: 0,
      // No provider ceiling on RCPTs per minute at the world's Yahoo-like host (docs/bulk.md).
      hostRate: 0,
    };

    // Warm-up outside the timings: the first verification loads the domain-facts data (disposable and
    // free-provider lists) and compiles the hot paths; whichever run came first would pay for it.
    const warm = createVerifier(options);
    await warm.verify('warm.up@warmup-nowhere.test');
    const warmCount = Number(values.warm);
    if (warmCount > 0) {
      const warmed: string[] = [];
      const list = world.addresses.slice(0, warmCount).map((a) => a.address);
      for await (const result of warm.verifyMany(list, { hostConcurrency: CAP })) warmed.push(result.verdict);
      console.log(`warmed up on ${warmed.length} addresses (verifyMany, outside the timings)`);
    }
    await warm.close();

    if (values.proxy) return await compareProxy(world, options, smtpAddresses);

    const runs: {
      name: string;
      ms: number;
      cpuMs: number;
      /** The world's thread's share of cpuMs, and the main thread's; null where unknown. */
      worldCpuMs: number | null;
      mainCpuMs: number | null;
      counts: Counted;
      results: Map<string, VerifyResult>;
    }[] = [];
    const all = [
      ['rcpt verifyMany', runRcpt],
      ['naive (1 conn/address)', runNaive],
    ] as const;
    let rcptStart: HostStats[] | null = null;
    let rcptEnd: HostStats[] | null = null;
    for (const [name, run] of values['rcpt-only'] ? all.slice(0, 1) : all) {
      const worldCpu = await world.cpuMicros();
      const cpu = process.cpuUsage();
      const mainCpu = threadCpuMicros();
      await world.resetPeaks();
      const before = await world.stats();
      const started = performance.now();
      const results = await run(world, options);
      const ms = performance.now() - started;
      const used = process.cpuUsage(cpu);
      const mainUsed = threadCpuMicros();
      const worldUsed = await world.cpuMicros();
      const after = await world.stats();
      if (run === runRcpt) {
        rcptStart = before;
        rcptEnd = after;
      }
      runs.push({
        name,
        ms,
        // The world's process is counted in as its thread is: the column stays rcpt's and the world's.
        cpuMs:
          (used.user + used.system) / 1000 +
          (worldProcess && worldCpu !== null && worldUsed !== null ? (worldUsed - worldCpu) / 1000 : 0),
        worldCpuMs: worldCpu === null || worldUsed === null ? null : (worldUsed - worldCpu) / 1000,
        mainCpuMs: mainCpu === null || mainUsed === null ? null : (mainUsed - mainCpu) / 1000,
        counts: counted(before, after),
        results,
      });
    }

    if (values.timeline) {
      const before = new Map((rcptStart ?? []).map((h) => [h.name, h]));
      for (const end of rcptEnd ?? []) {
        const start = before.get(end.name);
        if (start === undefined) continue;
        console.log(
          `  ${end.name.padEnd(10)} ${end.budget.padEnd(12)} connections ${end.connections - start.connections}, ` +
            `transactions ${end.mails - start.mails}, RCPTs ${end.rcpts - start.rcpts}, ` +
            `round trips ${end.roundTrips - start.roundTrips}, delayed ${end.sleptReplies - start.sleptReplies}` +
            (end.replyRate === null
              ? ''
              : `, above ${end.replyRate} replies/s: ${end.rateDelayed - start.rateDelayed} replies delayed, ` +
                `${end.rateSlowdowns - start.rateSlowdowns} slowdowns`),
        );
      }
    }
    const { lockStep, onePerAddress } = bounds(world);
    console.log('');
    console.log(
      'run                      addr/s   seconds  conn/addr  rcpt/addr  rtt/addr  peak/host  slept  421s  mail refused  cpu s  cpu µs/addr',
    );
    for (const { name, ms, cpuMs, counts, results } of runs) {
      const peak = Math.max(...counts.peakByHost.values());
      console.log(
        `${name.padEnd(24)} ${fmt(results.size / (ms / 1000), 0).padStart(6)} ${fmt(ms / 1000, 1).padStart(9)} ` +
          `${fmt(counts.connections / smtpAddresses, 3).padStart(10)} ${fmt(counts.rcpts / smtpAddresses, 3).padStart(10)} ` +
          `${fmt(counts.roundTrips / smtpAddresses, 2).padStart(9)} ${String(peak).padStart(10)} ` +
          `${String(counts.sleptReplies).padStart(6)} ${String(counts.hardLimitHits).padStart(5)} ` +
          `${String(counts.mailRefusals).padStart(13)} ` +
          `${fmt(cpuMs / 1000, 1).padStart(6)} ${fmt((cpuMs * 1000) / results.size, 0).padStart(12)}`,
      );
    }
    console.log('');
    console.log(
      worldProcess
        ? "CPU per address by process and thread (cpu µs/addr above is rcpt's process and the world's):"
        : 'CPU per address by thread (cpu µs/addr above is the whole process: every thread, the world included):',
    );
    const worldPart = worldProcess ? "the world's process" : "the world's thread";
    for (const { name, cpuMs, worldCpuMs, mainCpuMs, results } of runs) {
      const perAddress = (ms: number) => fmt((ms * 1000) / results.size, 0);
      if (worldCpuMs === null || mainCpuMs === null) {
        console.log(`  ${name}: threads unknown on this system`);
        continue;
      }
      console.log(
        `  ${name.padEnd(24)} ${perAddress(cpuMs)} µs = ${worldPart} ${perAddress(worldCpuMs)} + rcpt ` +
          `${perAddress(cpuMs - worldCpuMs)} (its main thread ${perAddress(mainCpuMs)}, V8 and libuv threads ` +
          `${perAddress(cpuMs - worldCpuMs - mainCpuMs)})`,
      );
    }
    const [rcpt, naive] = runs;
    if (rcpt === undefined || naive === undefined) return 1;
    console.log('');
    console.log(`lower bound, lock-step (session reuse, no pipelining): ${fmt(lockStep / 1000, 1)} s`);
    console.log(`lower bound, one connection per address:              ${fmt(onePerAddress / 1000, 1)} s`);
    const budget = budgetBound(world);
    console.log(
      `lower bound, 0 penalties at cap ${CAP}:                ${fmt(budget.ms / 1000, 2)} s ` +
        `(${budget.host}: ${budget.refusals} refusals, ${POSTFIX_LIMITS.soft} a session without a delayed reply: ` +
        `${budget.sessions} sessions × 3 round trips / ${CAP} at a time × ${LATENCY} ms); ` +
        `rcpt took ${fmt(rcpt.ms / budget.ms, 1)}× it; at it, the baseline ratio would be ` +
        `${fmt(naive.ms / budget.ms, 0)}×`,
    );
    const blind = blindBound(world);
    console.log(
      `lower bound, 0 penalties, answers not known ahead:     ${fmt(blind.ms / 1000, 2)} s ` +
        `(${blind.host}: ${blind.roundTrips} round trips, each carrying at most the refusals its session has ` +
        `left, / ${CAP} at a time × ${LATENCY} ms); rcpt took ${fmt(rcpt.ms / blind.ms, 1)}× it; at it, the ` +
        `baseline ratio would be ${fmt(naive.ms / blind.ms, 0)}×`,
    );
    const speedup = naive.ms / rcpt.ms;
    const vsLockStep = lockStep / rcpt.ms;
    console.log(
      `rcpt vs naive: ${fmt(speedup, 1)}x   rcpt vs lock-step bound: ${fmt(vsLockStep, 2)}x   ` +
        `naive vs one-per-address bound: ${fmt(onePerAddress / naive.ms, 2)}x`,
    );

    // Verdicts: bulk = address by address = what the world was built to give.
    const differences: string[] = [];
    for (const { address, expected } of world.addresses) {
      const many = rcpt.results.get(address);
      const single = naive.results.get(address);
      const a = many === undefined ? 'missing' : `${many.verdict}/${many.reason}`;
      const b = single === undefined ? 'missing' : `${single.verdict}/${single.reason}`;
      if (a !== b || a !== expected)
        differences.push(`${address}: bulk ${a}, single ${b}, expected ${expected}`);
    }
    const peakRcpt = Math.max(...rcpt.counts.peakByHost.values());
    const penalties = rcpt.counts.penaltiesByBudget;
    const announcedOrNone = (penalties.get('postfix') ?? 0) + (penalties.get('none') ?? 0);
    const unannounced = penalties.get('unannounced') ?? 0;
    const unannouncedHosts = world.hosts.filter((host) => host.budget === 'unannounced').length;
    // A host that limits its replies a second and says nothing of it is crossed once at least: no
    // scheduler can tell its rate before a reply comes late. Each such host's crossings (slowdowns: a
    // delayed reply with none in the second before) are named apart, so that the floor of 1 a host
    // reads apart from penalties that could have been avoided.
    const rateHosts = world.hosts.filter((host) => host.replyRate !== null);
    const crossings = (counts: Counted) =>
      rateHosts.map((host) => ({
        host,
        ...(counts.rateByHost.get(host.name) ?? { slowdowns: 0, delayed: 0 }),
      }));
    const rcptCrossings = crossings(rcpt.counts);
    const perHost = (list: ReturnType<typeof crossings>) =>
      list
        .map(
          ({ host, slowdowns, delayed }) =>
            `${host.name} (${String(host.replyRate)} replies/s) ${slowdowns} crossing${slowdowns === 1 ? '' : 's'}, ` +
            `${delayed} replies delayed`,
        )
        .join('; ');
    console.log(
      `penalties drawn by rcpt (delayed replies, 421 disconnects, refusals of our sender): ` +
        `${announcedOrNone + unannounced} (${penalties.get('postfix') ?? 0} at Postfix hosts, ` +
        `${penalties.get('none') ?? 0} at hosts without a budget, ${unannounced} at the ` +
        `${unannouncedHosts} host(s) whose budget is unannounced); naive: ` +
        `${[...naive.counts.penaltiesByBudget.values()].reduce((a, b) => a + b, 0)}` +
        (rateHosts.length === 0
          ? ''
          : `; crossings of a host's replies a second: ` +
            rcptCrossings
              .map(({ host, slowdowns }) => `${host.name} ${slowdowns}${floorNote(slowdowns)}`)
              .join(', ')),
    );
    if (rateHosts.length > 0) {
      console.log(
        `slowdowns at hosts that limit their replies a second (1 crossing a host is the floor for a ` +
          `limit nobody announces): rcpt ${perHost(rcptCrossings)}; naive ${perHost(crossings(naive.counts))}`,
      );
    }
    const loads = loadavg().map((n) => fmt(n, 2));
    console.log(`load average at the end: ${loads.join(' ')} (${String(availableParallelism())} cores)`);
    const checks: [string, boolean][] = [
      [`>= 20x naive throughput (${fmt(speedup, 1)}x)`, speedup >= 20],
      [`>= 1.0x the lock-step bound (${fmt(vsLockStep, 2)}x)`, vsLockStep >= 1],
      [
        `<= 1.1 RCPT per address (${fmt(rcpt.counts.rcpts / smtpAddresses, 3)})`,
        rcpt.counts.rcpts / smtpAddresses <= 1.1,
      ],
      [
        `<= 0.03 connections per address (${fmt(rcpt.counts.connections / smtpAddresses, 3)})`,
        rcpt.counts.connections / smtpAddresses <= 0.03,
      ],
      [`peak connections per host <= ${CAP} (${peakRcpt})`, peakRcpt <= CAP],
      [
        `0 penalties at hosts that announce their budget or have none (${announcedOrNone})`,
        announcedOrNone === 0,
      ],
      [
        `<= 1 penalty per host with an unannounced budget, the crossing that learns it (${unannounced})`,
        unannounced <= unannouncedHosts,
      ],
      [`every verdict equals address-by-address (${differences.length} differ)`, differences.length === 0],
    ];
    // A slowdown at a host that limits its replies a second is a penalty too, though not one of the
    // issue's three kinds: it is checked apart so the line above keeps its meaning across the series.
    // The issue asks for none; 1 a host is the floor for a rate nobody announces, so each host's own
    // count is named.
    if (rateHosts.length > 0) {
      checks.push([
        `0 slowdowns at hosts that limit their replies a second (${rcpt.counts.rateSlowdowns}: ` +
          `${rcptCrossings.map(({ host, slowdowns }) => `${host.name} ${slowdowns}`).join(', ')}; ` +
          `the floor is 1 a host)`,
        rcpt.counts.rateSlowdowns === 0,
      ]);
    }
    console.log('');
    for (const [what, ok] of checks) console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
    for (const line of differences.slice(0, 10)) console.log(`  ${line}`);
    return checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    await world.close();
  }
}

/** `--proxy`: the same list directly and through Dante, interleaved twice (direct, proxy, direct, proxy). */
async function compareProxy(
  world: ThreadWorld,
  options: VerifyOptions,
  smtpAddresses: number,
): Promise<number> {
  const dante = await startDante({ internal: '127.0.32.41', external: '127.0.32.141' });
  try {
    const plans = [
      ['rcpt direct', options],
      ['rcpt via Dante', { ...options, proxy: dante.url }],
      ['rcpt direct', options],
      ['rcpt via Dante', { ...options, proxy: dante.url }],
    ] as const;
    const runs: { name: string; ms: number; counts: Counted; results: Map<string, VerifyResult> }[] = [];
    for (const [name, runOptions] of plans) {
      await world.resetPeaks();
      const before = await world.stats();
      const started = performance.now();
      const results = await runRcpt(world, runOptions);
      runs.push({
        name,
        ms: performance.now() - started,
        counts: counted(before, await world.stats()),
        results,
      });
    }
    console.log('');
    console.log('run                      addr/s   seconds  conn/addr  rcpt/addr  rtt/addr');
    for (const { name, ms, counts, results } of runs) {
      console.log(
        `${name.padEnd(24)} ${fmt(results.size / (ms / 1000), 0).padStart(6)} ${fmt(ms / 1000, 1).padStart(9)} ` +
          `${fmt(counts.connections / smtpAddresses, 3).padStart(10)} ${fmt(counts.rcpts / smtpAddresses, 3).padStart(10)} ` +
          fmt(counts.roundTrips / smtpAddresses, 2).padStart(9),
      );
    }
    // The better of each pair: the machine is shared, and a noisy neighbour should not decide.
    const best = (name: string) => Math.min(...runs.filter((run) => run.name === name).map((run) => run.ms));
    const ratio = best('rcpt direct') / best('rcpt via Dante');
    const direct = runs[0];
    const proxied = runs[1];
    if (direct === undefined || proxied === undefined) return 1;
    const differences: string[] = [];
    let named = 0;
    for (const { address, expected } of world.addresses) {
      const a = direct.results.get(address);
      const b = proxied.results.get(address);
      const one = a === undefined ? 'missing' : `${a.verdict}/${a.reason}`;
      const two = b === undefined ? 'missing' : `${b.verdict}/${b.reason}`;
      if (one !== two || one !== expected)
        differences.push(`${address}: direct ${one}, via Dante ${two}, expected ${expected}`);
      if (b?.smtp !== null && b?.smtp !== undefined && b.smtp.proxy === dante.url) named += 1;
    }
    const reached = [...proxied.results.values()].filter((r) => r.smtp !== null).length;
    console.log('');
    console.log(`through Dante: ${fmt(ratio * 100, 1)}% of the direct throughput (best of two runs each)`);
    const checks: [string, boolean][] = [
      [`>= 80% of the direct throughput through Dante (${fmt(ratio * 100, 1)}%)`, ratio >= 0.8],
      [`every verdict equals the direct one (${differences.length} differ)`, differences.length === 0],
      [`every SMTP result names the proxy (${named} of ${reached})`, named === reached && reached > 0],
    ];
    for (const [what, ok] of checks) console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
    for (const line of differences.slice(0, 10)) console.log(`  ${line}`);
    return checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    await dante.close();
  }
}

process.exitCode = await main();
