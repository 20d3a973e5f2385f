/**
 * Webhooks of bulk jobs (Reacher's `/v1/bulk` `webhook`, rcpt's `/v1/jobs` `webhook`): the calls are owed
 * in the job store, written in the transaction that causes them (a first result, a job's end), and a
 * sender in `rcpt serve` takes them from there, so a restart loses none and verification never waits
 * for a receiver. Each call is a POST of JSON signed with HMAC-SHA256 over `timestamp.body` with the
 * caller's per-key secret (docs/reacher.md "Webhooks" has the header and a verification snippet),
 * retried with exponential backoff, and sent only to an address the private-target filter allows,
 * checked on the address actually connected to (the lookup that the socket uses returns only checked
 * addresses, so a name cannot be re-pointed between the check and the connection).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import {
  request as httpRequest,
  validateHeaderValue,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';

import { classifyTarget, isAllowedTarget } from '../index.js';
import type { WebhookDelivery, WebhookOutcome } from '../jobs/index.js';
import { LOCAL_OWNER, keyIdOf } from './auth.js';
import { HttpError } from './http-error.js';
import type { Logger } from './logger.js';

/** The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = 'Rcpt-Signature';
/** The label the per-key secret is derived under: secret = hex(HMAC-SHA256(key = API key, label)). */
const SECRET_LABEL = 'rcpt-webhook-v1';
/** Headers a caller's `headers` may not set: rcpt's own and the transport's. */
const RESERVED_HEADERS = /^(rcpt-|content-length$|content-type$|host$|transfer-encoding$|connection$)/i;

/** One receiver: where to POST, extra headers (Reacher's `headers`), and Reacher's opaque `extra`. */
export interface WebhookTarget {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly extra: unknown;
}

/** What a job keeps in its options under `webhook` (the store reads `onResult` and `onEnd`). */
export interface JobWebhook {
  readonly onResult: boolean;
  readonly onEnd: boolean;
  /** Which API's bodies to send: Reacher's (`{result, extra}`) or rcpt's. */
  readonly api: 'reacher' | 'rcpt';
  readonly result: WebhookTarget | null;
  readonly end: WebhookTarget | null;
}

/** The per-key signing secret: HMAC-SHA256 keyed with the API key over a fixed label, in hex. */
export function webhookSecretOf(apiKey: string): string {
  return createHmac('sha256', apiKey).update(SECRET_LABEL).digest('hex');
}

/**
 * The signing secret of each caller: per API key (named by its key id, the owner of its jobs); the
 * server's own `localSecret` for the local caller of a server without keys. `null` when there is none.
 */
export function webhookSecrets(
  apiKeys: readonly string[],
  localSecret: string | undefined,
): (owner: string) => string | null {
  const byOwner = new Map(apiKeys.map((key) => [keyIdOf(key), webhookSecretOf(key)]));
  return (owner) => byOwner.get(owner) ?? (owner === LOCAL_OWNER ? (localSecret ?? null) : null);
}

/** The signature header's value for `body` sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * What a receiver does: true when `header` signs `body` with `secret` and its timestamp is within
 * `toleranceSeconds` of `now` (a replayed old call is refused).
 */
