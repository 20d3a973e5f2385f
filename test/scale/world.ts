/**
 * The scale-out test world: a DNS server and a dozen simulated MTAs on loopback (127.0.10.x, one
 * port shared by all, as port 25 is in real life), serving a few hundred domains with a realistic skew
 * (a few big domains hold half the list; many domains share one MX host address).
 *
 * Each MTA answers after a per-reply delay (a network round trip modelled in the server), advertises
 * PIPELINING, and counts per connection what the scale-out suite asserts: open connections and their
 * peak (the per-host cap must hold across all workers), RCPTs per address, and the client addresses
 * seen (each worker sends from its own source address). One host greylists like postgrey, keyed by the
 * client's /24 network (postgrey's default `--lookup-by-subnet`), so a retry from another worker of the
 * same network passes.
 */
import { createServer, type Server, type Socket } from 'node:net';

import { startDnsServer, type DnsServer, type DnsZones } from '../../src/demo/dns-server.js';
import type { VerifyOptions } from '../../src/index.js';
import { seeded } from '../helpers/seeded.js';
import { loopbackOptions } from '../helpers/world-options.js';

export interface HostStats {
  readonly ip: string;
  connections: number;
  open: number;
  peak: number;
  rcpts: number;
  readonly clients: Set<string>;
}

export interface ScaleWorld {
  readonly dns: DnsServer;
  readonly port: number;
  readonly hosts: readonly HostStats[];
  /** The list: every address with the verdict the world gives it. */
  readonly addresses: readonly {
    readonly address: string;
    readonly verdict: 'deliverable' | 'undeliverable';
  }[];
  /** RCPTs received per address (lowercased), over all hosts. */
  readonly rcptsByAddress: Map<string, number>;
  /** Every RCPT's address (lowercased) in the order the hosts read them, over all hosts. */
  readonly rcptOrder: string[];
  /** The IP of the host that greylists. */
  readonly greylistHost: string;
  /** The domains each host address serves. */
  readonly domainsByHost: ReadonlyMap<string, readonly string[]>;
  close(): Promise<void>;
}

export interface ScaleWorldOptions {
  /** Addresses in the list. */
  readonly size: number;
  /** MX host addresses (127.0.10.1 …). Default 12. */
  readonly hostCount?: number;
  /** Domains. Default 300. */
  readonly domainCount?: number;
  /** Delay of every reply, in milliseconds. Default 5. */
  readonly latencyMs?: number;
  /** How long the greylisting host defers a new triplet, in milliseconds. Default 600. */
  readonly greylistMs?: number;
  /** Seed for the list. */
  readonly seed?: number;
  /** Delay of every DNS answer, in milliseconds, or a function asked at each query. Default 0. */
  readonly dnsDelayMs?: number | (() => number);
}

async function listenAll(ips: readonly string[], handler: (socket: Socket, ip: string) => void) {
  // One port on every address; a port taken on one of them means trying another.
  for (let attempt = 0; attempt < 20; attempt++) {
    const servers: Server[] = [];
    let port = 0;
    try {
      for (const ip of ips) {
        const server = createServer((socket) => {
          handler(socket, ip);
        });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, ip, () => {
            server.off('error', reject);
            resolve();
          });
        });
        servers.push(server);
        if (port === 0) {
          const address = server.address();
          port = typeof address === 'object' && address !== null ? address.port : 0;
        }
      }
      return { servers, port };
    } catch {
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    }
  }
  throw new Error('no port free on every world address');
}

