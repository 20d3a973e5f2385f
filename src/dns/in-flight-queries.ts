import { DnsError } from '../errors.js';
import { abortReason, type AbortListener, type AbortWatch } from './transport.js';

/**
 * A shared query's own signal, aborted when every caller waiting for it has given up (or by
 * `abortAll()`). Not an `AbortController`'s: a bulk run starts about a thousand queries, and Node's
 * `EventTarget` (the controller's signal, a listener added and removed on it by the client's queue
 * and by the UDP query) was about a tenth of a query's CPU. Listeners are called once, in the order
 * added, as an `AbortSignal`'s are; one added after the abort is not called.
 */
export class QueryAbort implements AbortWatch {
  aborted = false;
  reason: unknown = undefined;
  #listeners: AbortListener[] = [];

  addEventListener(_type: 'abort', listener: AbortListener): void {
    if (!this.aborted && !this.#listeners.includes(listener)) this.#listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: AbortListener): void {
    const index = this.#listeners.indexOf(listener);
    if (index !== -1) this.#listeners.splice(index, 1);
  }

  /** Aborts with `reason` (an `AbortError`, as `AbortController.abort()` makes, when none is given). */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    this.#listeners = [];
    // The DNS layer's listeners settle a promise and never throw.
    for (const listener of listeners) {
      if (typeof listener === 'function') listener();
      else listener.handleEvent();
    }
  }
}

interface Flight<T> {
  readonly promise: Promise<T>;
  readonly abort: QueryAbort;
  waiters: number;
}

/**
 * Concurrent lookups of one key share one query. The shared query runs on its own signal, aborted
 * only when every caller waiting for it has given up (or by `abortAll()`); a caller that gives up
 * rejects with its own signal's reason.
 */
export class InFlightQueries<T> {
  readonly #inflight = new Map<string, Flight<T>>();
  /** The callers waiting with each signal, and the one listener that tells them it aborted. */
  readonly #watched = new Map<
    AbortSignal,
    { readonly callers: Set<() => void>; readonly abortAll: () => void }
  >();
  /** Lookups that joined a query already in flight. */
  shared = 0;

  /** Waits for the query under `key`, starting it with `start` when none is in flight. */
  run(key: string, start: (signal: AbortWatch) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    let flight = this.#inflight.get(key);
    if (flight === undefined) {
      flight = this.#start(key, start);
    } else {
      this.shared++;
    }
    return this.#join(key, flight, signal);
  }

  /** Aborts every query in flight with `reason`; their callers reject. */
  abortAll(reason: unknown): void {
    for (const flight of this.#inflight.values()) flight.abort.abort(reason);
    this.#inflight.clear();
  }

  #start(key: string, start: (signal: AbortWatch) => Promise<T>): Flight<T> {
    const abort = new QueryAbort();
    const promise = start(abort).finally(() => {
      if (this.#inflight.get(key) === created) this.#inflight.delete(key);
    });
    // Nobody may be listening when the last waiter leaves and the query is aborted.
    promise.catch(() => undefined);
    const created: Flight<T> = { promise, abort, waiters: 0 };
    this.#inflight.set(key, created);
    return created;
  }

  #join(key: string, joined: Flight<T>, signal: AbortSignal | undefined): Promise<T> {
    joined.waiters++;
    return new Promise<T>((resolve, reject) => {
      let unwatch = (): void => undefined;
      const leave = (): void => {
        unwatch();
        joined.waiters--;
      };
      const onAbort = (): void => {
        leave();
        if (joined.waiters === 0) {
          if (this.#inflight.get(key) === joined) this.#inflight.delete(key);
          joined.abort.abort();
        }
        if (signal) reject(abortReason(signal));
      };
      if (signal) unwatch = this.#watch(signal, onAbort);
      joined.promise.then(
        (value) => {
          leave();
          resolve(value);
        },
        (error: unknown) => {
          leave();
          reject(
            error instanceof Error
              ? error
              : new DnsError('NETWORK', `DNS query failed: ${String(error)}`, { cause: error }),
          );
        },
      );
    });
  }

  /**
   * Calls `onAbort` when `signal` aborts, until the returned function is called. One listener per
   * signal, however many callers wait with it: in a bulk run thousands of lookups wait with the run's
   * one signal, and `EventTarget` walks its listeners on every add and remove.
   */
  #watch(signal: AbortSignal, onAbort: () => void): () => void {
    let watched = this.#watched.get(signal);
    if (watched === undefined) {
      const callers = new Set<() => void>();
      const abortAll = (): void => {
        this.#watched.delete(signal);
        for (const caller of [...callers]) caller();
      };
      watched = { callers, abortAll };
      this.#watched.set(signal, watched);
      signal.addEventListener('abort', abortAll, { once: true });
    }
    const entry = watched;
    entry.callers.add(onAbort);
    return () => {
      entry.callers.delete(onAbort);
      if (entry.callers.size === 0 && this.#watched.get(signal) === entry) {
        this.#watched.delete(signal);
        signal.removeEventListener('abort', entry.abortAll);
      }
    };
  }
}
