/**
 * Job lists sent to `rcpt serve` as an attacker would, for the upload attack test
 * (test/reliability/http-attacks.test.ts) and `npm run bench:upload`: any size or count of addresses, in
 * 64 KiB chunks generated as they go (never held whole), chunked or with `Content-Length`, JSON, text or
 * CSV; the sender stops writing once the server answers. `streamed()` is a small body sent the same way,
 * in chunks without a length, for the route tests' limits.
 */
import { request } from 'node:http';

export interface Kind {
  /** The route it is sent to. Default `/v1/jobs`. */
  readonly path?: string;
  readonly type: string;
  readonly head: string;
  readonly separator: string;
  readonly tail: string;
  readonly quote: (address: string) => string;
}

/** `{"emails": [...]}`, the list the upload attack test sends. */
export const JSON_LIST: Kind = {
  type: 'application/json',
  head: '{"emails":[',
  separator: ',',
  tail: ']}',
  quote: (address) => JSON.stringify(address),
};

/** Reacher's `{"input": [...]}` to `POST /v1/bulk`. */
export const REACHER_BULK_LIST: Kind = {
  path: '/v1/bulk',
  type: 'application/json',
  head: '{"input":[',
  separator: ',',
  tail: ']}',
  quote: (address) => JSON.stringify(address),
};

/** One address a line. */
export const TEXT_LIST: Kind = {
  type: 'text/plain',
  head: '',
  separator: '\n',
  tail: '\n',
  quote: (address) => address,
};

export const LIST_KINDS: Record<string, Kind> = {
  json: JSON_LIST,
  text: TEXT_LIST,
  csv: { type: 'text/csv', head: 'email\n', separator: '\n', tail: '\n', quote: (address) => address },
};

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** Bytes sent before the answer. */
  readonly sent: number;
}

/**
 * Sends `count` addresses (`address`, or `address` numbered when `numbered`) or as many as fit in
 * `size` bytes, in 64 KiB chunks generated as they go; stops writing once the server answers; `ownConnection`: on a connection of its own, not the kept-alive one.
 */
export function sendList(
  base: string,
  key: string,
  kind: Kind,
  shape: { readonly size?: number; readonly count?: number; readonly long: boolean },
  contentLength: boolean,
  ownConnection = false,
): Promise<Answer> {
  const address = (i: number) => (shape.long ? `${'x'.repeat(1000)}@pub.test` : `u${i}@pub.test`);
  // The long addresses are all alike: one chunk of them is built once and sent again and again.
  const longItem = Buffer.from(`${kind.quote(address(0))}${kind.separator}`);
  const perChunk = Math.floor((64 * 1024) / longItem.length);
  const longChunk = Buffer.from(longItem.toString().repeat(perChunk));
  const head = Buffer.from(kind.head);
  const last = Buffer.from(`${kind.quote(address(0))}${kind.tail}`);
  let total = 0;
  if (shape.long && shape.size !== undefined) {
    total =
      head.length +
      Math.floor((shape.size - head.length - last.length) / longChunk.length) * longChunk.length +
      last.length;
  }
  return new Promise((resolve, reject) => {
    let answered = false;
    let sent = 0;
    const req = request(
      `${base}${kind.path ?? '/v1/jobs'}`,
      {
        method: 'POST',
        // A connection of its own when asked: a refused upload's connection may be closed once answered.
        ...(ownConnection ? { agent: false } : {}),
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': kind.type,
          ...(contentLength ? { 'content-length': String(total) } : {}),
        },
      },
      (res) => {
        answered = true;
        let body = '';
        res.on('data', (data: Buffer) => (body += data.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, sent });
        });
        res.on('error', reject);
      },
    );
    req.on('error', (error) => {
      // The server closes the connection after its 413: writing on is an EPIPE / reset, not a failure.
      if (!answered) reject(error);
    });
    const write = (data: Buffer): Promise<void> =>
      new Promise((done) => {
        sent += data.length;
        if (req.write(data)) done();
        else req.once('drain', done);
      });
    const open = () => !answered && !req.destroyed;
    void (async () => {
      await write(head);
      if (shape.long && shape.size !== undefined) {
        for (
          let at = head.length + last.length;
          at + longChunk.length <= total && open();
          at += longChunk.length
        ) {
          await write(longChunk);
        }
      } else {
        const count = shape.count ?? 0;
        let pending: string[] = [];
        for (let i = 1; i < count && open(); i += 1) {
          pending.push(`${kind.quote(address(i))}${kind.separator}`);
          if (pending.length === 4096) {
            await write(Buffer.from(pending.join('')));
            pending = [];
          }
        }
        if (pending.length > 0 && open()) await write(Buffer.from(pending.join('')));
      }
      if (open()) req.end(last);
    })();
  });
}

/** `text` as a request body in chunks of 500 bytes, without a length: the server counts it as it arrives. */
export function streamed(text: string): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const bytes = new TextEncoder().encode(text);
      for (let at = 0; at < bytes.length; at += 500) controller.enqueue(bytes.subarray(at, at + 500));
      controller.close();
    },
  });
}