/** Starts the world. */
export async function startScaleWorld(options: ScaleWorldOptions): Promise<ScaleWorld> {
  const hostCount = options.hostCount ?? 12;
  const domainCount = options.domainCount ?? 300;
  const latency = options.latencyMs ?? 5;
  const greylistMs = options.greylistMs ?? 600;
  const rand = seeded(options.seed ?? 8);
  const ips = Array.from({ length: hostCount }, (_, i) => `127.0.10.${i + 1}`);
  const greylistHost = ips[hostCount - 1] as string;
  const hosts: HostStats[] = ips.map((ip) => ({
    ip,
    connections: 0,
    open: 0,
    peak: 0,
    rcpts: 0,
    clients: new Set<string>(),
  }));
  const rcptsByAddress = new Map<string, number>();
  const rcptOrder: string[] = [];
  const greylist = new Map<string, number>();
  const sockets = new Set<Socket>();

  const zones: Record<string, DnsZones[string]> = {};
  for (const [index, ip] of ips.entries()) zones[`mx${index + 1}.scale.test`] = { A: [ip] };
  const domains: string[] = [];
  const domainsByHost = new Map<string, string[]>(ips.map((ip) => [ip, []]));
  for (let d = 0; d < domainCount; d++) {
    const domain = `d${d}.scale.test`;
    domains.push(domain);
    // Big domains on their own hosts; the long tail shares hosts, as vanity domains share a provider.
    const host = d < 4 ? d + 1 : 5 + (d % (hostCount - 4));
    zones[domain] = { MX: [{ priority: 10, exchange: `mx${host}.scale.test` }] };
    domainsByHost.get(ips[host - 1] as string)?.push(domain);
  }
  zones['nxmx.scale.test'] = { MX: [{ priority: 10, exchange: 'missing.scale.test' }] };
  const dnsDelay = options.dnsDelayMs;
  const dns = await startDnsServer({
    zones,
    ...(dnsDelay === undefined
      ? {}
      : { delayMs: typeof dnsDelay === 'number' ? dnsDelay : () => dnsDelay() }),
  });

  const addresses: { address: string; verdict: 'deliverable' | 'undeliverable' }[] = [];
  for (let i = 0; i < options.size; i++) {
    // Half the list on the four big domains, the rest spread over the tail.
    const d = rand() < 0.5 ? Math.floor(rand() * 4) : 4 + Math.floor(rand() * (domainCount - 4));
    const deliverable = rand() < 0.8;
    const local = `${deliverable ? 'ok' : 'no'}${i}`;
    addresses.push({
      address: `${local}@${domains[d] as string}`,
      verdict: deliverable ? 'deliverable' : 'undeliverable',
    });
  }

  const handle = (socket: Socket, ip: string): void => {
    const stats = hosts.find((h) => h.ip === ip) as HostStats;
    sockets.add(socket);
    stats.connections += 1;
    stats.open += 1;
    stats.peak = Math.max(stats.peak, stats.open);
    const client = socket.remoteAddress ?? '';
    stats.clients.add(client);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    // The connection is over for the server when it answers QUIT or sees the client's FIN, as for
    // Postfix's anvil (the smtpd process disconnects then), not when the kernel has torn it down.
    let counted = true;
    const gone = () => {
      if (!counted) return;
      counted = false;
      stats.open -= 1;
    };
    socket.on('end', gone);
    socket.on('close', () => {
      gone();
      sockets.delete(socket);
    });
    // Replies leave in command order (RFC 2920 §3): one queue per connection drained by one timer, since
    // two timers due in the same millisecond do not promise to fire in the order they were set.
    const queue: { at: number; text: string; close: boolean }[] = [];
    let timer: NodeJS.Timeout | null = null;
    const drain = () => {
      timer = null;
      while (queue.length > 0 && (queue[0]?.at ?? 0) <= Date.now()) {
        const next = queue.shift() as { at: number; text: string; close: boolean };
        if (socket.destroyed) return;
        socket.write(`${next.text}\r\n`);
        if (next.close) {
          gone();
          socket.end();
        }
      }
      const head = queue[0];
      if (head !== undefined) timer = setTimeout(drain, Math.max(0, head.at - Date.now()));
    };
    socket.on('close', () => {
      if (timer !== null) clearTimeout(timer);
    });
    let buffer = '';
    let mailFrom = '';
    const send = (text: string, close = false) => {
      queue.push({ at: Date.now() + latency, text, close });
      timer ??= setTimeout(drain, latency);
    };
    send(`220 mx.scale.test ESMTP sim`);
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let index: number;
      while ((index = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, index).replace(/\r$/, '');
        buffer = buffer.slice(index + 1);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') send('250-mx.scale.test\r\n250-PIPELINING\r\n250 8BITMIME');
        else if (verb === 'HELO') send('250 mx.scale.test');
        else if (verb === 'MAIL') {
          mailFrom = /<([^>]*)>/.exec(line)?.[1] ?? '';
          send('250 2.1.0 Ok');
        } else if (verb === 'RCPT') {
          stats.rcpts += 1;
          const address = (/<([^>]*)>/.exec(line)?.[1] ?? '').toLowerCase();
          rcptsByAddress.set(address, (rcptsByAddress.get(address) ?? 0) + 1);
          rcptOrder.push(address);
          const local = address.split('@')[0] ?? '';
          if (ip === greylistHost && !local.startsWith('r')) {
            // postgrey keys on the client's /24 (--lookup-by-subnet), the sender and the recipient.
            const triplet = `${client.split('.').slice(0, 3).join('.')}|${mailFrom}|${address}`;
            const first = greylist.get(triplet);
            if (first === undefined) greylist.set(triplet, Date.now());
            if (first === undefined || Date.now() - first < greylistMs) {
              send(
                `450 4.2.0 <${address}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/scale.test.html`,
              );
              continue;
            }
          }
          if (local.startsWith('ok')) send('250 2.1.5 Ok');
          else
            send(`550 5.1.1 <${address}>: Recipient address rejected: User unknown in virtual mailbox table`);
        } else if (verb === 'RSET') send('250 2.0.0 Ok');
        else if (verb === 'NOOP') send('250 2.0.0 Ok');
        else if (verb === 'QUIT') send('221 2.0.0 Bye', true);
        else if (verb === 'DATA') send('554 5.5.1 Error: no valid recipients');
        else send('502 5.5.2 Error: command not recognized');
      }
    });
  };

  const { servers, port } = await listenAll(ips, handle);
  return {
    dns,
    port,
    hosts,
    addresses,
    rcptsByAddress,
    rcptOrder,
    greylistHost,
    domainsByHost,
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      await dns.close();
    },
  };
}

