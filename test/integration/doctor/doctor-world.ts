/**
 * The doctor's test world, all on loopback: one DNS server whose zones hold the PTR, A, MX, SPF and
 * blocklist records of passing and failing cases, and port-25 "providers" on 127.0.10.x sharing one
 * port: a persona that greets, a raw server that never does, one that greets with 554, and an
 * address where nothing listens.
 *
 * The probing addresses are data in these zones only: nothing connects to them. 11.0.25.25 stands
 * for a public address (the doctor warns about documentation ranges such as 192.0.2.0/24, which the
 * other cases use); `zen.spamhaus.org` appears only as a zone of the loopback server, to test the
 * explanation of Spamhaus' return codes.
 */
import { createServer, type Server, type Socket } from 'node:net';

import { AcceptedSockets } from '../../helpers/accepted-sockets.js';
import { startDnsServer, type DnsServer, type DnsZones } from '../../../src/demo/dns-server.js';
import { startPersona, type RunningPersona } from '../../../src/demo/smtp-persona.js';
import type { DoctorOptions } from '../../../src/index.js';

/** A public-class address (only ever a string in the zones below). */
export const GOOD_IP = '11.0.25.25';
export const NO_PTR_IP = '192.0.2.26';
export const GENERIC_IP = '192.0.2.27';
export const MISMATCH_IP = '192.0.2.28';
export const BROKEN_PTR_IP = '192.0.2.29';
export const LISTED_IP = '192.0.2.30';
export const GOOD_IP6 = '2001:db8:25::25';

const HOSTS = { open: '127.0.10.1', silent: '127.0.10.2', refused: '127.0.10.3', rejecting: '127.0.10.4' };

function reverse(ip: string): string {
  return ip.split('.').reverse().join('.');
}

/** Nibble-reversed name of GOOD_IP6 without the zone. */
const GOOD_IP6_NIBBLES = '5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.2.0.0.8.b.d.0.1.0.0.2';

function zones(): DnsZones {
  return {
    // --- port-25 "providers"
    'open.test': { MX: [{ priority: 10, exchange: 'mx.open.test' }] },
    'mx.open.test': { A: [HOSTS.open] },
    'silent.test': { MX: [{ priority: 10, exchange: 'mx.silent.test' }] },
    'mx.silent.test': { A: [HOSTS.silent] },
    'refused.test': { MX: [{ priority: 10, exchange: 'mx.refused.test' }] },
    'mx.refused.test': { A: [HOSTS.refused] },
    'rejecting.test': { MX: [{ priority: 10, exchange: 'mx.rejecting.test' }] },
    'mx.rejecting.test': { A: [HOSTS.rejecting] },

    // --- reverse DNS of the probing addresses
    [`${reverse(GOOD_IP)}.in-addr.arpa`]: { PTR: ['probe.good.test'] },
    [`${GOOD_IP6_NIBBLES}.ip6.arpa`]: { PTR: ['probe6.good.test'] },
    [`${reverse(GENERIC_IP)}.in-addr.arpa`]: { PTR: ['27-2-0-192.dsl.pool.isp.test'] },
    '27-2-0-192.dsl.pool.isp.test': { A: [GENERIC_IP] },
    [`${reverse(MISMATCH_IP)}.in-addr.arpa`]: { PTR: ['host.mismatch.test'] },
    'host.mismatch.test': { A: ['192.0.2.99'] },
    [`${reverse(BROKEN_PTR_IP)}.in-addr.arpa`]: { behaviour: 'servfail' },
    [`${reverse(LISTED_IP)}.in-addr.arpa`]: { PTR: ['listed.good.test'] },

    // --- HELO names
    'probe.good.test': { A: [GOOD_IP], TXT: ['v=spf1 a -all'] },
    'probe6.good.test': { AAAA: [GOOD_IP6] },
    'listed.good.test': { A: [LISTED_IP] },
    'alias.good.test': { A: [GOOD_IP] },
    'elsewhere.good.test': { A: ['192.0.2.200'] },
    'broken-helo.test': { behaviour: 'servfail' },

    // --- MAIL FROM domains and their SPF
    'good.test': {
      MX: [{ priority: 10, exchange: 'mx.good.test' }],
      TXT: ['v=spf1 include:_spf.good.test -all', 'google-site-verification=abc'],
    },
    '_spf.good.test': { TXT: ['v=spf1 ip4:11.0.25.0/24 ip6:2001:db8:25::/48 ~all'] },
    'mx.good.test': { A: ['192.0.2.10'] },
    'implicit.test': { A: [GOOD_IP], TXT: ['v=spf1 a -all'] },
    'nullmx.test': { MX: [{ priority: 0, exchange: '.' }] },
    'nomail.test': { TXT: ['v=spf1 -all'] },
    'broken-mx.test': { behaviour: 'servfail' },
    'spf-fail.test': {
      MX: [{ priority: 10, exchange: 'mx.good.test' }],
      TXT: ['v=spf1 ip4:192.0.2.0/24 -all'],
    },
    'spf-soft.test': { MX: [{ priority: 10, exchange: 'mx.good.test' }], TXT: ['v=spf1 ~all'] },
    'spf-neutral.test': { MX: [{ priority: 10, exchange: 'mx.good.test' }], TXT: ['v=spf1 ?all'] },
    'spf-none.test': { MX: [{ priority: 10, exchange: 'mx.good.test' }] },
    'spf-perm.test': {
      MX: [{ priority: 10, exchange: 'mx.good.test' }],
      TXT: ['v=spf1 ip4:11.0.25.25/33 -all'],
    },
    'spf-temp.test': {
      MX: [{ priority: 10, exchange: 'mx.good.test' }],
      TXT: ['v=spf1 include:broken-spf.test -all'],
    },
    'broken-spf.test': { behaviour: 'servfail' },

    // --- blocklists: LISTED_IP is listed; GOOD_IP is not (NXDOMAIN) except on the broken lists
    [`${reverse(LISTED_IP)}.zen.spamhaus.org`]: { A: ['127.0.0.4', '127.0.0.11'] },
    [`${reverse(LISTED_IP)}.bl.test`]: { A: ['127.0.0.2'] },
    [`${reverse(GOOD_IP)}.refusing.test`]: { A: ['127.255.255.254'] },
    [`${reverse(GOOD_IP)}.parked.test`]: { A: ['192.0.2.80'] },
    [`${reverse(GOOD_IP)}.everything.test`]: { A: ['127.0.0.2'] },
    '1.0.0.127.everything.test': { A: ['127.0.0.2'] },
    [`${reverse(GOOD_IP)}.broken-bl.test`]: { behaviour: 'servfail' },
  };
}

