/**
 * Refuses option keys rcpt does not know, naming the nearest known one: `{ dnsServer: … }` would
 * otherwise be ignored and the system's resolver used without a word.
 */
import { UnknownOptionError } from './errors.js';
import { editDistance } from './syntax/index.js';

/** Case, `-` and `_` do not count: `dns-servers`, `DNSServers` and `dns_servers` all mean `dnsServers`. */
function folded(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

/** The known key nearest to `key` within a few edits, or `null`. */
export function nearestKey(key: string, known: readonly string[]): string | null {
  const wanted = folded(key);
  const max = wanted.length <= 4 ? 1 : wanted.length <= 8 ? 2 : 3;
  let best: string | null = null;
  let bestDistance = max + 1;
  for (const candidate of known) {
    const distance = editDistance(wanted, folded(candidate), max);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Throws `UnknownOptionError` for the first own key of `options` that `known` does not list. */
export function rejectUnknownKeys(options: unknown, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null) return;
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new UnknownOptionError(key, nearestKey(key, known), known);
  }
}
