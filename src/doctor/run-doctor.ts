/**
 * `runDoctor()`: can this machine verify addresses at all, and will probing from it hurt its
 * reputation? Runs the checks of issue 10 (port 25, reverse DNS, HELO, MAIL FROM and SPF, DNS
 * blocklists) and says, per line, pass / warn / fail and what to do. Independent checks run at once,
 * so the whole report takes about as long as its slowest DNS query or greeting.
 */
import { hostname, networkInterfaces } from 'node:os';
import { performance } from 'node:perf_hooks';
import { classifyTarget } from '../dns/target-filter.js';
import { OptionsError } from '../errors.js';
import { resolveOptions, DEFAULT_MAIL_FROM } from '../options.js';
import { ProxyPool } from '../proxy/proxy-pool.js';
import { parseProxyUrl } from '../proxy/proxy-url.js';
import { parseAddress } from '../syntax/index.js';
import { DEFAULT_BLOCKLISTS, interpretListing, removalPage } from './blocklists.js';
import { createDoctorDns, type DoctorDns, type DoctorLookup } from './doctor-dns.js';
import { PROVIDER_DOMAINS, heloProblem, looksGeneric } from './helo-name.js';
import { formatIp, parseIp, reversedLabels, type IpBytes } from './ip.js';
import { checkProvider, type Port25Result } from './port25.js';
import type { DoctorCheck, DoctorOrigin, DoctorReport, DoctorStatus } from './report.js';
import { pickSourceAddress } from './source-address.js';
import { evaluateSpf, type SpfEvaluation } from './spf.js';

/** Providers whose MX hosts the port-25 check greets: the three largest mailbox providers. */
export const DEFAULT_DOCTOR_PROVIDERS: readonly string[] = ['gmail.com', 'outlook.com', 'yahoo.com'];
/** A live MX answers a TCP connect in well under a second; a port-25 filter never does. */
export const DOCTOR_CONNECT_TIMEOUT_MS = 5_000;
/** Big providers greet at once; 10 s tells a tarpit or silent middlebox from a server without waiting minutes. */
export const DOCTOR_GREETING_TIMEOUT_MS = 10_000;
/** Per DNS attempt: blocklists answer slowly under load, but a self-check should not hang. */
export const DOCTOR_DNS_TIMEOUT_MS = 3_000;
/** RFC 2606 names, never a real sender (AfterShip's `example.org` default is a known mistake). */
const EXAMPLE_DOMAINS = ['example.com', 'example.net', 'example.org'];