export function verifyWebhookSignature(
  secret: string,
  header: string,
  body: string,
  toleranceSeconds = 300,
  now = Date.now(),
): boolean {
  const parts = new Map(
    header.split(',').map((part): [string, string] => {
      const [name = '', value = ''] = part.trim().split('=', 2);
      return [name, value];
    }),
  );
  const timestamp = Number(parts.get('t'));
  const given = Buffer.from(parts.get('v1') ?? '', 'hex');
  if (!Number.isInteger(timestamp) || Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body).split('v1=')[1] ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Why a target was refused: `null` when allowed. */
function refusal(ip: string, allowPrivate: boolean): string | null {
  return isAllowedTarget(ip, allowPrivate)
    ? null
    : `${ip} is a ${classifyTarget(ip)} address (refused unless the operator passes --allow-private-targets)`;
}

/** The URL's host without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/** True when `host` is an IP address rather than a name (the URL parser has normalised its form). */
function isIpLiteral(host: string): boolean {
  return isIP(host) !== 0;
}

/**
 * Checks a webhook URL given with a job: http or https, and a host the private-target filter allows
 * (an address literal at once; a name by what it resolves to now; it is checked again on every call,
 * on the address connected to). Throws a 400 `HttpError` naming the problem.
 */
export async function checkWebhookUrl(raw: string, allowPrivate: boolean): Promise<WebhookTarget['url']> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HttpError(400, 'bad_request', `webhook url is not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HttpError(400, 'bad_request', `webhook url must be http or https, got ${url.protocol}`);
  }
  const host = hostOf(url);
  const addresses = isIpLiteral(host)
    ? [host]
    : await new Promise<string[]>((resolve) => {
        dnsLookup(host, { all: true }, (error, found) => {
          // A name that does not resolve now may later: it is checked on every call anyway.
          resolve(error === null ? found.map((entry) => entry.address) : []);
        });
      });
  for (const address of addresses) {
    const why = refusal(address, allowPrivate);
    if (why !== null) throw new HttpError(400, 'bad_request', `webhook url refused: ${why}`);
  }
  return url.href;
}

/** A caller's extra headers, checked: strings, none of rcpt's own or the transport's. */
export function checkWebhookHeaders(headers: unknown): Record<string, string> {
  if (headers === undefined || headers === null) return {};
  if (typeof headers !== 'object' || Array.isArray(headers)) {
    throw new HttpError(400, 'bad_request', 'webhook headers must be an object of strings');
  }
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    // RFC 9110 §5.1 token characters; values that HTTP carries, checked as the request will check them
    // (no line break, so no header injection; no other control character, nothing above U+00FF), so
    // that a value no call could send is refused now rather than failing every call.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || typeof value !== 'string' || !sendable(name, value)) {
      throw new HttpError(400, 'bad_request', `webhook header ${JSON.stringify(name)} is not a valid header`);
    }
    if (RESERVED_HEADERS.test(name)) {
      throw new HttpError(400, 'bad_request', `webhook header ${name} is set by rcpt and may not be given`);
    }
    checked[name] = value;
  }
  return checked;
}

/** Whether node:http sends `value` as a header (it throws ERR_INVALID_CHAR for one it would not). */
function sendable(name: string, value: string): boolean {
  try {
    validateHeaderValue(name, value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The lookup the socket uses: resolves, keeps only addresses the filter allows, and hands the socket
 * those, so the address checked is the address connected to (no second resolution to re-point).
 */
function filteredLookup(allowPrivate: boolean): NonNullable<RequestOptions['lookup']> {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    dnsLookup(hostname, { all: true }, (error, found: LookupAddress[]) => {
      if (error !== null) {
        callback(error);
        return;
      }
      const allowed = found.filter((entry) => refusal(entry.address, allowPrivate) === null);
      const first = allowed[0];
      if (first === undefined) {
        const why = refusal(found[0]?.address ?? '', allowPrivate) ?? 'no address';
        callback(Object.assign(new Error(`webhook target refused: ${why}`), { code: 'ETARGETREFUSED' }));
        return;
      }
      if (options.all === true) callback(null, allowed);
      else callback(null, first.address, first.family);
    });
  }) as unknown as NonNullable<RequestOptions['lookup']>;
}

/** POSTs `body`; resolves with the status, rejects on a network error, a refusal or the timeout. */
function post(
  url: URL,
  headers: Readonly<Record<string, string>>,
  body: string,
  allowPrivate: boolean,
  timeoutMs: number,
): Promise<number> {
  const host = hostOf(url);
  if (isIpLiteral(host)) {
    const why = refusal(host, allowPrivate);
    if (why !== null) return Promise.reject(new Error(`webhook target refused: ${why}`));
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
        lookup: filteredLookup(allowPrivate),
        timeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res: IncomingMessage) => {
        res.resume();
        res.on('end', () => {
          resolve(res.statusCode ?? 0);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** What the sender needs of the jobs: deliveries owed, and each job's webhook, owner and body. */
export interface WebhookSource {
  claim(now: number, leaseMs: number, limit: number): Promise<WebhookDelivery[]>;
  settle(id: number, outcome: WebhookOutcome): Promise<void>;
  /** The job's webhook, owner and the JSON body for this delivery; `null` when the job is gone. */
  prepare(
    delivery: WebhookDelivery,
  ): Promise<{ readonly webhook: JobWebhook; readonly owner: string; readonly body: unknown } | null>;
}

export interface WebhookSenderOptions {
  readonly source: WebhookSource;
  /** The signing secret of an owner (API key id), or `null` when there is none any more. */
  readonly secretOf: (owner: string) => string | null;
  /** Lift the private-target filter (labs, tests): `--allow-private-targets`. */
  readonly allowPrivateTargets: boolean;
  readonly logger: Logger;
  /** How often owed deliveries are looked for, in milliseconds. Default 500. */
  readonly pollMs?: number;
  /** Wait after the first failure, doubled on each further one, in milliseconds. Default 2000. */
  readonly backoffMs?: number;
  /** Longest wait between attempts, in milliseconds. Default 600000 (10 minutes). */
  readonly maxBackoffMs?: number;
  /** Attempts before a delivery is given up. Default 10 (about an hour with the defaults). */
  readonly maxAttempts?: number;
  /** How long one call may take, in milliseconds. Default 10000. */
  readonly timeoutMs?: number;
}

/** A poll finds at most this many deliveries; more are taken on the next turn at once. */
const CLAIM_BATCH = 20;
/** A claimed delivery is held this long: a sender that dies mid-call leaves it to the next one then. */
const CLAIM_LEASE_MS = 60_000;

/** Sends owed webhook calls until closed. */
export class WebhookSender {
  readonly #options: Required<Omit<WebhookSenderOptions, 'source' | 'secretOf' | 'logger'>> &
    Pick<WebhookSenderOptions, 'source' | 'secretOf' | 'logger'>;
  #timer: NodeJS.Timeout | null = null;
  #turn: Promise<void> | null = null;
  #closed = false;

  constructor(options: WebhookSenderOptions) {
    this.#options = {
      pollMs: 500,
      backoffMs: 2_000,
      maxBackoffMs: 600_000,
      maxAttempts: 10,
      timeoutMs: 10_000,
      ...options,
    };
  }

  /** Starts polling. */
  start(): void {
    this.#schedule(0);
  }

  /** Stops polling and waits for the calls in flight (their outcome is recorded). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#turn;
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#turn = this.#poll().then((more) => {
        this.#turn = null;
        this.#schedule(more ? 0 : this.#options.pollMs);
      });
    }, ms);
  }

  /** One turn: claims what is due and sends it; true when there may be more due now. */
  async #poll(): Promise<boolean> {
    const { source, logger } = this.#options;
    let claimed: WebhookDelivery[];
    try {
      claimed = await source.claim(Date.now(), CLAIM_LEASE_MS, CLAIM_BATCH);
    } catch (error) {
      logger.error({ err: error }, 'webhook deliveries could not be read');
      return false;
    }
    await Promise.all(claimed.map((delivery) => this.#deliver(delivery)));
    return claimed.length === CLAIM_BATCH;
  }

  async #deliver(delivery: WebhookDelivery): Promise<void> {
    const { source, logger } = this.#options;
    let outcome: WebhookOutcome;
    try {
      outcome = await this.#attempt(delivery);
    } catch (error) {
      outcome = this.#retry(delivery, error instanceof Error ? error.message : String(error));
    }
    if (outcome.state !== 'delivered') {
      logger.warn(
        { job: delivery.jobId, delivery: delivery.id, attempt: delivery.attempts + 1, outcome },
        'webhook call failed',
      );
    }
    await source.settle(delivery.id, outcome).catch((error: unknown) => {
      logger.error({ err: error, delivery: delivery.id }, 'webhook outcome could not be recorded');
    });
  }

  async #attempt(delivery: WebhookDelivery): Promise<WebhookOutcome> {
    const prepared = await this.#options.source.prepare(delivery);
    if (prepared === null) return { state: 'failed', error: 'the job is gone' };
    const target = delivery.event === 'end' ? prepared.webhook.end : prepared.webhook.result;
    if (target === null) return { state: 'failed', error: `no ${delivery.event} webhook` };
    const secret = this.#options.secretOf(prepared.owner);
    if (secret === null) return { state: 'failed', error: "the job's API key is no longer configured" };
    const body = JSON.stringify(prepared.body);
    const timestamp = Math.floor(Date.now() / 1000);
    const status = await post(
      new URL(target.url),
      {
        ...target.headers,
        'Content-Type': 'application/json',
        'User-Agent': 'rcpt-webhook/1',
        'Rcpt-Event': delivery.event,
        'Rcpt-Delivery': String(delivery.id),
        [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
      },
      body,
      this.#options.allowPrivateTargets,
      this.#options.timeoutMs,
    );
    if (status >= 200 && status < 300) return { state: 'delivered' };
    // 410 Gone: the receiver says it will never want this.
    if (status === 410) return { state: 'failed', error: 'HTTP 410' };
    return this.#retry(delivery, `HTTP ${status}`);
  }

  /** Due again after a doubling wait, or given up after the last attempt. */
  #retry(delivery: WebhookDelivery, error: string): WebhookOutcome {
    const { backoffMs, maxBackoffMs, maxAttempts } = this.#options;
    if (delivery.attempts + 1 >= maxAttempts) return { state: 'failed', error };
    const wait = Math.min(maxBackoffMs, backoffMs * 2 ** delivery.attempts);
    return { state: 'pending', error, nextAt: Date.now() + wait };
  }
}
