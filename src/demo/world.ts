/**
 * The built-in simulated mail world of `rcpt demo`: a DNS server and SMTP personas on loopback
 * addresses (127.0.0.x), one shared high port, no root needed and no traffic beyond this machine.
 * Every domain lives under `.test` (RFC 6761), so nothing here can be mistaken for a real domain,
 * except a few provider-shaped MX names that exist only in this world's DNS.
 */
import type { VerifyOptions } from '../index.js';
import { startDnsServer, type DnsServer, type DnsZones } from './dns-server.js';
import { mailboxes, startPersona, type PersonaSpec, type RunningPersona } from './smtp-persona.js';

/** How long the demo's postgrey-like persona greylists a new triplet (postgrey's default is 300 s). */
export const DEMO_GREYLIST_WINDOW_MS = 2_000;

interface PersonaPlan {
  readonly ip: string;
  readonly spec: PersonaSpec;
}

function greylisting(windowMs: number): NonNullable<PersonaSpec['onRcptTo']> {
  // postgrey keys on (client IP, sender, recipient) and lets the triplet through after the delay.
  const firstSeen = new Map<string, number>();
  return (recipient, context) => {
    const key = `${context.remoteAddress}/${context.mailFrom}/${recipient}`;
    const now = Date.now();
    const seen = firstSeen.get(key);
    if (seen === undefined) firstSeen.set(key, now);
    if (seen === undefined || now - seen < windowMs) {
      const domain = recipient.slice(recipient.lastIndexOf('@') + 1);
      return {
        code: 450,
        text: `4.2.0 <${recipient}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/${domain}.html`,
      };
    }
    return null;
  };
}

const acmeUsers = mailboxes(['alice', 'bob', 'postmaster', 'info', 'sales', 'carol', 'dave']);

function plans(): PersonaPlan[] {
  return [
    {
      ip: '127.0.0.2',
      spec: {
        name: 'acme.test',
        banner: 'mx1.acme.test ESMTP Postfix (Debian/GNU)',
        onRcptTo: (recipient) => {
          const local = recipient.slice(0, recipient.lastIndexOf('@')).toLowerCase();
          if (local === 'carol') return { code: 552, text: `5.2.2 <${recipient}>: user is over quota` };
          if (local === 'dave')
            return { code: 550, text: '5.2.1 The email account that you tried to reach is disabled' };
          return acmeUsers(recipient);
        },
      },
    },
    { ip: '127.0.0.3', spec: { name: 'catchall.test', banner: 'mail.catchall.test ESMTP' } },
    {
      ip: '127.0.0.4',
      spec: {
        name: 'implicit.test',
        banner: 'implicit.test ESMTP Exim 4.96',
        onRcptTo: mailboxes(['hello']),
      },
    },
    {
      ip: '127.0.0.5',
      spec: {
        name: 'greylist.test',
        banner: 'mx.greylist.test ESMTP Postfix',
        // As Postfix orders it: unknown users are refused before postgrey is asked (seen on Postfix with postgrey in the lab, docs/lab.md).
        onRcptTo: (() => {
          const known = mailboxes(['user', 'first', 'second', 'postmaster']);
          const greylist = greylisting(DEMO_GREYLIST_WINDOW_MS);
          return (recipient, context) => known(recipient) ?? greylist(recipient, context);
        })(),
      },
    },
    {
      ip: '127.0.0.6',
      spec: {
        name: 'slow.test',
        banner: 'slow.test ESMTP',
        greetingDelayMs: 1_500,
        onRcptTo: mailboxes(['ann']),
      },
    },
    {
      ip: '127.0.0.7',
      spec: {
        name: 'yahoodns.net',
        // Yahoo/AOL accept every RCPT and reject unknown users only after DATA (docs/verdicts.md, "Providers").
        banner: 'mta7.am0.yahoodns.net ESMTP ready',
      },
    },
    {
      ip: '127.0.0.8',
      spec: {
        name: 'blocked.test',
        banner: 'mx.blocked.test ESMTP',
        onRcptTo: () => ({
          code: 554,
          text: '5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org',
        }),
      },
    },
  ];
}

