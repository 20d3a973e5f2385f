import { abortReason } from './transport.js';

interface Flight<T> {
  readonly promise: Promise<T>;
  readonly controller: AbortController;
  waiters: number;
}

/**
 * Concurrent lookups of one key share one query. The shared query runs on its own signal, aborted
 * only when every caller waiting for it has given up (or by `abortAll()`); a caller that gives up
 * rejects with its own signal's reason.
 */
export class InFlightQueries<T> {
  readonly #inflight = new Map<string, Flight<T>>();
  /** Lookups that joined a query already in flight. */
  shared = 0;

  /** Waits for the query under `key`, starting it with `start` when none is in flight. */
  run(key: string, start: (signal: AbortSignal) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
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
    for (const flight of this.#inflight.values()) flight.controller.abort(reason);
    this.#inflight.clear();
  }

  #start(key: string, start: (signal: AbortSignal) => Promise<T>): Flight<T> {
    const controller = new AbortController();
    const promise = start(controller.signal).finally(() => {
      if (this.#inflight.get(key) === created) this.#inflight.delete(key);
    });
    // Nobody may be listening when the last waiter leaves and the query is aborted.
    promise.catch(() => undefined);
    const created: Flight<T> = { promise, controller, waiters: 0 };
    this.#inflight.set(key, created);
    return created;
  }

  #join(key: string, joined: Flight<T>, signal: AbortSignal | undefined): Promise<T> {
    joined.waiters++;
    return new Promise<T>((resolve, reject) => {
      const leave = (): void => {
        signal?.removeEventListener('abort', onAbort);
        joined.waiters--;
      };
      const onAbort = (): void => {
        leave();
        if (joined.waiters === 0) {
          if (this.#inflight.get(key) === joined) this.#inflight.delete(key);
          joined.controller.abort();
        }
        if (signal) reject(abortReason(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      joined.promise.then(
        (value) => {
          leave();
          resolve(value);
        },
        (error: unknown) => {
          leave();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }
}
