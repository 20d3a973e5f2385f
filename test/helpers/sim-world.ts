/**
 * A world of simulated MX hosts on loopback, as the scheduler's tests build it: sim-MTAs
 * (bench/sim-mta.ts) sharing one port, each at its own loopback address and the MX (`mx.<first
 * domain>`) of its domains, the repo's DNS server pointing those domains at them, and the verify
 * options that reach them. Each host is named by the test (`{ limited: …, open: … }`) and its sim-MTA
 * read back by that name.
 */
import { startSimMta, type SimMta, type SimMtaOptions, type SimReply } from '../../bench/sim-mta.js';
import { startDnsServer, type DnsServer, type DnsZoneEntry } from '../../src/demo/dns-server.js';
import type { VerifyOptions } from '../../src/index.js';
import { loopbackOptions } from './world-options.js';

/** Postfix's refusal of a mailbox that does not exist. */
export const userUnknown = (address: string): SimReply => ({
  code: 550,
  text: `5.1.1 <${address}>: Recipient address rejected: User unknown`,
});

/** The tests' usual mailboxes: a local part starting `ok` exists, any other is `userUnknown()`. */
export const okExists = (address: string): SimReply | null =>
  address.startsWith('ok') ? null : userUnknown(address);

export interface SimHost extends Omit<SimMtaOptions, 'name' | 'host' | 'port'> {
  /** The host's loopback address (each test file its own). */
  readonly host: string;
  /** The domains it serves, the first naming it. */
  readonly domains: readonly [string, ...string[]];
}

export interface SimWorld<K extends string> {
  readonly mtas: Readonly<Record<K, SimMta>>;
  readonly dns: DnsServer;
  /** Loopback targets allowed, the world's DNS server and port, no greylisting wait. */
  readonly options: VerifyOptions;
  readonly close: () => Promise<void>;
}

/** Starts a sim-MTA for each of `hosts` (all on the first one's port) and the DNS server naming them. */
export async function startSimWorld<K extends string>(
  hosts: Readonly<Record<K, SimHost>>,
): Promise<SimWorld<K>> {
  const started: [K, SimMta][] = [];
  const close = async (dns?: DnsServer): Promise<void> => {
    await Promise.all([dns?.close(), ...started.map(([, mta]) => mta.close())]);
  };
  const zones: Record<string, DnsZoneEntry> = {};
  try {
    let port = 0;
    for (const [key, { host, domains, ...options }] of Object.entries(hosts) as [K, SimHost][]) {
      const [first] = domains;
      const mx = `mx.${first}`;
      const mta = await startSimMta({ ...options, name: first, host, port });
      started.push([key, mta]);
      port = mta.port;
      zones[mx] = { A: [host] };
      for (const domain of domains) zones[domain] = { MX: [{ priority: 10, exchange: mx }] };
    }
    const dns = await startDnsServer({ zones });
    return {
      mtas: Object.fromEntries(started) as Record<K, SimMta>,
      dns,
      options: {
        ...loopbackOptions({ dnsServer: dns.address, smtpPort: port }),
        greylistWaitMs: 0,
      },
      close: () => close(dns),
    };
  } catch (error) {
    await close();
    throw error;
  }
}
