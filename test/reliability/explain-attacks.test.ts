/**
 * Text built to make explaining it slow, through a real `rcpt serve` (`POST /v1/explain`, bodies at
 * its 64 KiB limit) and the real `rcpt explain FILE` (1 MiB, the most of a text it reads): a long run
 * of white space inside a line, and a reply followed by thousands of wrapped lines. The reply reader
 * was quadratic in both (a trailing-white-space regex tried from every position of the run; the reply's
 * text trimmed whole again at each wrapped line): 2.7–4.6 s of CPU per 64 KiB request at load 3–5
 * machine (22 s at load 19), the server answering nobody else meanwhile, and minutes for the file. The
 * bounds below are 7 times and more what the linear reader took at load 19, and far below what the
 * quadratic one took. Also text that is all lines, read as a message by postal-mime, which built a
 * Blob per line until 4.1 (64 KiB of empty lines: 5.5 s at load 14, 63 ms with 4.2.0).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { rcptProcess } from '../helpers/rcpt-process.js';
import { startServe, type ServeChild } from './helpers/serve-child.js';

const KEY = 'keyA-0123456789abcdef';
/** The body limit of every route but job uploads (DEFAULT_MAX_BODY_BYTES). */
const BODY_LIMIT = 64 * 1024;
/** The most `rcpt explain` reads of a text (MAX_INPUT_CHARS). */
const TEXT_LIMIT = 1024 * 1024;
const REQUEST_BOUND_MS = 3_000;
const FILE_BOUND_MS = 60_000;

/** The shapes with no reply in them (the others have one, or are one). */
const WITHOUT_REPLY = new Set(['blank lines', 'a message of blank lines', 'a message of short lines']);

/** The slow shapes, each `size` characters long. */
function shapes(size: number): Record<string, string> {
  return {
    'a run of tabs inside a line': `<${'\t'.repeat(size - 2)}x`,
    'a run of spaces after a reply code': `550 ${' '.repeat(size - 5)}x`,
    'a reply and its wrapped lines': `550 ${'X:\n'.repeat(Math.floor((size - 5) / 3))}x`,
    // postal-mime 4.0.0 built a Blob per line of a message: seconds for 64 KiB of empty lines.
    'blank lines': '\n'.repeat(size),
    'a message of blank lines': `Subject: x\n\n${'\n'.repeat(size - 12)}`,
    'a message of short lines': `Subject: x\n\n${'a\n'.repeat(Math.floor((size - 12) / 2))}`,
  };
}

let dir: string;
let server: ServeChild;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-explain-attacks-'));
  server = await startServe(['--db', join(dir, 'jobs.db')], { RCPT_API_KEYS: KEY });
});
after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('explaining text built to be slow', () => {
  it(`POST /v1/explain: 64 KiB of white space or wrapped lines, as text and as JSON, each answered within ${REQUEST_BOUND_MS} ms`, async () => {
    const json = shapes(BODY_LIMIT / 2 - 32);
    for (const [name, text] of Object.entries(shapes(BODY_LIMIT - 32))) {
      for (const [type, body] of [
        ['text/plain', text],
        // Half as long: JSON writes a tab or a line break as two bytes.
        ['application/json', JSON.stringify({ reply: json[name] })],
      ] as const) {
        const started = performance.now();
        const response = await fetch(`${server.url}/v1/explain`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': type },
          body,
        });
        const ms = performance.now() - started;
        const answer = (await response.json()) as { explanations?: unknown[] };
        assert.equal(response.status, 200, `${name} (${type}): ${JSON.stringify(answer).slice(0, 200)}`);
        assert.ok(Array.isArray(answer.explanations));
        if (!WITHOUT_REPLY.has(name)) assert.ok(answer.explanations.length > 0, name);
        assert.ok(ms < REQUEST_BOUND_MS, `${name} (${type}): answered in ${ms.toFixed(0)} ms`);
      }
    }
  });

  it(`rcpt explain FILE: 1 MiB of white space or wrapped lines, each explained within ${FILE_BOUND_MS / 1000} s`, async () => {
    for (const [name, text] of Object.entries(shapes(TEXT_LIMIT))) {
      const file = join(dir, 'reply.txt');
      await writeFile(file, text);
      const outcome = await rcptProcess(['explain', file], { timeoutMs: FILE_BOUND_MS });
      assert.equal(outcome.signal, null, `${name}: not explained within ${FILE_BOUND_MS / 1000} s`);
      // 0: a reply explained; 1: no reply found in it. Never a crash.
      assert.ok(outcome.code === 0 || outcome.code === 1, `${name}: exit ${outcome.code}: ${outcome.stderr}`);
      if (!WITHOUT_REPLY.has(name)) assert.match(outcome.stdout, /rcpt explain: \d+ repl/);
    }
  });
});
