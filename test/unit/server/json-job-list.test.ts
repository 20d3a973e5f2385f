/**
 * A JSON job body read as it streams (src/server/json-job-list.ts): addresses in order whatever the
 * chunking, the other fields wherever they stand, every malformed or hostile shape a 400 or 413 saying
 * what, read no further than needed, and a list far larger than the heap read in bounded memory.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { HttpError } from '../../../src/server/http-error.js';
import {
  MAX_DEPTH,
  MAX_FIELDS_CHARS,
  MAX_VALUE_CHARS,
  readJsonJobList,
} from '../../../src/server/json-job-list.js';

/** `text` as chunks of `size` bytes. */
function* chunks(text: string | Uint8Array, size: number): Generator<Uint8Array> {
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  for (let start = 0; start < bytes.length; start += size) yield bytes.subarray(start, start + size);
}

/** `parts` as an asynchronous stream, as a request body gives them. */
async function* from(parts: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const part of parts) {
    await Promise.resolve();
    yield part;
  }
}

async function read(text: string | Uint8Array, size = 7, maxAddresses = 1_000) {
  const emails: string[] = [];
  const list = await readJsonJobList(from(chunks(text, size)), {
    maxAddresses,
    onAddresses: (addresses) => {
      emails.push(...addresses);
      return Promise.resolve();
    },
  });
  return { emails, count: list.count, fields: list.fields };
}

/** Rejects with an HttpError of `status` whose message matches `message`. */
async function refused(
  text: string | Uint8Array,
  status: number,
  message: RegExp,
  options: { size?: number; maxAddresses?: number } = {},
): Promise<void> {
  await assert.rejects(
    read(text, options.size ?? 7, options.maxAddresses ?? 1_000),
    (error) => {
      assert.ok(error instanceof HttpError, `not an HttpError: ${String(error)}`);
      assert.equal(error.status, status, error.message);
      assert.match(error.message, message);
      return true;
    },
    typeof text === 'string' ? text.slice(0, 80) : 'bytes',
  );
}

