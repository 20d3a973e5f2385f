/**
 * The sign of a blocked port 25 in a run's results: every MX host tried, none answered. Most cloud VMs
 * and home connections cannot open outbound connections to port 25, and a first run there gives a
 * column of `unknown` with `connection_failed` or `timeout`: the run says once what that likely means
 * and where to go (`rcpt doctor`, docs/proxies.md), instead of leaving each row to be read alone.
 */
import type { VerifyResult } from '../index.js';

/** How many hosts the hint names; the rest are counted. */
const NAMED_HOSTS = 3;

/** Watches the results of a run, one by one, for MX hosts that never answered. */
export class UnreachedWatch {
  /** Some server answered (a reply was read): port 25 is open, whatever failed elsewhere. */
  #answered = false;
  readonly #hosts = new Set<string>();
  readonly #ports = new Set<number>();
  readonly #proxies = new Set<string>();

  see(result: VerifyResult | null): void {
    const smtp = result?.smtp ?? null;
    if (smtp === null || this.#answered) return;
    if (smtp.reply !== null) {
      this.#answered = true;
      return;
    }
    if (result?.reason !== 'connection_failed' && result?.reason !== 'timeout') return;
    // A connection that never opened has no host of its own: the MX hosts it was to reach.
    const hosts = smtp.host === null ? (result.dns?.mx?.map((mx) => mx.exchange) ?? []) : [smtp.host];
    for (const host of hosts) this.#hosts.add(host);
    if (smtp.port !== null) this.#ports.add(smtp.port);
    if (smtp.proxy !== null) this.#proxies.add(smtp.proxy);
  }

  /** The lines to print on standard error (with their `rcpt VERB: ` prefix), or `''`. */
  hint(verb: string): string {
    if (this.#answered || this.#hosts.size === 0) return '';
    const hosts = [...this.#hosts];
    const named = hosts.slice(0, NAMED_HOSTS).join(', ');
    const more = hosts.length > NAMED_HOSTS ? ` and ${hosts.length - NAMED_HOSTS} more` : '';
    const port = this.#ports.size === 1 ? `port ${[...this.#ports][0] ?? 25}` : 'their ports';
    const proxies = [...this.#proxies];
    if (proxies.length > 0) {
      return `rcpt ${verb}: no mail server answered on ${port} through ${proxies.join(', ')} (${named}${more}): if the proxy's host cannot reach ${port}, every verdict through it will be unknown; "rcpt doctor --proxy URL" checks it (docs/proxies.md)\n`;
    }
    return `rcpt ${verb}: no mail server answered on ${port} (${named}${more}): if this machine's outbound ${port} is blocked (port 25 is, on most cloud VMs and home connections), every verdict will be unknown; "rcpt doctor" checks it, and docs/proxies.md shows how to verify through a SOCKS5 proxy where port 25 is open\n`;
  }
}
