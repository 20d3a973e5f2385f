'use strict';
/**
 * The loopback guard (docs/reliability.md, "No traffic leaves loopback"): a preload that
 * scripts/run-tests.mjs gives every test process through NODE_OPTIONS (`--require`, so that worker
 * threads load it too), and that hands itself on to every process they start, whatever environment
 * the caller passed. A TCP connect, a UDP connect or a UDP send to an address outside 127.0.0.0/8 and
 * ::1 (an IPv4-mapped ::ffff:127.x.y.z is loopback) does not happen: it fails with EACCES naming the
 * target, a `loopback guard:` line goes to standard error, and the target is appended to the file named
 * by RCPT_NET_GUARD_REPORT, which fails the run even when the code under test swallowed the error.
 *
 * It sits where every socket passes once its address is known, the TCP and UDP handles under `net` and
 * `dgram`: net.connect, net.Socket#connect, tls.connect, http, fetch, SOCKS clients and dgram all go
 * through it. Name lookups do not pass those handles, so it also sits where they start: getaddrinfo
 * (dns.lookup, so also net, tls, http and fetch given a name) asks the system resolver, which may be off
 * this machine, and is refused for any name but `localhost`; c-ares (dns.resolve*, dns.Resolver) is
 * refused unless every server of its channel is on loopback. rcpt's own DNS client sends through the
 * UDP handle, and a send to one of the system's resolvers says so.
 */
const { BlockList } = require('node:net');
const { appendFileSync } = require('node:fs');
const { constants } = require('node:os');

const REPORT = 'RCPT_NET_GUARD_REPORT';
const INSTALLED = Symbol.for('rcpt.loopbackGuard');

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Whether `address` (an IP address, as the handles get it) is on loopback. */
function isLoopback(address) {
  if (typeof address !== 'string') return false;
  try {
    return loopback.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
  } catch {
    return false;
  }
}

/** `address:port`, an IPv6 address in brackets. */
function hostPort(address, port) {
  return `${String(address).includes(':') ? `[${address}]` : address}:${port}`;
}

/**
 * The system's resolvers (/etc/resolv.conf) as `address:port` targets, read once. A send to one is refused
 * even on loopback: a stub such as systemd-resolved's 127.0.0.53 asks the world for the test.
 */
let systemResolvers;
function isSystemResolver(address, port) {
  if (systemResolvers === undefined) {
    try {
      systemResolvers = new Set(
        require('node:dns')
          .getServers()
          .map((server) => {
            const bracketed = /^\[(.*)\](?::(\d+))?$/.exec(server);
            if (bracketed !== null) return hostPort(bracketed[1], bracketed[2] ?? 53);
            const [host, ...rest] = server.split(':');
            return rest.length === 1 ? hostPort(host, rest[0]) : hostPort(server, 53);
          }),
      );
    } catch {
      systemResolvers = new Set();
    }
  }
  return systemResolvers.has(hostPort(address, port));
}

const SYSTEM_RESOLVER = ' (the system resolver: give a DNS server on loopback, dnsServers or --dns-server)';

/**
 * Records a refused attempt (`what` `target` `note`, as `TCP connect to` `192.0.2.1:25`) and returns the
 * error code the handle answers with.
 */
function refuse(what, target, note = '') {
  const line = `loopback guard: ${what} ${target}${note} refused (tests talk only to 127.0.0.0/8 and ::1)`;
  const report = process.env[REPORT];
  if (report !== undefined && report !== '') {
    try {
      appendFileSync(
        report,
        `${what} ${target}${note} (pid ${process.pid}: ${process.argv.slice(1).join(' ') || process.execArgv.join(' ')})\n`,
      );
    } catch {
      // The stderr line below still says it.
    }
  }
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // Standard error closed: the report file has it.
  }
  return -constants.errno.EACCES;
}

/** `--require=<this file>`, quoted for NODE_OPTIONS. */
const PRELOAD = `--require="${__filename.replace(/(["\\])/g, '\\$1')}"`;

/** The environment pairs of a process about to start, with the guard and its report file in them. */
function withGuard(envPairs) {
  if (!Array.isArray(envPairs)) return;
  const report = process.env[REPORT];
  const at = envPairs.findIndex((pair) => typeof pair === 'string' && pair.startsWith('NODE_OPTIONS='));
  if (at === -1) envPairs.push(`NODE_OPTIONS=${PRELOAD}`);
  else if (!envPairs[at].includes(__filename)) envPairs[at] = `${envPairs[at]} ${PRELOAD}`;
  if (
    report !== undefined &&
    !envPairs.some((pair) => typeof pair === 'string' && pair.startsWith(`${REPORT}=`))
  )
    envPairs.push(`${REPORT}=${report}`);
}