describe('readJsonJobList', () => {
  it('hands on the addresses in order, and the name and webhook wherever they stand, in one chunk or byte by byte', async () => {
    const body =
      '{"webhook": {"url": "https://h.test/x", "events": ["end"]}, "emails": ["a@x.test", "ü@exämple.test", "b\\n@x.test", "\\u00e9@x.test"], "other": [1, {"a": null}], "name": "n"}';
    for (const size of [1, 2, 7, 1 << 20]) {
      const { emails, count, fields } = await read(body, size);
      assert.deepEqual(emails, ['a@x.test', 'ü@exämple.test', 'b\n@x.test', 'é@x.test'], `size ${size}`);
      assert.equal(count, 4);
      assert.deepEqual(fields, { webhook: { url: 'https://h.test/x', events: ['end'] }, name: 'n' });
    }
  });

  it('refuses malformed JSON (truncated, a stray comma, trailing bytes, not UTF-8 JSON) with a 400 saying so', async () => {
    for (const [body, message] of [
      ['{"emails": [', /^Malformed JSON: the body ends before its object does/],
      ['{"emails": ["a@x.test"', /^Malformed JSON/],
      ['{"emails": ["a@x.te', /^Malformed JSON/],
      ['{"emails": ["a@x.test",]}', /^Malformed JSON/],
      ['{"emails": ["a@x.test"]} trailing', /^Malformed JSON/],
      ['{"emails": ["a@x.test"]}{}', /^Malformed JSON/],
      ["{'emails': ['a@x.test']}", /^Malformed JSON/],
      ['{"emails" ["a@x.test"]}', /^Malformed JSON/],
    ] as const) {
      for (const size of [1, 64]) await refused(body, 400, message, { size });
    }
    await refused('', 400, /^The body is empty/);
    // UTF-16, as some Windows tools write it: not the UTF-8 that JSON over HTTP is (RFC 8259 §8.1).
    await refused(Buffer.from('\ufeff{"emails": ["a@x.test"]}', 'utf16le'), 400, /^Malformed JSON/);
  });

  it('refuses a body of the wrong shape or types, naming what is wrong', async () => {
    for (const [body, message] of [
      ['["a@x.test"]', /must be a JSON object \{"emails": \["…", …\]\}, not an array/],
      ['"a@x.test"', /must be a JSON object .*, not a string/],
      ['42', /must be a JSON object .*, not a number/],
      ['null', /must be a JSON object .*, not null/],
      ['{"list": ["a@x.test"]}', /^"emails" is missing/],
      ['{}', /^"emails" is missing/],
      ['{"emails": []}', /^"emails" is empty/],
      ['{"emails": "a@x.test"}', /^"emails" must be an array of addresses, not a string/],
      ['{"emails": {"a": "a@x.test"}}', /^"emails" must be an array of addresses, not an object/],
      ['{"emails": null}', /^"emails" must be an array of addresses, not null/],
      ['{"emails": ["a@x.test", 7]}', /^"emails"\[1\] is a number, not a string/],
      ['{"emails": [null]}', /^"emails"\[0\] is null, not a string/],
      ['{"emails": ["a@x.test", ["b@x.test"]]}', /^"emails"\[1\] is an array, not a string/],
      ['{"emails": [{"email": "a@x.test"}]}', /^"emails"\[0\] is an object, not a string/],
      ['{"emails": [true]}', /^"emails"\[0\] is a boolean, not a string/],
      ['{"emails": ["a@x.test"], "emails": ["b@x.test"]}', /^"emails" is given twice/],
    ] as const) {
      await refused(body, 400, message);
    }
  });

  it('refuses a string or number longer than the limit as it grows, reading no further', async () => {
    // 10 MB in one string: refused after the chunk that crosses the limit, not once it has arrived.
    for (const [head, filler] of [
      ['{"emails": ["', 'a'],
      ['{"name": "', 'n'],
      ['{"emails": ["a@x.test"], "name": 1', '1'],
    ] as const) {
      let pulled = 0;
      const source = (function* () {
        yield new TextEncoder().encode(head);
        for (let i = 0; i < 160; i++) {
          pulled += 1;
          yield new TextEncoder().encode(filler.repeat(64 * 1024));
        }
      })();
      await assert.rejects(
        readJsonJobList(from(source), { maxAddresses: 10, onAddresses: () => Promise.resolve() }),
        (error) =>
          error instanceof HttpError &&
          error.status === 400 &&
          new RegExp(`longer than ${MAX_VALUE_CHARS} characters`).test(error.message),
      );
      assert.ok(pulled <= 2, `${head}: ${pulled} chunks of 64 KiB read`);
    }
    // A long value that fits in one chunk is refused too.
    await refused(`{"emails": ["${'a'.repeat(MAX_VALUE_CHARS + 1)}"]}`, 400, /longer than/, {
      size: 1 << 20,
    });
    // At the limit, it is read (an address that long is verified as invalid later, as a text row is).
    const { emails } = await read(`{"emails": ["${'a'.repeat(MAX_VALUE_CHARS)}"]}`, 4096);
    assert.equal(emails[0]?.length, MAX_VALUE_CHARS);
  });

  it('refuses nesting deeper than the limit at its first bracket over it, wherever it is', async () => {
    for (const head of ['', '{"other": ', '{"webhook": {"headers": ']) {
      let pulled = 0;
      const source = (function* () {
        yield new TextEncoder().encode(head);
        for (let i = 0; i < 1_000; i++) {
          pulled += 1;
          yield new TextEncoder().encode('['.repeat(1024));
        }
      })();
      await assert.rejects(
        readJsonJobList(from(source), { maxAddresses: 10, onAddresses: () => Promise.resolve() }),
        (error) =>
          error instanceof HttpError &&
          error.status === 400 &&
          (head === ''
            ? /must be a JSON object/.test(error.message)
            : new RegExp(`nested deeper than ${MAX_DEPTH} levels`).test(error.message)),
      );
      assert.equal(pulled, 1, head);
    }
    await refused(`{"x": ${'{"a": '.repeat(MAX_DEPTH)}1${'}'.repeat(MAX_DEPTH)}}`, 400, /nested deeper/);
    // Up to the limit, an unknown field is read and ignored.
    const depth = MAX_DEPTH - 1;
    const { emails, fields } = await read(
      `{"x": ${'['.repeat(depth)}1${']'.repeat(depth)}, "emails": ["a@x.test"]}`,
    );
    assert.deepEqual([emails, fields], [['a@x.test'], {}]);
  });

  it('holds everything beside the list to a budget: a 413 past it', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => `"k${i}": ${i}`).join(', ');
    await refused(
      `{"emails": ["a@x.test"], ${many}}`,
      413,
      new RegExp(`beside "emails" may be ${MAX_FIELDS_CHARS} characters`),
      { size: 4096 },
    );
    const headers = Array.from({ length: 2_000 }, (_, i) => `"h${i}": "${'v'.repeat(40)}"`).join(', ');
    await refused(
      `{"webhook": {"url": "https://h.test/", "headers": {${headers}}}, "emails": ["a@x.test"]}`,
      413,
      /beside "emails"/,
      { size: 4096 },
    );
  });

  it('refuses one address over the count limit with a 413, having handed on no more than the limit', async () => {
    const body = `{"emails": [${Array.from({ length: 30 }, (_, i) => `"u${i}@x.test"`).join(', ')}]}`;
    let handed = 0;
    await assert.rejects(
      readJsonJobList(from(chunks(body, 16)), {
        maxAddresses: 20,
        onAddresses: (addresses) => {
          handed += addresses.length;
          return Promise.resolve();
        },
      }),
      (error) =>
        error instanceof HttpError &&
        error.status === 413 &&
        error.message === 'At most 20 addresses per job',
    );
    assert.ok(handed <= 20, `${handed} handed on`);
    assert.equal((await read(body, 16, 30)).count, 30);
  });

  it('reads a 200 MiB list in bounded memory (a child process with a 64 MB heap)', () => {
    // 10.5 million addresses: held whole (or the body parsed whole) they would need several times
    // the child's heap, which would die.
    const script = `
      import { readJsonJobList } from './src/server/json-job-list.ts';
      const item = Buffer.from('"user@example.test",'.repeat(52_429));
      async function* source() {
        yield Buffer.from('{"name": "big", "emails": [');
        for (let i = 0; i < 200; i++) yield item;
        yield Buffer.from('"last@example.test"], "webhook": {"url": "https://h.test/"}}');
      }
      let last = '';
      const list = await readJsonJobList(source(), {
        maxAddresses: 20_000_000,
        onAddresses: async (addresses) => { last = addresses.at(-1) ?? last; },
      });
      console.log(JSON.stringify([list.count, last, list.fields]));
    `;
    const child = spawnSync(
      process.execPath,
      ['--max-old-space-size=64', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: new URL('../../..', import.meta.url), encoding: 'utf8' },
    );
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout.trim()), [
      200 * 52_429 + 1,
      'last@example.test',
      { name: 'big', webhook: { url: 'https://h.test/' } },
    ]);
  });
});