/** Options of `runDoctor()`. The fields it shares with `VerifyOptions` mean the same. */
export interface DoctorOptions {
  /** DNS servers, `HOST[:PORT]`. Default: the system's. Tests pass a loopback server. */
  readonly dnsServers?: readonly string[];
  /** Per DNS attempt, in milliseconds. Default 3000. */
  readonly dnsTimeoutMs?: number;
  /** Attempts per DNS query. Default 2. */
  readonly dnsTries?: number;
  /** Port to greet MX hosts on. Default 25. */
  readonly smtpPort?: number;
  /** The HELO name rcpt will use. Default: the machine's host name (as `verify()` uses). */
  readonly helo?: string;
  /** The MAIL FROM rcpt will use; `''` is `<>`. Default `''`. */
  readonly mailFrom?: string;
  /**
   * The public address probes leave from (what receivers see). Default: the first non-internal
   * interface address, public preferred; behind NAT that is not what receivers see, so give it.
   */
  readonly sourceIp?: string;
  /** Local address to bind the port-25 connections to. Default: the system's choice. */
  readonly localAddress?: string;
  /** Domains whose first MX host is greeted. Default gmail.com, outlook.com, yahoo.com. */
  readonly providers?: readonly string[];
  /** DNS blocklist zones. Default zen.spamhaus.org, bl.spamcop.net, b.barracudacentral.org, psbl.surriel.com. */
  readonly blocklists?: readonly string[];
  /** TCP connect timeout for the port-25 check, in milliseconds. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Wait for a greeting, in milliseconds. Default 10000. */
  readonly greetingTimeoutMs?: number;
  /** Allow greeting MX hosts on private/loopback addresses (test worlds). Default false. */
  readonly allowPrivateTargets?: boolean;
  /**
   * Check through this SOCKS5 proxy (`socks5://[user:pass@]host:port`, docs/proxies.md): that it
   * answers and takes the credentials, that port 25 works through it, and, unless `sourceIp` says
   * it, the egress address a provider's EHLO reply echoes gets the reverse DNS, SPF and blocklist checks.
   */
  readonly proxy?: string;
  /** Aborting it stops the checks; `runDoctor()` then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

function domainList(name: string, value: unknown, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return fallback;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((item) => typeof item === 'string' && /^[A-Za-z0-9_.-]+\.[A-Za-z0-9-]+\.?$/.test(item))
  ) {
    throw new OptionsError(name, 'expected a non-empty array of domain names');
  }
  return (value as string[]).map((item) => item.toLowerCase().replace(/\.$/, ''));
}

interface Source {
  readonly ip: string | null;
  readonly bytes: IpBytes | null;
  readonly origin: DoctorOrigin | null;
}

const check = (
  id: DoctorCheck['id'],
  status: DoctorStatus,
  summary: string,
  advice: string | null,
  evidence: readonly string[] = [],
  subject: string | null = null,
): DoctorCheck => ({ id, subject, status, summary, advice: status === 'pass' ? null : advice, evidence });

const notChecked = (id: DoctorCheck['id'], subject: string | null = null): DoctorCheck =>
  check(
    id,
    'warn',
    'not checked: no probing address is known',
    'give the public address this host sends from (--source-ip)',
    [],
    subject,
  );

function describeLookup(lookup: DoctorLookup): string {
  switch (lookup.kind) {
    case 'records':
      return lookup.values.join(', ');
    case 'nxdomain':
      return 'NXDOMAIN';
    case 'nodata':
      return 'no records';
    case 'error':
      return `DNS error: ${lookup.message}`;
  }
}

// ---------------------------------------------------------------------------------------------------
// proxy

const PROXY_FAILURES: Readonly<
  Record<NonNullable<Port25Result['proxyError']>, { readonly summary: string; readonly advice: string }>
> = {
  unreachable: {
    summary: 'cannot be reached, or is no SOCKS5 proxy',
    advice: 'check its host and port, that it runs, and that a firewall lets this host reach it',
  },
  auth_failed: {
    summary: 'refused the user name and password',
    advice:
      'check the credentials in the URL (socks5://user:password@host:port); Dante checks them against system users',
  },
  refused: {
    summary: "refused to connect to the providers' MX hosts (its ruleset)",
    advice: 'let the proxy connect to port 25 (Dante: a `socks pass { … port = 25 command: connect }` rule)',
  },
  target_unreachable: {
    summary: "could not reach the providers' MX hosts",
    advice: 'port 25 looks blocked on the proxy host too: run it where outbound port 25 is open',
  },
  timeout: {
    summary: 'did not complete a connection in time',
    advice: 'check that the proxy host is up and not overloaded',
  },
};

/** Outcomes reached before any connection was asked of the proxy: they say nothing about it. */
const PROXY_NOT_TRIED: ReadonlySet<Port25Result['outcome']> = new Set(['dns_error', 'not_allowed']);

function proxyCheck(name: string, results: readonly Port25Result[]): DoctorCheck {
  const tried = results.filter((result) => !PROXY_NOT_TRIED.has(result.outcome));
  const failed = tried.filter((result) => result.outcome === 'proxy_error');
  const evidence = failed.map((result) => result.line);
  if (tried.length === 0) {
    // No provider's MX host was found (or allowed), so no connection went through the proxy: it
    // cannot have answered, and a dead proxy must not read as a passing one.
    return check(
      'proxy',
      'warn',
      `proxy ${name} not checked: no provider's MX host was found or allowed, so no connection went through it (see the port 25 line)`,
      'fix what the port 25 line says (DNS, --dns-server), then run rcpt doctor again',
      results.map((result) => result.line),
      name,
    );
  }
  if (failed.length < tried.length) {
    return check('proxy', 'pass', `proxy ${name} answers and accepted us`, null, evidence, name);
  }
  const kind = failed[0]?.proxyError ?? 'unreachable';
  const { summary, advice } = PROXY_FAILURES[kind];
  return check('proxy', 'fail', `proxy ${name} ${summary}`, advice, evidence, name);
}

// ---------------------------------------------------------------------------------------------------
// port 25

/**
 * Where port 25 is blocked, the way on that needs no support ticket: a SOCKS5 proxy on a host whose
 * port 25 is open (docs/proxies.md), said only when the check went direct.
 */
const PROXY_WAY =
  ', or verify through a SOCKS5 proxy on a host whose port 25 is open (--proxy socks5://user:pass@host:1080, checked with rcpt doctor --proxy; docs/proxies.md)';

function port25Check(results: readonly Port25Result[], direct: boolean): DoctorCheck {
  const evidence = results.map((result) => result.line);
  const open = results.filter((result) => result.outcome === 'open').length;
  const outcomes = new Set(results.map((result) => result.outcome));
  const advice: string[] = [];
  if ((outcomes.has('timeout') || outcomes.has('refused')) && open > 0) {
    advice.push(
      'some hosts refused or ignored the TCP connection: a firewall may filter port 25 towards them',
    );
  } else if (outcomes.has('timeout') || outcomes.has('refused')) {
    advice.push(
      `outbound port 25 looks blocked: most clouds block it by default (AWS: ask for the port-25 restriction to be lifted; Google Cloud: always blocked; Azure: blocked on most subscriptions; DigitalOcean, Hetzner, Vultr: open a support ticket); run rcpt where port 25 is open${direct ? PROXY_WAY : ''}`,
    );
  }
  if (outcomes.has('silent')) {
    advice.push(
      'a connection opened but no server greeted: a firewall or ISP proxy may intercept port 25, or the host tarpits this address',
    );
  }
  if (outcomes.has('rejected')) {
    advice.push(
      'a provider refused this address at the greeting: read its reply, usually about reputation (see the blocklist lines)',
    );
  }
  if (outcomes.has('dns_error')) advice.push('some MX hosts could not be found: check DNS (--dns-server)');
  if (outcomes.has('proxy_error')) advice.push('the proxy failed: see the proxy line');
  if (outcomes.has('not_allowed')) {
    advice.push('MX addresses are private: only test worlds need --allow-private-targets');
  }
  const total = results.length;
  if (open === total) {
    return check(
      'port25',
      'pass',
      `outbound port 25 works: ${open} of ${total} providers' MX hosts greeted us`,
      null,
      evidence,
    );
  }
  if (open > 0) {
    return check(
      'port25',
      'warn',
      `outbound port 25 works, but ${total - open} of ${total} providers' MX hosts did not greet us`,
      advice.join('; '),
      evidence,
    );
  }
  return check(
    'port25',
    'fail',
    `no provider's MX host greeted us (0 of ${total}): every verification would end "unknown"`,
    advice.join('; '),
    evidence,
  );
}

// ---------------------------------------------------------------------------------------------------
// source address, reverse DNS, HELO

function sourceCheck(source: Source, interfaceName: string | null, proxy: string | null): DoctorCheck {
  if (source.ip === null && proxy !== null) {
    return check(
      'source_address',
      'warn',
      `the egress address of proxy ${proxy} is unknown: no provider's EHLO reply echoed it`,
      "give the proxy host's public address with --source-ip, so the reverse DNS, SPF and blocklist lines check it",
    );
  }
  if (source.ip === null) {
    return check(
      'source_address',
      'fail',
      'no probing address: this machine has no non-internal network address',
      'give the public address this host sends from (--source-ip)',
    );
  }
  const cls = classifyTarget(source.ip);
  const from =
    source.origin === 'option'
      ? 'given with --source-ip'
      : source.origin === 'greeting'
        ? "the proxy's egress address, as a provider's EHLO reply echoed it"
        : `taken from interface ${interfaceName ?? '?'} (no --source-ip given)`;
  if (cls !== 'public') {
    return check(
      'source_address',
      'warn',
      `probing address ${source.ip} (${from}) is a ${cls.replace('_', '-')} address, not a public one`,
      'receivers see the public address your mail leaves from (after NAT); give it with --source-ip so the reverse DNS, SPF and blocklist lines check the right address',
    );
  }
  const nat =
    source.origin === 'option' || source.origin === 'greeting'
      ? []
      : ['if this host sends through NAT, receivers see another address: give it with --source-ip'];
  return check('source_address', 'pass', `probing address ${source.ip} (${from})`, null, nat);
}

interface Reverse {
  readonly ptr: DoctorCheck;
  readonly fcrdns: DoctorCheck;
  /** PTR names that resolve back to the address. */
  readonly confirmed: readonly string[];
  readonly names: readonly string[];
}

const PTR_ADVICE =
  'ask the owner of the address (your hosting provider\'s "reverse DNS" setting) for a PTR record naming this host, the same name you use as HELO: GMX and Web.de refuse hosts without one at the greeting, Google rate-limits them (421 4.7.23) or rejects them (550 5.7.25)';

async function reverseChecks(source: Source, helo: string, dns: DoctorDns): Promise<Reverse> {
  if (source.ip === null || source.bytes === null) {
    return { ptr: notChecked('ptr'), fcrdns: notChecked('fcrdns'), confirmed: [], names: [] };
  }
  const ip = source.ip;
  const lookup = await dns.ptr(ip);
  if (lookup.kind === 'error') {
    const cannot = (id: DoctorCheck['id']) =>
      check(
        id,
        'warn',
        `cannot tell: the PTR lookup of ${ip} failed`,
        'check DNS (--dns-server) and run again',
        [lookup.message],
      );
    return { ptr: cannot('ptr'), fcrdns: cannot('fcrdns'), confirmed: [], names: [] };
  }
  if (lookup.kind !== 'records' || lookup.values.length === 0) {
    const none = `${ip} has no PTR record (${describeLookup(lookup)})`;
    return {
      ptr: check('ptr', 'fail', none, PTR_ADVICE),
      fcrdns: check('fcrdns', 'fail', `no PTR name to confirm: ${none}`, PTR_ADVICE),
      confirmed: [],
      names: [],
    };
  }
  const names = lookup.values;
  const [first = ''] = names;
  const generic = names.every((name) => looksGeneric(name, ip));
  const ptr = generic
    ? check(
        'ptr',
        'warn',
        `${ip} has PTR ${first}, which looks generic (an ISP pool or cloud default name)`,
        `set the PTR to this host's own name (${helo.includes('.') ? helo : 'its HELO name'}): Spamhaus' PBL and many receivers treat generic names as residential or unnamed hosts`,
        names,
      )
    : check('ptr', 'pass', `${ip} has PTR ${first}`, null, names.length > 1 ? names : []);

  const family = source.bytes.length === 4 ? 'A' : 'AAAA';
  const forward = await Promise.all(
    names.slice(0, 10).map(async (name) => ({ name, lookup: await dns.lookup(name, family) })),
  );
  const evidence = forward.map(({ name, lookup: answer }) => `${name} ${family}: ${describeLookup(answer)}`);
  const confirmed = forward
    .filter(
      ({ lookup: answer }) =>
        answer.kind === 'records' && answer.values.some((value) => sameAddress(value, source.bytes)),
    )
    .map(({ name }) => name);
  let fcrdns: DoctorCheck;
  if (confirmed.length > 0) {
    fcrdns = check(
      'fcrdns',
      'pass',
      `${confirmed[0] ?? ''} resolves back to ${ip} (forward-confirmed reverse DNS)`,
      null,
      evidence,
    );
  } else if (forward.every(({ lookup: answer }) => answer.kind === 'error')) {
    fcrdns = check(
      'fcrdns',
      'warn',
      `cannot tell: looking up ${first} failed`,
      'check DNS (--dns-server) and run again',
      evidence,
    );
  } else {
    fcrdns = check(
      'fcrdns',
      'fail',
      `the PTR name ${first} does not resolve back to ${ip}`,
      `publish a${family === 'A' ? 'n A' : ' AAAA'} record ${first} → ${ip} (or change the PTR to a name that has one): receivers trust a reverse name only when it resolves back to the address`,
      evidence,
    );
  }
  return { ptr, fcrdns, confirmed, names };
}

function sameAddress(text: string, bytes: IpBytes | null): boolean {
  const parsed = parseIp(text);
  return (
    bytes !== null &&
    parsed !== null &&
    parsed.length === bytes.length &&
    parsed.every((byte, i) => byte === bytes[i])
  );
}

const HELO_ADVICE = "use this host's own fully qualified name, the one its PTR record names (--helo)";

function heloNameCheck(helo: string, origin: DoctorOrigin): DoctorCheck {
  const from = origin === 'option' ? 'given with --helo' : 'the host name; set --helo';
  const problem = heloProblem(helo);
  if (problem === null) return check('helo_name', 'pass', `HELO name ${helo} (${from})`, null);
  return check('helo_name', 'fail', `${problem.message} (${from})`, HELO_ADVICE);
}

async function heloDnsCheck(
  helo: string,
  source: Source,
  reverse: Reverse,
  dns: DoctorDns,
): Promise<DoctorCheck> {
  const problem = heloProblem(helo);
  if (problem !== null && problem.kind !== 'provider') {
    return check(
      'helo_dns',
      'fail',
      `the HELO name "${helo}" cannot be looked up in public DNS`,
      HELO_ADVICE,
    );
  }
  const name = helo.toLowerCase().replace(/\.$/, '');
  const [a, aaaa] = await Promise.all([dns.lookup(name, 'A'), dns.lookup(name, 'AAAA')]);
  const evidence = [`${name} A: ${describeLookup(a)}`, `${name} AAAA: ${describeLookup(aaaa)}`];
  const addresses = [a, aaaa].flatMap((answer) => (answer.kind === 'records' ? answer.values : []));
  if (addresses.length === 0) {
    if (a.kind === 'error' && aaaa.kind === 'error') {
      return check(
        'helo_dns',
        'warn',
        `cannot tell: looking up ${name} failed`,
        'check DNS (--dns-server) and run again',
        evidence,
      );
    }
    return check(
      'helo_dns',
      'fail',
      `the HELO name ${name} does not resolve (${a.kind === 'nxdomain' ? 'NXDOMAIN' : 'no A or AAAA record'})`,
      `publish an A record ${name} → ${source.ip ?? "this host's public address"} and make ${name} the PTR name of that address`,
      evidence,
    );
  }
  if (source.ip === null) {
    return check(
      'helo_dns',
      'warn',
      `the HELO name ${name} resolves (${addresses.join(', ')}), but no probing address is known to compare`,
      'give the public address this host sends from (--source-ip)',
      evidence,
    );
  }
  const pointsHere = addresses.some((address) => sameAddress(address, source.bytes));
  if (pointsHere && reverse.confirmed.includes(name)) {
    return check(
      'helo_dns',
      'pass',
      `the HELO name ${name} is the PTR name of ${source.ip} and resolves to it`,
      null,
      evidence,
    );
  }
  if (pointsHere) {
    const ptrName = reverse.names[0];
    return check(
      'helo_dns',
      'warn',
      `the HELO name ${name} resolves to ${source.ip}, but ${ptrName === undefined ? 'the address has no PTR name' : `the PTR of ${source.ip} names ${ptrName}`}`,
      ptrName === undefined
        ? `set the PTR of ${source.ip} to ${name}`
        : `use ${ptrName} as HELO (--helo ${ptrName}) or set the PTR of ${source.ip} to ${name}: receivers compare the two`,
      evidence,
    );
  }
  return check(
    'helo_dns',
    'warn',
    `the HELO name ${name} resolves to ${addresses.join(', ')}, not to the probing address ${source.ip}`,
    `the HELO name should be this host's own name: point ${name} at ${source.ip}, or use the PTR name of ${source.ip} as HELO`,
    evidence,
  );
}

// ---------------------------------------------------------------------------------------------------
// MAIL FROM and SPF

const NULL_SENDER_ADVICE =
  'set --mail-from to a real mailbox on a domain you control, whose SPF authorises this address (never the address under test): <> impersonates nobody and RFC 5321 §4.5.5 allows it, but some receivers refuse or score <> from unknown hosts, SPF can then only check the HELO name, and a real sender gives receivers someone to complain to instead of a blocklist';

async function mailFromCheck(
  mailFrom: string,
  dns: DoctorDns,
): Promise<{ check: DoctorCheck; domain: string | null }> {
  if (mailFrom === '') {
    return {
      check: check('mail_from', 'warn', 'MAIL FROM is <> (the null reverse-path)', NULL_SENDER_ADVICE),
      domain: null,
    };
  }
  const parsed = parseAddress(mailFrom);
  const domain = parsed.asciiDomain;
  if (!parsed.valid || domain === null) {
    return {
      check: check(
        'mail_from',
        'fail',
        `MAIL FROM ${mailFrom} is not a valid address: ${parsed.error?.message ?? 'invalid'}`,
        'set --mail-from to a valid mailbox on a domain you control',
      ),
      domain: null,
    };
  }
  const borrowed = [...PROVIDER_DOMAINS, ...EXAMPLE_DOMAINS].find(
    (d) => domain === d || domain.endsWith(`.${d}`),
  );
  if (borrowed !== undefined) {
    return {
      check: check(
        'mail_from',
        'fail',
        `MAIL FROM ${mailFrom} uses ${borrowed}, a domain you do not control`,
        `use a mailbox on your own domain: ${EXAMPLE_DOMAINS.includes(borrowed) ? 'example domains (RFC 2606) receive no mail' : `${borrowed}'s SPF does not authorise your address, and Microsoft checks the MAIL FROM domain against Spamhaus`}`,
      ),
      domain,
    };
  }
  const mx = await dns.lookup(domain, 'MX');
  const evidence = [`${domain} MX: ${describeLookup(mx)}`];
  if (mx.kind === 'error') {
    return {
      check: check(
        'mail_from',
        'warn',
        `cannot tell whether ${domain} receives mail: its MX lookup failed`,
        'check DNS (--dns-server) and run again',
        evidence,
      ),
      domain,
    };
  }
  if (mx.kind === 'nxdomain') {
    return {
      check: check(
        'mail_from',
        'fail',
        `the MAIL FROM domain ${domain} does not exist (NXDOMAIN)`,
        'use a mailbox on a domain that exists and receives mail: Postfix (reject_unknown_sender_domain) and most receivers refuse senders whose domain does not',
        evidence,
      ),
      domain,
    };
  }
  if (mx.kind === 'records') {
    const hosts = mx.values.filter((host) => host !== '.');
    if (hosts.length === 0) {
      return {
        check: check(
          'mail_from',
          'fail',
          `the MAIL FROM domain ${domain} has a null MX (RFC 7505): it receives no mail`,
          'use a mailbox on a domain that receives mail: receivers refuse senders that cannot take replies or bounces (Postfix reject_unknown_sender_domain)',
          evidence,
        ),
        domain,
      };
    }
    return {
      check: check(
        'mail_from',
        'pass',
        `MAIL FROM ${mailFrom}: ${domain} receives mail (MX ${hosts.join(', ')})`,
        null,
        evidence,
      ),
      domain,
    };
  }
  const [a, aaaa] = await Promise.all([dns.lookup(domain, 'A'), dns.lookup(domain, 'AAAA')]);
  evidence.push(`${domain} A: ${describeLookup(a)}`, `${domain} AAAA: ${describeLookup(aaaa)}`);
  if (a.kind === 'records' || aaaa.kind === 'records') {
    return {
      check: check(
        'mail_from',
        'pass',
        `MAIL FROM ${mailFrom}: ${domain} has no MX but an address record (implicit MX, RFC 5321 §5.1)`,
        null,
        evidence,
      ),
      domain,
    };
  }
  if (a.kind === 'error' || aaaa.kind === 'error') {
    return {
      check: check(
        'mail_from',
        'warn',
        `cannot tell whether ${domain} receives mail: its address lookup failed`,
        'check DNS (--dns-server) and run again',
        evidence,
      ),
      domain,
    };
  }
  return {
    check: check(
      'mail_from',
      'fail',
      `the MAIL FROM domain ${domain} has no MX and no A/AAAA record: it cannot receive mail`,
      `publish an MX record for ${domain}: receivers refuse senders that cannot take replies or bounces (Postfix reject_unknown_sender_domain)`,
      evidence,
    ),
    domain,
  };
}

function spfEvidence(evaluation: SpfEvaluation): string[] {
  return [
    ...(evaluation.record === null ? [] : [`${evaluation.domain} TXT "${evaluation.record}"`]),
    evaluation.matched.length > 0 ? `decided by ${evaluation.matched.join(' → ')}` : evaluation.explanation,
    `DNS-querying terms ${evaluation.lookups} of 10, void lookups ${evaluation.voidLookups} of 2 (RFC 7208 §4.6.4)`,
  ];
}

async function spfCheck(
  mailFrom: string,
  mailFromDomain: string | null,
  helo: string,
  source: Source,
  dns: DoctorDns,
): Promise<DoctorCheck> {
  if (source.ip === null) return notChecked('spf');
  const nullSender = mailFrom === '';
  // RFC 7208 §2.4: with MAIL FROM <>, the identity checked is postmaster@<HELO name>.
  const domain = nullSender ? helo.toLowerCase().replace(/\.$/, '') : mailFromDomain;
  if (domain === null)
    return check(
      'spf',
      'warn',
      'not checked: the MAIL FROM address has no usable domain',
      'fix --mail-from first',
    );
  const which = nullSender
    ? `the HELO name ${domain} (MAIL FROM is <>, so SPF checks HELO, RFC 7208 §2.4)`
    : domain;
  if (nullSender && heloProblem(helo) !== null) {
    return check(
      'spf',
      'warn',
      `not checked: MAIL FROM is <>, so SPF would check the HELO name, which is not a usable domain`,
      'set --mail-from to a mailbox on your own domain (see the MAIL FROM line), or fix the HELO name',
    );
  }
  const evaluation = await evaluateSpf(
    { ip: source.ip, domain, sender: nullSender ? `postmaster@${domain}` : mailFrom, helo },
    dns.spf,
  );
  const mechanism = `${source.bytes?.length === 16 ? 'ip6' : 'ip4'}:${source.ip}`;
  const evidence = spfEvidence(evaluation);
  const add = `add "${mechanism}" to the SPF record of ${domain}, before its "all"`;
  switch (evaluation.result) {
    case 'pass':
      return check('spf', 'pass', `the SPF record of ${which} authorises ${source.ip}`, null, evidence);
    case 'fail':
      return check(
        'spf',
        'fail',
        `the SPF record of ${which} says ${source.ip} may not send for it`,
        `${add}: receivers may reject a MAIL FROM whose SPF fails`,
        evidence,
      );
    case 'softfail':
      return check(
        'spf',
        'warn',
        `the SPF record of ${which} soft-fails ${source.ip} (~all)`,
        `${add}: receivers accept a softfail but count it against you`,
        evidence,
      );
    case 'neutral':
      return check(
        'spf',
        'warn',
        `the SPF record of ${which} neither authorises nor refuses ${source.ip}`,
        add,
        evidence,
      );
    case 'none':
      return check(
        'spf',
        'warn',
        `${which} publishes no SPF record`,
        `publish a TXT record at ${domain}: "v=spf1 ${mechanism} -all" (plus your other senders)`,
        evidence,
      );
    case 'permerror':
      return check(
        'spf',
        'fail',
        `the SPF record of ${which} is broken (permerror): ${evaluation.explanation}`,
        'fix the record: receivers treat a permerror like a fail (RFC 7208 §2.6.7)',
        evidence,
      );
    case 'temperror':
      return check(
        'spf',
        'warn',
        `cannot tell: SPF evaluation of ${which} hit a DNS error`,
        'check DNS (--dns-server) and run again',
        evidence,
      );
  }
}

// ---------------------------------------------------------------------------------------------------
// blocklists

async function blocklistCheck(zone: string, source: Source, dns: DoctorDns): Promise<DoctorCheck> {
  if (source.ip === null || source.bytes === null) return notChecked('blocklist', zone);
  const ip = source.ip;
  const query = `${reversedLabels(source.bytes)}.${zone}`;
  const answer = await dns.lookup(query, 'A');
  const evidence = [`${query} A: ${describeLookup(answer)}`];
  const line = (status: DoctorStatus, summary: string, advice: string | null) =>
    check('blocklist', status, summary, advice, evidence, zone);
  if (answer.kind === 'error')
    return line(
      'warn',
      `cannot tell whether ${ip} is listed on ${zone}: the lookup failed`,
      'check DNS (--dns-server) and run again',
    );
  if (answer.kind !== 'records' || answer.values.length === 0)
    return line('pass', `${ip} is not listed on ${zone}`, null);
  const verdict = interpretListing(zone, answer.values);
  if (verdict.kind === 'refused') {
    evidence.push(...verdict.meanings);
    return line(
      'warn',
      `cannot tell: ${zone} refused to answer (${verdict.codes.join(', ')})`,
      "ask through your own recursive resolver rather than a public one (8.8.8.8, 1.1.1.1), or use the list's registered access (Spamhaus DQS)",
    );
  }
  if (verdict.kind === 'strange') {
    return line(
      'warn',
      `cannot tell: ${zone} answered ${verdict.codes.join(', ')}, outside 127.0.0.0/8 (RFC 5782 §2.3)`,
      'the zone may be dead or parked; remove it from the blocklist list',
    );
  }
  // RFC 5782 §5: a list must never list 127.0.0.1; one that does lists everything and means nothing.
  const testEntry = `1.0.0.127.${zone}`;
  const sanity = await dns.lookup(testEntry, 'A');
  evidence.push(`${testEntry} A: ${describeLookup(sanity)} (RFC 5782 §5 test entry, must not be listed)`);
  if (sanity.kind === 'records' && sanity.values.length > 0) {
    return line(
      'warn',
      `cannot tell: ${zone} lists even 127.0.0.1, so it answers everything`,
      'the zone is broken or parked; remove it from the blocklist list',
    );
  }
  const page = removalPage(zone);
  return line(
    'fail',
    `${ip} is listed on ${zone}: ${verdict.meanings.join('; ')}`,
    `look the address up${page === null ? '' : ` at ${page}`}, fix the cause (a bad HELO, no PTR, an infected host, probing too fast) and request removal; for a policy (PBL) listing, probe from an address meant to send mail`,
  );
}

// ---------------------------------------------------------------------------------------------------

function worst(checks: readonly DoctorCheck[]): DoctorStatus {
  if (checks.some((c) => c.status === 'fail')) return 'fail';
  if (checks.some((c) => c.status === 'warn')) return 'warn';
  return 'pass';
}

/**
 * Checks whether this machine can verify addresses without burning its reputation. Resolves with a
 * report (never rejects on what it finds); throws `OptionsError` on a bad option.
 *
 * @example
 * const report = await runDoctor({ helo: 'probe.example.net', mailFrom: 'verify@example.net', sourceIp: '192.0.2.25' });
 * for (const line of report.checks) console.log(line.status, line.summary);
 */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const started = performance.now();
  const checkedAt = new Date().toISOString();
  const shared = resolveOptions({
    ...(options.dnsServers === undefined ? {} : { dnsServers: options.dnsServers }),
    ...(options.dnsTries === undefined ? {} : { dnsTries: options.dnsTries }),
    ...(options.smtpPort === undefined ? {} : { smtpPort: options.smtpPort }),
    ...(options.helo === undefined ? {} : { helo: options.helo }),
    ...(options.mailFrom === undefined ? {} : { mailFrom: options.mailFrom }),
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    ...(options.allowPrivateTargets === undefined
      ? {}
      : { allowPrivateTargets: options.allowPrivateTargets }),
    dnsTimeoutMs: options.dnsTimeoutMs ?? DOCTOR_DNS_TIMEOUT_MS,
    connectTimeoutMs: options.connectTimeoutMs ?? DOCTOR_CONNECT_TIMEOUT_MS,
    greetingTimeoutMs: options.greetingTimeoutMs ?? DOCTOR_GREETING_TIMEOUT_MS,
  });
  const providers = domainList('providers', options.providers, DEFAULT_DOCTOR_PROVIDERS);
  let proxy: ProxyPool | null = null;
  if (options.proxy !== undefined) {
    const parsed = typeof options.proxy === 'string' ? parseProxyUrl(options.proxy) : null;
    if (parsed === null || !parsed.ok) {
      throw new OptionsError('proxy', parsed?.reason ?? 'expected a socks5:// URL');
    }
    proxy = new ProxyPool([parsed.endpoint]);
  }
  const zones = domainList('blocklists', options.blocklists, DEFAULT_BLOCKLISTS);
  let source: Source;
  let interfaceName: string | null = null;
  if (options.sourceIp !== undefined) {
    const bytes = typeof options.sourceIp === 'string' ? parseIp(options.sourceIp) : null;
    if (bytes === null)
      throw new OptionsError('sourceIp', `expected an IP address, got ${JSON.stringify(options.sourceIp)}`);
    source = { ip: formatIp(bytes), bytes, origin: 'option' };
  } else if (proxy !== null) {
    // Behind a proxy this host's own interfaces say nothing: the egress is read from the providers.
    source = { ip: null, bytes: null, origin: null };
  } else {
    const picked = pickSourceAddress(networkInterfaces());
    const bytes = picked === null ? null : parseIp(picked.address);
    interfaceName = picked?.interfaceName ?? null;
    source =
      bytes === null
        ? { ip: null, bytes: null, origin: null }
        : { ip: formatIp(bytes), bytes, origin: 'interface' };
  }
  const helo = shared.helo ?? hostname();
  const heloOrigin: DoctorOrigin = shared.helo === null ? 'hostname' : 'option';
  const mailFrom = shared.mailFrom === DEFAULT_MAIL_FROM ? '' : shared.mailFrom;
  const dns = createDoctorDns({
    servers: shared.dnsServers,
    timeoutMs: shared.dnsTimeoutMs,
    tries: shared.dnsTries,
    signal: options.signal,
  });