/** The DNS of the demo world: MX, null MX, implicit MX, NXDOMAIN, SERVFAIL, a dead first MX. */
function zones(): DnsZones {
  return {
    'acme.test': { MX: [{ priority: 10, exchange: 'mx1.acme.test' }] },
    'mx1.acme.test': { A: ['127.0.0.2'] },
    // The first MX accepts no connections (nothing listens on 127.0.0.9): rcpt falls back to the second.
    'fallback.test': {
      MX: [
        { priority: 10, exchange: 'mx-dead.fallback.test' },
        { priority: 20, exchange: 'mx1.acme.test' },
      ],
    },
    'mx-dead.fallback.test': { A: ['127.0.0.9'] },
    'catchall.test': { MX: [{ priority: 10, exchange: 'mail.catchall.test' }] },
    'mail.catchall.test': { A: ['127.0.0.3'] },
    'nullmx.test': { MX: [{ priority: 0, exchange: '.' }] },
    'implicit.test': { A: ['127.0.0.4'] },
    'nomail.test': { TXT: ['v=spf1 -all'] },
    'broken-dns.test': { behaviour: 'servfail' },
    'greylist.test': { MX: [{ priority: 10, exchange: 'mx.greylist.test' }] },
    'mx.greylist.test': { A: ['127.0.0.5'] },
    'slow.test': { MX: [{ priority: 10, exchange: 'mx.slow.test' }] },
    'mx.slow.test': { A: ['127.0.0.6'] },
    'bigmail.test': { MX: [{ priority: 1, exchange: 'mta7.am0.yahoodns.net' }] },
    'mta7.am0.yahoodns.net': { A: ['127.0.0.7'] },
    'blocked.test': { MX: [{ priority: 10, exchange: 'mx.blocked.test' }] },
    'mx.blocked.test': { A: ['127.0.0.8'] },
    // A disposable-address service (listed in the disposable-domains data) that accepts everything.
    'mailinator.com': { MX: [{ priority: 10, exchange: 'mail.catchall.test' }] },
  };
}

/** The sample list `rcpt demo` verifies, one per behaviour of the world. */
export const DEMO_ADDRESSES: readonly string[] = [
  'alice@acme.test',
  'Bob@ACME.test',
  'nobody@acme.test',
  'carol@acme.test',
  'dave@acme.test',
  'info@acme.test',
  'bob@fallback.test',
  'anyone@catchall.test',
  'temp123@mailinator.com',
  'hello@implicit.test',
  'ann@slow.test',
  'user@greylist.test',
  'someone@bigmail.test',
  'alice@blocked.test',
  'user@nullmx.test',
  'user@nomail.test',
  'user@nowhere.test',
  'user@broken-dns.test',
  'alice@gmial.com',
  'alice..smith@acme.test',
  'Alice <alice@acme.test>',
];

export interface DemoWorld {
  /** `HOST:PORT` of the world's DNS server, for the `dnsServers` option. */
  readonly dnsServer: string;
  /** The port every SMTP persona listens on, for the `smtpPort` option. */
  readonly smtpPort: number;
  readonly personas: readonly RunningPersona[];
  readonly dns: DnsServer;
  close(): Promise<void>;
}

const PORT_ATTEMPTS = 5;

async function startPersonasOnOnePort(list: readonly PersonaPlan[]): Promise<RunningPersona[]> {
  for (let attempt = 1; ; attempt += 1) {
    const started: RunningPersona[] = [];
    try {
      const [first, ...rest] = list;
      if (first === undefined) return started;
      const head = await startPersona(first.spec, first.ip, 0);
      started.push(head);
      for (const plan of rest) started.push(await startPersona(plan.spec, plan.ip, head.port));
      return started;
    } catch (error) {
      await Promise.all(started.map((persona) => persona.close()));
      // Another program holds this port on one of the other loopback addresses: pick a new one.
      if (attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

/**
 * Where the demo world is, as verify options: its DNS server and SMTP port, loopback allowed. What
 * `rcpt bulk --demo` sets again over the user's flags, which may change anything else.
 */
export function demoWorldPlace(
  world: Pick<DemoWorld, 'dnsServer' | 'smtpPort'>,
): Required<Pick<VerifyOptions, 'dnsServers' | 'smtpPort' | 'allowPrivateTargets'>> {
  return { dnsServers: [world.dnsServer], smtpPort: world.smtpPort, allowPrivateTargets: true };
}

/**
 * How to verify against the demo world, the one home of these options (`rcpt demo`, `rcpt bulk
 * --demo`; the tests start from them): where it is (`demoWorldPlace()`), short timeouts (every
 * server is local), and a greylisting wait just past the demo greylister's window, as a real run
 * waits out postgrey's 5 minutes.
 */
export function demoVerifyOptions(world: Pick<DemoWorld, 'dnsServer' | 'smtpPort'>): VerifyOptions {
  return {
    ...demoWorldPlace(world),
    helo: 'demo.rcpt.test',
    mailFrom: 'verify@rcpt.test',
    timeoutMs: 15_000,
    connectTimeoutMs: 2_000,
    greylistWaitMs: DEMO_GREYLIST_WINDOW_MS + 500,
  };
}

/** Starts the demo world. Close it when done. */
export async function startDemoWorld(): Promise<DemoWorld> {
  const personas = await startPersonasOnOnePort(plans());
  let dns: DnsServer;
  try {
    dns = await startDnsServer({ host: '127.0.0.1', port: 0, zones: zones() });
  } catch (error) {
    await Promise.all(personas.map((persona) => persona.close()));
    throw error;
  }
  return {
    dnsServer: dns.address,
    smtpPort: personas[0]?.port ?? 0,
    personas,
    dns,
    async close() {
      await Promise.all([dns.close(), ...personas.map((persona) => persona.close())]);
    },
  };
}
