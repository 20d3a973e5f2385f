/**
 * The seeded fuzz properties of issue 9, shared by the short run in `npm test`
 * (test/reliability/fuzz.test.ts) and the full run of `npm run fuzz` (bench/fuzz.ts, ≥100,000 inputs
 * per parser). Each target returns what it measured; a broken invariant throws fast-check's report
 * (seed, path and the shrunk counterexample), so a failure can be replayed.
 *
 * - parseAddress: total (never throws), bounded time per input, accepted addresses round-trip.
 * - ReplyParser: total, the same replies whatever the chunking, buffered bytes never above the caps.
 * - openInput (CSV/list reader): only `InputError` escapes, always ends, row numbers 1..n in order,
 *   line numbers increasing, over-long lines reported not kept, the same rows whatever the chunking.
 * - The HTTP app: random methods, routes, headers and bodies are answered, never with a 5xx.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import fc from 'fast-check';

import { startDnsServer } from '../../src/demo/dns-server.js';
import { createVerifier, parseAddress } from '../../src/index.js';
import { InputError, openInput, openSqliteJobStore } from '../../src/jobs/index.js';
import type { InputRow } from '../../src/jobs/index.js';
import { createApp } from '../../src/server/app.js';
import { createJobsBackend } from '../../src/server/jobs-backend.js';
import { createLogger } from '../../src/server/logger.js';
import { ReplyParser, type ReplyParserLimits, type SmtpReply } from '../../src/smtp/reply-parser.js';

export interface FuzzSettings {
  /** Generated inputs. */
  readonly runs: number;
  readonly seed: number;
}

export interface FuzzReport {
  readonly target: string;
  readonly runs: number;
  readonly seed: number;
  /** Slowest single input, in milliseconds. */
  readonly maxMs: number;
  readonly totalMs: number;
  /** Target-specific counts (valid addresses, replies, rows, statuses …). */
  readonly counts: Readonly<Record<string, number>>;
}

/**
 * Longest any one input may take: a hang detector, not a speed target (those live in bench/). Inputs
 * need micro- to milliseconds; 1 s leaves room for a loaded CI machine and still catches a hang.
 */
export const MAX_MS_PER_INPUT = 1_000;

function timed<T>(work: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = work();
  return { value, ms: performance.now() - started };
}

function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

// ---------------------------------------------------------------------------------------------------
// parseAddress

const localPiece = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.constantFrom('a', 'bob', 'J.Doe', 'x+tag', "o'r", 'ü', '用户', '😀', '_', '0'),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '.',
      '..',
      '"',
      '\\',
      ' ',
      '(c)',
      ',',
      '\u0000',
      '\r\n',
      '\u00a0',
      '\ud800',
      '@',
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
);
const label = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.constantFrom('example', 'com', 'test', 'x', 'a-b', '123', 'xn--bcher-kva', 'bücher'),
  },
  { weight: 3, arbitrary: fc.constantFrom('', '-a', 'a-', 'xn--zz', 'ｅ', '☃', 'ß', 'a_b', 'EXAMPLE', '٣') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 80 }).map((n) => 'l'.repeat(n)) },
);
const domainPart = fc.oneof(
  { weight: 8, arbitrary: fc.array(label, { minLength: 1, maxLength: 6 }).map((l) => l.join('.')) },
  {
    weight: 1,
    // Special-purpose addresses only: the HTTP target verifies what it is sent, and a public one (this
    // list had ::ffff:1.2.3.4) is probed, off this machine (the loopback guard refused it).
    arbitrary: fc.constantFrom(
      '[192.0.2.1]',
      '[127.0.0.1]',
      '[IPv6:2001:db8::1]',
      '[IPv6:::ffff:192.0.2.4]',
      '[300.1.1.1]',
      '[IPv6:1::2::3]',
      '[x:y]',
      '[]',
    ),
  },
);
/** Inputs shaped like addresses (to reach the valid path and every error path) and raw noise. */
export const addressInput = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.oneof(
          {
            weight: 5,
            arbitrary: fc.array(localPiece, { minLength: 1, maxLength: 8 }).map((p) => p.join('')),
          },
          {
            weight: 1,
            arbitrary: fc
              .array(fc.constantFrom('a', ' ', '\\"', '\\\\', '@', 'ü', '.', '\t', '('), { maxLength: 6 })
              .map((p) => `"${p.join('')}"`),
          },
        ),
        domainPart,
      )
      .map(([local, domain]) => `${local}@${domain}`),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 120 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }) },
  // Long inputs: length limits and anything quadratic.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('a', '.', '"', '\\', '@', 'x.', '-', 'ü'), fc.integer({ min: 100, max: 5_000 }))
      .map(([piece, n]) => piece.repeat(n)),
  },
);

