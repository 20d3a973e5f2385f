/**
 * A pool of SOCKS5 proxies used as one route (docs/proxies.md). Each MX address goes through the same
 * member while that member works (rendezvous hashing on the address), so a greylisting retry leaves
 * from the same egress address as the first attempt (the receiving server's triplet includes the
 * client address, RFC 6647 §2.1). A member that cannot be reached, refuses the credentials or stalls is
 * taken out of the pool for a while (doubling, capped) and the connection is tried through the next
 * member at once; when every member is out, the one due back first is tried, so a pool never refuses
 * without trying.
 */
import { warningChannel } from '../diagnostics.js';
import { OptionsError, ProxyError } from '../errors.js';
import type { ConnectRequest, Connected, Connector } from '../types.js';
import type { ProxyEndpoint } from './proxy-url.js';
import { connectThroughProxy } from './socks-connect.js';

/** First time a failing proxy stays out of the pool; doubled on each further failure. */
export const PROXY_RETRY_MS = 30_000;
/** Longest time a proxy stays out: one that keeps failing is still tried every five minutes. */
export const PROXY_MAX_RETRY_MS = 300_000;

export interface ProxyPoolOptions {
  /** First time out of the pool after a failure, in milliseconds. Default 30000. */
  readonly retryMs?: number;
  /** Clock, in milliseconds (tests). Default `Date.now`. */
  readonly now?: () => number;
  /** Opens one connection through one proxy (tests replace it). Default: SOCKS5 over TCP. */
  readonly connect?: (endpoint: ProxyEndpoint, request: ConnectRequest) => Promise<unknown>;
}

interface Member {
  readonly endpoint: ProxyEndpoint;
  failures: number;
  /** `now()` before which the member is out of the pool; 0 when it is in. */
  downUntil: number;
}

/** The failures that say the proxy itself is not working, as opposed to refusing one target. */
const TAKES_OUT: ReadonlySet<ProxyError['kind']> = new Set(['unreachable', 'auth_failed', 'timeout']);

/** FNV-1a, 32 bits: a stable, well-spread score for rendezvous hashing (no security role). */
function score(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** A route through one or more SOCKS5 proxies. */
export class ProxyPool implements Connector {
  readonly name: string;
  readonly #members: readonly Member[];
  readonly #retryMs: number;
  readonly #now: () => number;
  readonly #connect: (endpoint: ProxyEndpoint, request: ConnectRequest) => Promise<unknown>;
  readonly #pins = new Map<string, Connector>();

  constructor(endpoints: readonly ProxyEndpoint[], options: ProxyPoolOptions = {}) {
    if (endpoints.length === 0) throw new OptionsError('proxy', 'a proxy pool needs at least one proxy');
    this.#members = endpoints.map((endpoint) => ({ endpoint, failures: 0, downUntil: 0 }));
    this.name = endpoints.map((endpoint) => endpoint.name).join(',');
    this.#retryMs = options.retryMs ?? PROXY_RETRY_MS;
    this.#now = options.now ?? Date.now;
    this.#connect = options.connect ?? connectThroughProxy;
  }

  /** The members, as configured. */
  get endpoints(): readonly ProxyEndpoint[] {
    return this.#members.map((member) => member.endpoint);
  }

  /** The members' names with whether each is in the pool now (`rcpt doctor`, tests). */
  status(): readonly { readonly name: string; readonly up: boolean; readonly downUntil: number | null }[] {
    const now = this.#now();
    return this.#members.map((m) => ({
      name: m.endpoint.name,
      up: m.downUntil <= now,
      downUntil: m.downUntil > now ? m.downUntil : null,
    }));
  }

  /** The member an MX address goes through now (the first in its rendezvous order that is in the pool). */
  memberFor(ip: string): string {
    return (this.#order(ip)[0] ?? this.#members[0])?.endpoint.name ?? '';
  }

  async connect(request: ConnectRequest): Promise<Connected> {
    return this.#connectIn(this.#order(request.ip), request);
  }

  /**
   * The pool seen through one member (the rendezvous choice for `key`): for proxies with distinct
   * egress addresses, whose caps count apart. Its name is that member's, so the scheduler's per-host
   * caps count per (member, MX address); it goes through that member while it is in the pool, and
   * fails over like the pool when it is not. A `key` with the recipient keeps greylisting retries on
   * the member of the first attempt.
   */
  pinned(key: string): Connector {
    const preferred = this.#rank(this.#members, key)[0] ?? this.#members[0];
    const name = preferred?.endpoint.name ?? this.name;
    let connector = this.#pins.get(name);
    if (connector === undefined) {
      connector = {
        name,
        connect: (request) => {
          const order = this.#order(request.ip);
          const first = order.filter((member) => member === preferred);
          return this.#connectIn([...first, ...order.filter((member) => member !== preferred)], request);
        },
      };
      this.#pins.set(name, connector);
    }
    return connector;
  }

  async #connectIn(order: readonly Member[], request: ConnectRequest): Promise<Connected> {
    const deadline = this.#now() + request.timeoutMs;
    let lastError: unknown = null;
    for (const member of order) {
      const timeoutMs = Math.max(1, deadline - this.#now());
      try {
        const socket = await this.#connect(member.endpoint, { ...request, timeoutMs });
        member.failures = 0;
        member.downUntil = 0;
        return { socket, proxy: member.endpoint.name };
      } catch (error) {
        // Our own deadline is nobody's fault: the proxy stays in.
        if (
          request.signal?.aborted === true ||
          !(error instanceof ProxyError) ||
          !TAKES_OUT.has(error.kind)
        ) {
          throw error;
        }
        this.#takeOut(member, error);
        lastError = error;
        if (this.#now() >= deadline) break;
      }
    }
    throw lastError;
  }

  /** Members in the pool, in rendezvous order for `ip`; when none is, the one due back first alone. */
  #order(ip: string): Member[] {
    const now = this.#now();
    const up = this.#rank(
      this.#members.filter((m) => m.downUntil <= now),
      ip,
    );
    if (up.length > 0) return up;
    const soonest = [...this.#members].sort((a, b) => a.downUntil - b.downUntil)[0];
    return soonest === undefined ? [] : [soonest];
  }

  /** Rendezvous order of `members` for `key`: highest score first. */
  #rank(members: readonly Member[], key: string): Member[] {
    return [...members].sort(
      (a, b) => score(`${b.endpoint.name}|${key}`) - score(`${a.endpoint.name}|${key}`),
    );
  }

  /**
   * Takes `member` out for a while, said once per outage on the warning channel: a member tried again
   * while out (every member is) and failing again stays out longer, without a new warning.
   */
  #takeOut(member: Member, error: ProxyError): void {
    const now = this.#now();
    const wasIn = member.downUntil <= now;
    member.failures += 1;
    const wait = Math.min(PROXY_MAX_RETRY_MS, this.#retryMs * 2 ** Math.min(member.failures - 1, 16));
    member.downUntil = now + wait;
    if (!wasIn || !warningChannel.hasSubscribers) return;
    const othersIn = this.#members.some((other) => other.downUntil <= now);
    const which = this.#members.length === 1 ? 'it fails' : "the pool's proxies all fail";
    warningChannel.publish({
      code: 'PROXY_DOWN',
      message: othersIn
        ? `${error.message}; taken out of the pool for ${Math.round(wait / 1000)} s`
        : `${error.message}; addresses routed through it end unknown (proxy_${error.kind}) ` +
          `${error.kind === 'timeout' ? 'once their deadline is spent' : 'at once, not retried'} while ` +
          `${which}; "rcpt doctor --proxy" checks it`,
    });
  }
}
