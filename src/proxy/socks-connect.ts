/**
 * One connection through a SOCKS5 proxy (RFC 1928, with RFC 1929 user/password), using the maintained
 * `socks` package for the protocol. rcpt opens the TCP connection to the proxy itself, so that it can
 * tell "the proxy cannot be reached" from "the proxy refused", bind `localAddress`, and end everything on
 * its own deadline; the proxy is then asked to CONNECT to an IP address (address type 0x01 or 0x04),
 * never to a name it would resolve.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';

import { SocksClient, SocksClientError } from 'socks';

import { ProxyError, type ProxyFailureKind } from '../errors.js';
import type { ConnectRequest } from '../types.js';
import type { ProxyEndpoint } from './proxy-url.js';

/** RFC 1928 §6 reply codes, by the names the `socks` package puts in its messages. */
const SOCKS5_REPLIES: Readonly<Record<string, number>> = {
  Failure: 0x01,
  NotAllowed: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TTLExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressNotSupported: 0x08,
};

/** What each reply code means, in RFC 1928 §6's words. */
const REPLY_TEXT: Readonly<Record<number, string>> = {
  0x01: 'general SOCKS server failure',
  0x02: 'connection not allowed by ruleset',
  0x03: 'network unreachable',
  0x04: 'host unreachable',
  0x05: 'connection refused',
  0x06: 'TTL expired',
  0x07: 'command not supported',
  0x08: 'address type not supported',
};

/** 0x03–0x06 say the proxy could not reach the MX; 0x01, 0x02, 0x07, 0x08 refuse the request itself. */
function kindOfReply(code: number): ProxyFailureKind {
  return code >= 0x03 && code <= 0x06 ? 'target_unreachable' : 'refused';
}

function errnoOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}

/** Turns the `socks` package's error (its message is all it carries) into a `ProxyError`. */
function proxyErrorOf(endpoint: ProxyEndpoint, target: string, error: unknown): ProxyError {
  const message = error instanceof Error ? error.message : String(error);
  const proxy = endpoint.name;
  const rejected = /rejected connection - (\w+)/.exec(message);
  if (rejected !== null) {
    const code = SOCKS5_REPLIES[rejected[1] ?? ''] ?? 0x01;
    const text = REPLY_TEXT[code] ?? 'refused';
    return new ProxyError(
      proxy,
      kindOfReply(code),
      `proxy ${proxy} refused to connect to ${target}: reply 0x0${code.toString(16)}, ${text} (RFC 1928 §6)`,
      { cause: error, socksReply: code },
    );
  }
  if (/Authentication failed/i.test(message)) {
    return new ProxyError(
      proxy,
      'auth_failed',
      `proxy ${proxy} refused the user name and password (RFC 1929)`,
      {
        cause: error,
      },
    );
  }
  if (/no accepted authentication type/i.test(message)) {
    const wanted = endpoint.username === null ? 'no authentication' : 'user/password authentication';
    return new ProxyError(
      proxy,
      'auth_failed',
      `proxy ${proxy} accepts none of the methods offered (${wanted})`,
      {
        cause: error,
      },
    );
  }
  if (/Socket closed/i.test(message)) {
    return new ProxyError(
      proxy,
      'unreachable',
      `proxy ${proxy} closed the connection during the SOCKS5 exchange`,
      {
        cause: error,
      },
    );
  }
  if (/invalid Socks5/i.test(message)) {
    return new ProxyError(
      proxy,
      'unreachable',
      `proxy ${proxy} does not answer as a SOCKS5 proxy: ${message}`,
      {
        cause: error,
      },
    );
  }
  return new ProxyError(proxy, 'unreachable', `proxy ${proxy} failed: ${message}`, { cause: error });
}

/**
 * Connects to `request.ip:request.port` through the proxy. Resolves with the socket (connected to the
 * MX, ready for its greeting), or rejects with a `ProxyError` naming the proxy.
 */
export function connectThroughProxy(endpoint: ProxyEndpoint, request: ConnectRequest): Promise<Socket> {
  const { ip, port, localAddress, timeoutMs, signal } = request;
  const target = `${isIP(ip) === 6 ? `[${ip}]` : ip}:${port}`;
  const proxy = endpoint.name;
  return new Promise<Socket>((resolve, reject) => {
    let settled = false;
    let connected = false;
    const socket = netConnect({
      host: endpoint.host,
      port: endpoint.port,
      ...(localAddress === null ? {} : { localAddress }),
    });
    const finish = (error: ProxyError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.removeListener('error', onSocketError);
      if (error === null) {
        resolve(socket);
        return;
      }
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => {
      finish(
        new ProxyError(
          proxy,
          'timeout',
          connected
            ? `proxy ${proxy} did not complete the connection to ${target} within ${timeoutMs} ms`
            : `proxy ${proxy} did not accept a TCP connection within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const onAbort = (): void => {
      finish(new ProxyError(proxy, 'timeout', `the deadline passed while connecting through proxy ${proxy}`));
    };
    const onSocketError = (error: Error): void => {
      if (!connected) {
        finish(
          new ProxyError(proxy, 'unreachable', `cannot connect to proxy ${proxy}: ${errnoOf(error)}`, {
            cause: error,
          }),
        );
      }
    };
    if (signal?.aborted === true) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', onSocketError);
    socket.once('connect', () => {
      connected = true;
      socket.setNoDelay(true);
      SocksClient.createConnection({
        proxy: {
          host: endpoint.host,
          port: endpoint.port,
          type: 5,
          ...(endpoint.username === null ? {} : { userId: endpoint.username }),
          ...(endpoint.password === null ? {} : { password: endpoint.password }),
        },
        command: 'connect',
        destination: { host: ip, port },
        existing_socket: socket,
        // rcpt's own timer above ends the exchange; the package's must never fire first.
        timeout: timeoutMs + 60_000,
      }).then(
        () => {
          finish(null);
        },
        (error: unknown) => {
          finish(
            error instanceof SocksClientError || error instanceof Error
              ? proxyErrorOf(endpoint, target, error)
              : proxyErrorOf(endpoint, target, error),
          );
        },
      );
    });
  });
}