export function fuzzParseAddress(settings: FuzzSettings): FuzzReport {
  const counts: Record<string, number> = {};
  let maxMs = 0;
  const started = performance.now();
  fc.assert(
    fc.property(addressInput, (input) => {
      const { value: result, ms } = timed(() => parseAddress(input));
      maxMs = Math.max(maxMs, ms);
      if (ms > MAX_MS_PER_INPUT) throw new Error(`parseAddress took ${ms.toFixed(1)} ms`);
      if (!result.valid) {
        bump(counts, `invalid:${result.error?.code ?? '?'}`);
        if (result.error === null || result.localPart !== null) throw new Error('invalid without an error');
        return;
      }
      bump(counts, 'valid');
      // Round trip: the normalised address parses to the same parts.
      const again = parseAddress(`${result.localPart ?? ''}@${result.domain ?? ''}`);
      if (
        !again.valid ||
        again.localPart !== result.localPart ||
        again.domain !== result.domain ||
        again.asciiDomain !== result.asciiDomain ||
        again.smtputf8 !== result.smtputf8
      ) {
        throw new Error(`no round trip: ${JSON.stringify(result)} → ${JSON.stringify(again)}`);
      }
      // The A-label form parses to the same domain too.
      const ascii = parseAddress(`${result.localPart ?? ''}@${result.asciiDomain ?? ''}`);
      if (!ascii.valid || ascii.asciiDomain !== result.asciiDomain) {
        throw new Error(`A-label form differs: ${JSON.stringify(ascii)}`);
      }
    }),
    { numRuns: settings.runs, seed: settings.seed },
  );
  return { target: 'parseAddress', ...settings, maxMs, totalMs: performance.now() - started, counts };
}

// ---------------------------------------------------------------------------------------------------
// SMTP reply parser

const encoder = new TextEncoder();
const replyText = fc.oneof(
  fc.constantFrom('Ok', '2.1.5 Ok', '5.1.1 <a@b.test>: User unknown', 'mx.test ESMTP', 'PIPELINING', ''),
  fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' ')),
);
/** A well-formed reply on the wire: code, continuation lines, CRLF or bare LF. */
const wireReply = fc
  .tuple(
    fc.integer({ min: 200, max: 559 }).filter((code) => Math.floor(code / 10) % 10 <= 5),
    fc.array(replyText, { minLength: 1, maxLength: 5 }),
    fc.boolean(),
  )
  .map(([code, texts, bareLf]) => {
    const end = bareLf ? '\n' : '\r\n';
    return texts.map((text, i) => `${code}${i === texts.length - 1 ? ' ' : '-'}${text}${end}`).join('');
  });
/** Bytes a broken or hostile server may send. */
const hostileChunk = fc.oneof(
  { weight: 4, arbitrary: wireReply.map((text) => encoder.encode(text)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      ...['250-', '250 ', '550 5.1.1 ', '\r\n', '\n', '\r', '220', '\u00ff', '421 '].map((s) =>
        encoder.encode(s),
      ),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 3_000 }).map((n) => encoder.encode('250-' + 'y'.repeat(n))),
  },
);