function install() {
  const { TCP } = process.binding('tcp_wrap');
  for (const name of ['connect', 'connect6']) {
    const original = TCP.prototype[name];
    TCP.prototype[name] = function guardedConnect(req, address, port, ...rest) {
      if (isLoopback(address)) return original.call(this, req, address, port, ...rest);
      return refuse('TCP connect to', hostPort(address, port));
    };
  }
  const { UDP } = process.binding('udp_wrap');
  for (const name of ['connect', 'connect6']) {
    const original = UDP.prototype[name];
    UDP.prototype[name] = function guardedConnect(address, port, ...rest) {
      if (isSystemResolver(address, port))
        return refuse('UDP connect to', hostPort(address, port), SYSTEM_RESOLVER);
      if (isLoopback(address)) return original.call(this, address, port, ...rest);
      return refuse('UDP connect to', hostPort(address, port));
    };
  }
  for (const name of ['send', 'send6']) {
    const original = UDP.prototype[name];
    // send(req, list, count, port, address, hasCallback); a connected socket's send(req, list, count,
    // hasCallback) has no address: its connect was checked.
    UDP.prototype[name] = function guardedSend(...args) {
      if (args.length >= 6 && (isSystemResolver(args[4], args[3]) || !isLoopback(args[4])))
        return refuse(
          'UDP send to',
          hostPort(args[4], args[3]),
          isSystemResolver(args[4], args[3]) ? SYSTEM_RESOLVER : '',
        );
      return original.apply(this, args);
    };
  }
  // Name lookups. getaddrinfo(req, hostname, …) is what dns.lookup and dns.promises.lookup call for a
  // name (an IP address never gets there); /etc/hosts answers `localhost`.
  const cares = process.binding('cares_wrap');
  const getaddrinfo = cares.getaddrinfo;
  cares.getaddrinfo = function guardedGetaddrinfo(req, hostname, ...rest) {
    if (/^localhost\.?$/i.test(String(hostname))) return getaddrinfo.call(this, req, hostname, ...rest);
    return refuse('name lookup (getaddrinfo) of', hostname, ' (the system resolver)');
  };
  const getnameinfo = cares.getnameinfo;
  cares.getnameinfo = function guardedGetnameinfo(req, address, port, ...rest) {
    if (isLoopback(address)) return getnameinfo.call(this, req, address, port, ...rest);
    return refuse('reverse lookup (getnameinfo) of', address, ' (the system resolver)');
  };
  // A c-ares channel (dns.resolve*, a dns.Resolver) asks its own servers over sockets of its own;
  // one whose servers were all set to loopback addresses may ask.
  const { ChannelWrap } = cares;
  for (const name of Object.getOwnPropertyNames(ChannelWrap.prototype)) {
    if (!name.startsWith('query') && name !== 'getHostByAddr') continue;
    const original = ChannelWrap.prototype[name];
    ChannelWrap.prototype[name] = function guardedQuery(req, queried, ...rest) {
      const servers = this.getServers();
      if (servers.length > 0 && servers.every(([address]) => isLoopback(address)))
        return original.call(this, req, queried, ...rest);
      const offLoopback = servers.filter(([address]) => !isLoopback(address));
      return refuse(
        `DNS query (${name}) of`,
        queried,
        ` to ${offLoopback.map(([address, port]) => hostPort(address, port)).join(', ') || 'no server'}`,
      );
    };
  }
  // Processes started with an environment of their own (`env: { PATH }`) get the guard too: every
  // child_process function ends in one of these two with the final environment.
  const { Process } = process.binding('process_wrap');
  const spawn = Process.prototype.spawn;
  Process.prototype.spawn = function guardedSpawn(options) {
    withGuard(options?.envPairs);
    return spawn.call(this, options);
  };
  const spawnSync = process.binding('spawn_sync');
  const spawnSyncOriginal = spawnSync.spawn;
  spawnSync.spawn = function guardedSpawnSync(options) {
    withGuard(options?.envPairs);
    return spawnSyncOriginal.call(this, options);
  };
}

if (globalThis[INSTALLED] !== true) {
  globalThis[INSTALLED] = true;
  install();
}

module.exports = { isLoopback };