  const greetProviders = (): Promise<Port25Result[]> =>
    Promise.all(
      providers.map((domain) =>
        checkProvider(domain, dns, {
          port: shared.smtpPort,
          connectTimeoutMs: shared.connectTimeoutMs,
          greetingTimeoutMs: shared.greetingTimeoutMs,
          localAddress: shared.localAddress,
          allowPrivateTargets: shared.allowPrivateTargets,
          signal: options.signal,
          connector: proxy,
          // Through a proxy with no --source-ip, EHLO asks the provider who it sees (its reply echoes it).
          ehlo: proxy !== null && source.origin === null ? helo : null,
        }),
      ),
    );
  // The egress address must be known before the checks about it: greet first when it is read there.
  const greeted = proxy !== null && source.origin === null ? await greetProviders() : null;
  const echoed = greeted?.find((result) => result.echoedAddress !== null)?.echoedAddress ?? null;
  const echoedBytes = echoed === null ? null : parseIp(echoed);
  if (echoedBytes !== null) source = { ip: formatIp(echoedBytes), bytes: echoedBytes, origin: 'greeting' };

  const [port25, reverse, sender, blocklists] = await Promise.all([
    greeted ?? greetProviders(),
    (async () => {
      const result = await reverseChecks(source, helo, dns);
      return { ...result, heloDns: await heloDnsCheck(helo, source, result, dns) };
    })(),
    (async () => {
      const from = await mailFromCheck(mailFrom, dns);
      return { mailFrom: from.check, spf: await spfCheck(mailFrom, from.domain, helo, source, dns) };
    })(),
    Promise.all(zones.map((zone) => blocklistCheck(zone, source, dns))),
  ]);

  // A greeting cut short by the signal reads as a timeout above; the caller asked to stop, so say that.
  options.signal?.throwIfAborted();
  const checks: DoctorCheck[] = [
    ...(proxy === null ? [] : [proxyCheck(proxy.name, port25)]),
    port25Check(port25, proxy === null),
    sourceCheck(source, interfaceName, proxy?.name ?? null),
    reverse.ptr,
    reverse.fcrdns,
    heloNameCheck(helo, heloOrigin),
    reverse.heloDns,
    sender.mailFrom,
    sender.spf,
    ...blocklists,
  ];
  const status = worst(checks);
  return {
    status,
    ok: status !== 'fail',
    sourceIp: source.ip,
    sourceIpOrigin: source.origin,
    helo,
    heloOrigin,
    mailFrom,
    checks,
    counts: {
      pass: checks.filter((c) => c.status === 'pass').length,
      warn: checks.filter((c) => c.status === 'warn').length,
      fail: checks.filter((c) => c.status === 'fail').length,
    },
    durationMs: Math.round(performance.now() - started),
    checkedAt,
  };
}