/** Feeds `bytes` cut at `cuts`; returns the replies and whether the stream failed. */
function parseChunked(
  bytes: Uint8Array,
  cuts: readonly number[],
  limits: Partial<ReplyParserLimits>,
): { replies: SmtpReply[]; failed: boolean; maxBuffered: number } {
  const parser = new ReplyParser(limits);
  const replies: SmtpReply[] = [];
  let failed = false;
  let maxBuffered = 0;
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut < start) continue;
    const out = parser.write(bytes.subarray(start, cut));
    replies.push(...out.replies);
    if (out.error !== null) failed = true;
    maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
    start = cut;
  }
  return { replies, failed, maxBuffered };
}

export function fuzzReplyParser(settings: FuzzSettings): FuzzReport {
  const counts: Record<string, number> = {};
  let maxMs = 0;
  const started = performance.now();
  const limitSets: Partial<ReplyParserLimits>[] = [
    {},
    // Small caps, so the line, line-count and reply-size limits are reached often.
    { maxLineBytes: 64, maxLines: 4, maxReplyBytes: 200 },
  ];
  fc.assert(
    fc.property(
      fc
        .oneof(
          // Clean streams (any number of well-formed replies) and hostile mixes.
          fc.array(
            wireReply.map((text) => encoder.encode(text)),
            { maxLength: 16 },
          ),
          fc.array(hostileChunk, { maxLength: 24 }),
        )
        .map((pieces): readonly Uint8Array[] => pieces),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.nat({ max: 1 }),
      (pieces, rawCuts, limitIndex) => {
        const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
        const bytes = new Uint8Array(total);
        let offset = 0;
        for (const piece of pieces) {
          bytes.set(piece, offset);
          offset += piece.length;
        }
        const limits = limitSets[limitIndex] ?? {};
        const cuts = [...new Set(rawCuts.map((cut) => (total === 0 ? 0 : cut % (total + 1))))].sort(
          (a, b) => a - b,
        );
        const { value: whole, ms } = timed(() => parseChunked(bytes, [], limits));
        const chunked = parseChunked(bytes, cuts, limits);
        const byteByByte = parseChunked(
          bytes,
          Array.from({ length: total }, (_, i) => i),
          limits,
        );
        maxMs = Math.max(maxMs, ms);
        if (ms > MAX_MS_PER_INPUT) throw new Error(`reply parser took ${ms.toFixed(1)} ms`);
        for (const other of [chunked, byteByByte]) {
          if (
            JSON.stringify(other.replies) !== JSON.stringify(whole.replies) ||
            other.failed !== whole.failed
          ) {
            throw new Error('the replies depend on the chunking');
          }
        }
        const cap = (limits.maxReplyBytes ?? 64 * 1024) + (limits.maxLineBytes ?? 4096);
        for (const run of [whole, chunked, byteByByte]) {
          if (run.maxBuffered > cap) throw new Error(`buffered ${run.maxBuffered} bytes, cap ${cap}`);
        }
        bump(counts, 'replies', whole.replies.length);
        bump(counts, whole.failed ? 'streams failed' : 'streams clean');
      },
    ),
    { numRuns: settings.runs, seed: settings.seed },
  );
  return { target: 'SMTP reply parser', ...settings, maxMs, totalMs: performance.now() - started, counts };
}

// ---------------------------------------------------------------------------------------------------
// CSV / list reader

