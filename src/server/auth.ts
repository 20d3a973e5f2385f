/**
 * API keys (`Authorization: Bearer KEY`; Reacher's `Authorization: KEY` and `x-reacher-secret: KEY`). A key is never
 * stored, logged or compared as is: the server keeps its SHA-256 and names the caller by a short
 * prefix of that hash (`keyId`), which is also the owner recorded on jobs.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The owner of everything done when the server runs without keys (loopback only). */
export const LOCAL_OWNER = 'local';

/** Keys shorter than this are refused: a short key is a guessable key. */
export const MIN_API_KEY_LENGTH = 16;

/** The configured keys, hashed. */
export interface ApiKeys {
  /** True when at least one key is configured (requests must then carry one). */
  readonly required: boolean;
  /** The caller's key id for a presented key, or `null` when the key is unknown. */
  identify(presented: string): string | null;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The short, stable, non-secret name of a key: 12 hex digits of its SHA-256. */
export function keyIdOf(key: string): string {
  return sha256(key).toString('hex').slice(0, 12);
}

/**
 * Reads keys from `RCPT_API_KEYS` (comma-separated) and/or a key file's text (one key a line, `#`
 * comments and blank lines ignored). Throws a `RangeError` naming the problem for a key that is too short.
 */
export function parseApiKeys(...sources: readonly (string | undefined)[]): string[] {
  const keys = new Set<string>();
  for (const source of sources) {
    if (source === undefined) continue;
    for (const raw of source.split(/[\n,]/)) {
      const key = raw.replace(/#.*$/, '').trim();
      if (key === '') continue;
      if (key.length < MIN_API_KEY_LENGTH || /\s/.test(key)) {
        throw new RangeError(
          `API key ${keyIdOf(key)} is too short or contains spaces (at least ${MIN_API_KEY_LENGTH} characters)`,
        );
      }
      keys.add(key);
    }
  }
  return [...keys];
}

/** Builds the key table. Comparison is on hashes in constant time, so timing leaks nothing of a key. */
export function createApiKeys(keys: readonly string[]): ApiKeys {
  const table = keys.map((key) => ({ hash: sha256(key), id: keyIdOf(key) }));
  return {
    required: table.length > 0,
    identify(presented) {
      const hash = sha256(presented);
      let found: string | null = null;
      // Every entry is compared, so the time taken does not depend on which key matched.
      for (const entry of table) if (timingSafeEqual(entry.hash, hash)) found = entry.id;
      return found;
    },
  };
}

/**
 * The key in a request's headers: `Authorization: Bearer KEY`, or `Authorization: KEY` as hosted
 * Reacher's clients send it (a value without a scheme), else Reacher's `x-reacher-secret: KEY`. Another
 * scheme (`Basic …`) presents no key.
 */
export function presentedKey(
  authorization: string | undefined,
  reacherSecret: string | undefined,
): string | null {
  if (authorization !== undefined) {
    const value = authorization.trim();
    const bearer = /^Bearer\s+(\S+)$/i.exec(value);
    if (bearer !== null) return bearer[1] ?? null;
    return /^\S+$/.test(value) ? value : null;
  }
  return reacherSecret?.trim() || null;
}
