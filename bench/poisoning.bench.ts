/**
 * `npm run bench:poisoning`: what a host that may refuse every RCPT after an unknown one costs
 * (docs/bulk.md, "Real addresses after an unknown one"). Lists of 200 addresses at one host, 5 ms a
 * reply, two connections, catch-all probes off, a new verifier for each run, against three sim-MTAs
 * on loopback: one that answers every RCPT truly and has `postmaster`, one that answers truly and has
 * none (against RFC 5321 §4.5.1, as many real domains), and one that refuses everything after a first
 * unknown recipient with "user unknown". Prints, per list and host, the sessions and RCPTs the host
 * received and the run's seconds, and checks every verdict against the mailboxes that exist.
 *
 * Usage: node --import tsx bench/poisoning.bench.ts [--addresses 200] [--latency 5] [--runs 1]
 * Exit status 1 when a verdict is wrong.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { startDnsServer, type DnsZoneEntry } from '../src/demo/dns-server.js';
import { createVerifier, type VerifyOptions } from '../src/index.js';
import { startSimMta, type SimMta } from './sim-mta.js';

const { values } = parseArgs({
  options: {
    addresses: { type: 'string', default: '200' },
    latency: { type: 'string', default: '5' },
    runs: { type: 'string', default: '1' },
  },
});
const count = Number(values.addresses);
const latencyMs = Number(values.latency);
const runs = Number(values.runs);

/** Lists by name: whether address `i` of `n` exists. */
const LISTS: readonly (readonly [string, (i: number, n: number) => boolean])[] = [
  ['all unknown', () => false],
  ['the first 30 % unknown, then a quarter existing', (i, n) => i >= 0.3 * n && i % 4 === 1],
  ['a tenth existing', (i) => i % 10 === 0],
  ['a quarter unknown', (i) => i % 4 !== 1],
];

const unknownUser = (address: string) =>
  address.startsWith('ok')
    ? null
    : { code: 550, text: `5.1.1 <${address}>: Recipient address rejected: User unknown` };

const HOSTS = [
  {
    name: 'answers, has postmaster',
    ip: '127.0.6.41',
    domain: 'answers.test',
    postmaster: true,
    poisons: false,
  },
  {
    name: 'answers, no postmaster',
    ip: '127.0.6.42',
    domain: 'no-postmaster.test',
    postmaster: false,
    poisons: false,
  },
  { name: 'poisons', ip: '127.0.6.43', domain: 'poisons.test', postmaster: true, poisons: true },
] as const;

const servers: SimMta[] = [];
let port = 0;
for (const host of HOSTS) {
  const mta = await startSimMta({
    name: host.domain,
    host: host.ip,
    port,
    banner: `mx.${host.domain} ESMTP`,
    latencyMs,
    recipient: unknownUser,
    postmaster: host.postmaster,
    refuseAllAfterUnknown: host.poisons,
    poisonedReply: { code: 550, text: '5.1.1 Recipient address rejected: User unknown' },
  });
  port = mta.port;
  servers.push(mta);
}
const zones: Record<string, DnsZoneEntry> = {};
for (const host of HOSTS) {
  zones[`mx.${host.domain}`] = { A: [host.ip] };
  zones[host.domain] = { MX: [{ priority: 10, exchange: `mx.${host.domain}` }] };
}
const dns = await startDnsServer({ zones });
const options: VerifyOptions = {
  dnsServers: [dns.address],
  smtpPort: port,
  allowPrivateTargets: true,
  helo: 'probe.rcpt.test',
  mailFrom: 'verify@rcpt.test',
  timeoutMs: 30_000,
  greylistWaitMs: 0,
  catchAll: false,
};

console.log(
  `${count} addresses a list at one host, ${latencyMs} ms a reply, 2 connections; load ${loadavg()[0]?.toFixed(1)}`,
);
let wrong = 0;
for (const [list, exists] of LISTS) {
  for (const [index, host] of HOSTS.entries()) {
    const mta = servers[index] as SimMta;
    for (let run = 0; run < runs; run += 1) {
      const inputs = Array.from(
        { length: count },
        (_, i) => `${exists(i, count) ? 'ok' : 'no'}${i}r${run}@${host.domain}`,
      );
      const sessions = mta.stats.connections;
      const rcpts = mta.stats.rcpts;
      const verifier = createVerifier(options);
      const started = performance.now();
      let bad = 0;
      try {
        for await (const result of verifier.verifyMany(inputs, { hostConcurrency: 2 })) {
          const expected = result.input.startsWith('ok') ? 'deliverable' : 'undeliverable';
          if (result.verdict !== expected) bad += 1;
        }
      } finally {
        await verifier.close();
      }
      const seconds = (performance.now() - started) / 1000;
      wrong += bad;
      console.log(
        `${list} | ${host.name} | ${mta.stats.connections - sessions} sessions · ${mta.stats.rcpts - rcpts} RCPTs · ${seconds.toFixed(2)} s${bad > 0 ? ` | ${bad} verdicts wrong` : ''}`,
      );
    }
  }
}
await Promise.all([dns.close(), ...servers.map((mta) => mta.close())]);
console.log(wrong === 0 ? 'every verdict right' : `${wrong} verdicts wrong`);
process.exitCode = wrong === 0 ? 0 : 1;