const csvPiece = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('a@x.test', 'email', 'name', 'E-Mail', 'b@y.test', ' c@z.test ', 'Smith'),
  },
  { weight: 6, arbitrary: fc.constantFrom(',', ';', '\t', '|', '"', '""', '\n', '\r\n', '\r', '\ufeff') },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
);
const csvText = fc.oneof(
  { weight: 30, arbitrary: fc.array(csvPiece, { maxLength: 60 }).map((p) => p.join('')) },
  // Over-long lines (the 65,536-character cap), occasionally.
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.array(csvPiece, { maxLength: 6 }),
        fc.integer({ min: 60_000, max: 140_000 }),
        fc.array(csvPiece, { maxLength: 6 }),
      )
      .map(([head, n, tail]) => `${head.join('')}${'z'.repeat(n)}${tail.join('')}`),
  },
);
const csvInput = fc.oneof(
  { weight: 4, arbitrary: csvText.map((text) => Buffer.from(text, 'utf8')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
);

async function readAll(
  bytes: Buffer,
  cuts: readonly number[],
): Promise<{ rows: InputRow[] | null; error: string | null }> {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let start = 0;
    for (const cut of [...cuts, bytes.length]) {
      if (cut < start) continue;
      yield bytes.subarray(start, cut);
      start = cut;
      await Promise.resolve();
    }
  }
  try {
    const opened = await openInput(chunks());
    const rows: InputRow[] = [];
    for await (const row of opened.rows) rows.push(row);
    return { rows, error: null };
  } catch (error) {
    if (error instanceof InputError) return { rows: null, error: error.message };
    throw error;
  }
}

export async function fuzzCsvReader(settings: FuzzSettings): Promise<FuzzReport> {
  const counts: Record<string, number> = {};
  let maxMs = 0;
  const started = performance.now();
  await fc.assert(
    fc.asyncProperty(csvInput, fc.array(fc.nat(), { maxLength: 6 }), async (bytes, rawCuts) => {
      const t0 = performance.now();
      const whole = await readAll(bytes, []);
      const ms = performance.now() - t0;
      maxMs = Math.max(maxMs, ms);
      if (ms > MAX_MS_PER_INPUT * 4) throw new Error(`reader took ${ms.toFixed(1)} ms`);
      const cuts = [...new Set(rawCuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunked = await readAll(bytes, cuts);
      if (JSON.stringify(chunked) !== JSON.stringify(whole))
        throw new Error('the rows depend on the chunking');
      if (whole.rows === null) {
        bump(counts, 'InputError');
        return;
      }
      // A line ends at LF, CRLF or a lone CR, as the reader reads it (Excel for Mac's CSV).
      const physicalLines = bytes.toString('utf8').split(/\r\n|\r|\n/).length;
      let lastLine = 0;
      for (const [index, row] of whole.rows.entries()) {
        if (row.row !== index + 1) throw new Error(`row ${row.row} at position ${index + 1}`);
        if (row.line <= lastLine || row.line > physicalLines)
          throw new Error(`line ${row.line} after ${lastLine}`);
        lastLine = row.line;
        if (row.input.length > 65_536) throw new Error('an over-long line was kept');
        if (row.error !== null) {
          bump(counts, 'malformed rows');
          if (!row.error.startsWith(`line ${row.line}`))
            throw new Error(`error names the wrong line: ${row.error}`);
        }
      }
      bump(counts, 'rows', whole.rows.length);
    }),
    { numRuns: settings.runs, seed: settings.seed },
  );
  return { target: 'CSV / list reader', ...settings, maxMs, totalMs: performance.now() - started, counts };
}

// ---------------------------------------------------------------------------------------------------
// HTTP request validation

const KEY = 'fuzz-key-0123456789abcdef';
const jsonValue = fc.json({ depthSize: 'small', maxDepth: 6 });
const emailish = fc.oneof(addressInput, fc.constant('a@nx.test'), fc.constant(''));
const jsonBody = fc.oneof(
  { weight: 3, arbitrary: jsonValue },
  {
    weight: 3,
    arbitrary: fc
      .record(
        {
          email: fc.oneof(emailish, fc.anything()),
          emails: fc.oneof(fc.array(emailish, { maxLength: 12 }), fc.anything()),
          to_email: fc.oneof(emailish, fc.anything()),
          from_email: fc.anything(),
          hello_name: fc.anything(),
          smtp_port: fc.anything(),
        },
        { requiredKeys: [] },
      )
      .map((body) => JSON.stringify(body)),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{',
      '[',
      '{"email":',
      '\u0000',
      'null',
      '[]',
      '{"emails":[]}',
      '{"email":1e999}',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 8 }).map(
      (n) =>
        `{"emails":[${Array(n * 10_000)
          .fill('"a@b.test"')
          .join(',')}]}`,
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 10, max: 2_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)) },
);
const request: fc.Arbitrary<HttpInput> = fc.record({
  method: fc.oneof(
    { weight: 8, arbitrary: fc.constant('POST') },
    { weight: 2, arbitrary: fc.constantFrom('GET', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD') },
  ),
  path: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('/v1/verify', '/v0/check_email', '/v1/jobs') },
    fc.constantFrom('/v1/verify/', '/healthz', '/openapi.json', '/metrics', '/', '/v1/doctor'),
    fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((id) => `/v1/jobs/${encodeURIComponent(id)}`),
    fc
      .tuple(fc.uuid(), fc.constantFrom('csv', 'ndjson', 'json', 'xml', '', '%00'))
      .map(([id, format]) => `/v1/jobs/${id}/results?format=${format}`),
    fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).map((s) => `/v1/${encodeURIComponent(s)}`),
  ),
  contentType: fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    fc.constantFrom(
      'application/json; charset=utf-8',
      'text/csv',
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      '',
      'application/json; charset=latin1',
    ),
  ),
  auth: fc.oneof(
    { weight: 12, arbitrary: fc.constant(`Bearer ${KEY}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('Bearer wrong-key-0123456789', 'Basic abc', '', `Bearer ${KEY} extra`),
    },
  ),
  body: jsonBody,
});

export interface HttpInput {
  readonly method: string;
  readonly path: string;
  readonly contentType: string;
  readonly auth: string;
  readonly body: string;
}

/** Starts what the HTTP target needs: an app with jobs on a temp SQLite file, a loopback DNS server. */
export async function startHttpTarget(): Promise<{
  send(input: HttpInput): Promise<number>;
  close(): Promise<void>;
}> {
  // Every domain is NXDOMAIN here: a well-formed request costs one loopback DNS query, no SMTP.
  const dns = await startDnsServer({ host: '127.0.0.1', port: 0, zones: {} });
  const directory = mkdtempSync(join(tmpdir(), 'rcpt-fuzz-http-'));
  const verifier = createVerifier({ dnsServers: [dns.address], helo: 'fuzz.rcpt.test', timeoutMs: 5_000 });
  const logger = createLogger({ level: 'silent' });
  const jobs = createJobsBackend({ store: openSqliteJobStore(join(directory, 'jobs.db')), verifier, logger });
  const app = createApp({
    verifier,
    jobs,
    apiKeys: [KEY],
    rateLimit: null,
    logger,
    limits: { maxUploadBytes: 64 * 1024, maxJobAddresses: 50 },
  });
  return {
    async send(input) {
      const headers: Record<string, string> = {};
      if (input.contentType !== '') headers['content-type'] = input.contentType;
      if (input.auth !== '') headers.authorization = input.auth;
      const hasBody = input.method !== 'GET' && input.method !== 'HEAD';
      const response = await app.request(input.path, {
        method: input.method,
        headers,
        ...(hasBody ? { body: input.body } : {}),
      });
      // Drain the body (streams included) so nothing is left running.
      await response.arrayBuffer().catch(() => undefined);
      return response.status;
    },
    async close() {
      await jobs.close();
      await verifier.close();
      await dns.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

export async function fuzzHttp(settings: FuzzSettings): Promise<FuzzReport> {
  const counts: Record<string, number> = {};
  let maxMs = 0;
  const started = performance.now();
  const target = await startHttpTarget();
  try {
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const t0 = performance.now();
        const status = await target.send(input);
        maxMs = Math.max(maxMs, performance.now() - t0);
        bump(counts, String(status));
        if (status >= 500) {
          throw new Error(`${input.method} ${input.path} (${input.contentType}) answered ${status}`);
        }
      }),
      { numRuns: settings.runs, seed: settings.seed },
    );
  } finally {
    await target.close();
  }
  return { target: 'HTTP API', ...settings, maxMs, totalMs: performance.now() - started, counts };
}