export interface DoctorWorld {
  readonly dns: DnsServer;
  readonly smtpPort: number;
  readonly open: RunningPersona;
  /** Connections the silent and rejecting servers accepted. */
  readonly rawConnections: () => number;
  /** Options for a run against this world, all checks expected to pass; override per case. */
  options(overrides?: DoctorOptions): DoctorOptions;
  /**
   * The `rcpt doctor` flags that point it at this world: its DNS server and port, loopback targets
   * allowed, its provider and blocklist. Tests add the identity they probe with.
   */
  cliFlags(): string[];
  close(): Promise<void>;
}

interface RawListener {
  readonly server: Server;
  readonly sockets: AcceptedSockets;
  accepted: number;
}

function listen(host: string, port: number, onSocket: (socket: Socket) => void): Promise<RawListener> {
  const listener: RawListener = { server: createServer(), sockets: new AcceptedSockets(), accepted: 0 };
  listener.server.on('connection', (socket) => {
    listener.accepted++;
    listener.sockets.add(socket);
    socket.on('error', () => socket.destroy());
    onSocket(socket);
  });
  return new Promise((resolve, reject) => {
    listener.server.once('error', reject);
    listener.server.listen(port, host, () => {
      listener.server.off('error', reject);
      resolve(listener);
    });
  });
}

function closeListener(listener: RawListener): Promise<void> {
  return listener.sockets.close(listener.server);
}

/** Starts the world; close it in `after()`. */
export async function startDoctorWorld(): Promise<DoctorWorld> {
  const dns = await startDnsServer({ host: '127.0.0.1', port: 0, zones: zones() });
  const started: { persona?: RunningPersona; raws: RawListener[] } = { raws: [] };
  try {
    const open = await startPersona({ name: 'open.test', banner: 'mx.open.test ESMTP ready' }, HOSTS.open, 0);
    started.persona = open;
    // A tarpit or a middlebox that accepts the connection and never speaks.
    started.raws.push(await listen(HOSTS.silent, open.port, () => undefined));
    // A server that refuses this client at the greeting, as providers do for listed addresses.
    started.raws.push(
      await listen(HOSTS.rejecting, open.port, (socket) => {
        socket.write('554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org\r\n');
        socket.on('data', (chunk: Buffer) => {
          if (/^QUIT/im.test(chunk.toString())) socket.end('221 2.0.0 Bye\r\n');
        });
      }),
    );
    const raws = started.raws;
    return {
      dns,
      smtpPort: open.port,
      open,
      rawConnections: () => raws.reduce((sum, raw) => sum + raw.accepted, 0),
      options: (overrides = {}) => ({
        dnsServers: [dns.address],
        dnsTimeoutMs: 1_000,
        dnsTries: 1,
        smtpPort: open.port,
        allowPrivateTargets: true,
        providers: ['open.test'],
        blocklists: ['bl.test'],
        sourceIp: GOOD_IP,
        helo: 'probe.good.test',
        mailFrom: 'verify@good.test',
        connectTimeoutMs: 1_000,
        greetingTimeoutMs: 1_000,
        ...overrides,
      }),
      cliFlags: () => [
        '--dns-server',
        dns.address,
        '--smtp-port',
        String(open.port),
        '--allow-private-targets',
        '--provider',
        'open.test',
        '--blocklist',
        'bl.test',
      ],
      async close() {
        await Promise.all([dns.close(), open.close(), ...raws.map(closeListener)]);
      },
    };
  } catch (error) {
    await Promise.all([dns.close(), started.persona?.close(), ...started.raws.map(closeListener)]);
    throw error;
  }
}