/** The verification flags of `rcpt serve | worker | bulk` that point them at `world` (loopback only). */
export function worldFlags(world: ScaleWorld): string[] {
  return [
    '--dns-server',
    world.dns.address,
    '--smtp-port',
    String(world.port),
    '--allow-private-targets',
    '--helo',
    'probe.rcpt.test',
    '--mail-from',
    'verify@rcpt.test',
  ];
}

export interface WorkerSettings {
  readonly leaseMs: number;
  /** `--concurrency`. Default 4. */
  readonly concurrency?: number;
  /** `--host-concurrency`; default rcpt's own. */
  readonly hostConcurrency?: number;
  /** More flags after `worldFlags()`. */
  readonly flags?: readonly string[];
}

/**
 * The arguments of `rcpt worker` number `n` of a test: on the cluster at `url`, sending from
 * 127.0.1.`n`, verifying in `world`.
 */
export function workerArgs(url: string, world: ScaleWorld, n: number, settings: WorkerSettings): string[] {
  return [
    'worker',
    '--db',
    url,
    '--source-ip',
    `127.0.1.${n}`,
    '--concurrency',
    String(settings.concurrency ?? 4),
    ...(settings.hostConcurrency === undefined
      ? []
      : ['--host-concurrency', String(settings.hostConcurrency)]),
    '--lease-ms',
    String(settings.leaseMs),
    ...worldFlags(world),
    ...(settings.flags ?? []),
  ];
}

/** `worldFlags()` as the verify options of a worker or a verifier started in the test process. */
export function worldVerifyOptions(world: ScaleWorld): VerifyOptions {
  return loopbackOptions({ dnsServer: world.dns.address, smtpPort: world.port });
}
