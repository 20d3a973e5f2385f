import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { InFlightQueries, QueryAbort } from '../../../src/dns/in-flight-queries.js';
import { DnsError, isVerifyError } from '../../../src/errors.js';
import { abortReason, type AbortWatch } from '../../../src/dns/transport.js';

/** A query the test ends by hand, recording the signal it ran on. */
function manualQuery() {
  const started: AbortWatch[] = [];
  let finish: (value: string) => void = () => undefined;
  const start = (signal: AbortWatch) => {
    started.push(signal);
    return new Promise<string>((resolve, reject) => {
      finish = resolve;
      signal.addEventListener('abort', () => {
        reject(new Error('query aborted'));
      });
    });
  };
  return {
    started,
    start,
    finish: (value: string) => {
      finish(value);
    },
  };
}

describe('InFlightQueries', () => {
  it('runs one query for concurrent callers of the same key, and a new one after it ends', async () => {
    const queries = new InFlightQueries<string>();
    const query = manualQuery();
    const first = queries.run('A a.test', query.start, undefined);
    const second = queries.run('A a.test', query.start, undefined);
    assert.equal(query.started.length, 1);
    assert.equal(queries.shared, 1);
    query.finish('answer');
    assert.deepEqual(await Promise.all([first, second]), ['answer', 'answer']);
    const third = queries.run('A a.test', query.start, undefined);
    assert.equal(query.started.length, 2);
    query.finish('again');
    assert.equal(await third, 'again');
  });

  it("rejects every caller with the query's Error as it is, and a non-Error as a DnsError of the library", async () => {
    const queries = new InFlightQueries<string>();
    const failure = new Error('socket gone');
    await assert.rejects(
      queries.run('A a.test', () => Promise.reject(failure), undefined),
      (error) => error === failure,
    );
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what is tested
    const thrown = () => Promise.reject('not an error');
    const callers = [queries.run('A b.test', thrown, undefined), queries.run('A b.test', thrown, undefined)];
    for (const caller of callers) {
      await assert.rejects(caller, (error: unknown) => {
        // Before: a plain Error, which is no VerifyError (every error rcpt throws is one).
        assert.ok(error instanceof DnsError, String(error));
        assert.ok(isVerifyError(error));
        assert.equal(error.code, 'ERR_RCPT_DNS');
        assert.equal(error.kind, 'NETWORK');
        assert.equal(error.message, 'DNS query failed: not an error');
        assert.equal(error.cause, 'not an error');
        return true;
      });
    }
  });

  it('keeps the query going while one caller still waits; aborts it when the last gives up', async () => {
    const queries = new InFlightQueries<string>();
    const query = manualQuery();
    const a = new AbortController();
    const b = new AbortController();
    const first = queries.run('MX a.test', query.start, a.signal);
    const second = queries.run('MX a.test', query.start, b.signal);
    a.abort(new Error('caller a gave up'));
    await assert.rejects(first, /caller a gave up/);
    assert.equal(query.started[0]?.aborted, false);
    b.abort(new Error('caller b gave up'));
    await assert.rejects(second, /caller b gave up/);
    assert.equal(query.started[0]?.aborted, true);
  });

  it('listens once to a signal that many callers of several queries wait with, and stops after', async () => {
    const queries = new InFlightQueries<string>();
    const mx = manualQuery();
    const a = manualQuery();
    const run = new AbortController();
    const waiting = [
      ...Array.from({ length: 50 }, () => queries.run('MX a.test', mx.start, run.signal)),
      ...Array.from({ length: 50 }, () => queries.run('A a.test', a.start, run.signal)),
    ];
    assert.equal(getEventListeners(run.signal, 'abort').length, 1);
    mx.finish('mx');
    await Promise.all(waiting.slice(0, 50));
    assert.equal(getEventListeners(run.signal, 'abort').length, 1);
    a.finish('a');
    await Promise.all(waiting);
    assert.equal(getEventListeners(run.signal, 'abort').length, 0);
  });

  it('rejects every caller waiting with a signal when it aborts, and aborts their queries', async () => {
    const queries = new InFlightQueries<string>();
    const mx = manualQuery();
    const a = manualQuery();
    const run = new AbortController();
    const other = new AbortController();
    const first = queries.run('MX a.test', mx.start, run.signal);
    const second = queries.run('A a.test', a.start, run.signal);
    const third = queries.run('A a.test', a.start, other.signal);
    run.abort(new Error('run stopped'));
    await assert.rejects(first, /run stopped/);
    await assert.rejects(second, /run stopped/);
    assert.equal(mx.started[0]?.aborted, true);
    // Another caller still waits for the A query: it goes on.
    assert.equal(a.started[0]?.aborted, false);
    a.finish('a');
    assert.equal(await third, 'a');
    assert.equal(getEventListeners(run.signal, 'abort').length, 0);
    assert.equal(getEventListeners(other.signal, 'abort').length, 0);
  });

  it('abortAll() rejects every caller with the reason', async () => {
    const queries = new InFlightQueries<string>();
    const query = manualQuery();
    const pending = queries.run('A a.test', query.start, undefined);
    queries.abortAll(new Error('closed'));
    assert.equal(query.started[0]?.aborted, true);
    await assert.rejects(pending, /query aborted/);
  });
});

describe('QueryAbort', () => {
  it('calls its listeners once, in the order added, as an AbortSignal does', () => {
    const abort = new QueryAbort();
    const calls: string[] = [];
    const first = (): void => {
      calls.push('first');
    };
    const removed = (): void => {
      calls.push('removed');
    };
    abort.addEventListener('abort', first);
    abort.addEventListener('abort', first);
    abort.addEventListener('abort', removed);
    abort.addEventListener('abort', {
      handleEvent: () => {
        calls.push('object');
      },
    });
    abort.removeEventListener('abort', removed);
    assert.equal(abort.aborted, false);
    abort.abort();
    abort.abort(new Error('again'));
    abort.addEventListener('abort', () => {
      calls.push('late');
    });
    assert.deepEqual(calls, ['first', 'object']);
    assert.equal(abort.aborted, true);
    // No reason given: an AbortError, as AbortController.abort() makes.
    assert.ok(abort.reason instanceof DOMException);
    assert.equal(abort.reason.name, 'AbortError');
    assert.equal(abortReason(abort), abort.reason);
  });

  it('keeps the reason it is given', () => {
    const abort = new QueryAbort();
    const reason = new Error('resolver closed');
    abort.abort(reason);
    assert.equal(abortReason(abort), reason);
  });
});
