/** Output formats: CSV columns (kept, padded, clashing names prefixed), NDJSON and JSON shapes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parse } from 'csv-parse/sync';

import { parseAddress, verdictOf, type Reason, type VerifyResult } from '../../../src/index.js';
import {
  RESULT_COLUMNS,
  formatOutput,
  type InputLayout,
  type OutputFormat,
  type OutputRow,
} from '../../../src/jobs/index.js';
import { CSV_CHUNK_CHARS, csvHeader } from '../../../src/jobs/write-output.js';

const layout: InputLayout = {
  format: 'csv',
  delimiter: ';',
  columns: ['Name', 'email', 'Verdict'],
  addressColumn: 1,
  headerless: false,
};

function result(input: string, reason: Reason): VerifyResult {
  return {
    input,
    address: input,
    verdict: verdictOf(reason),
    reason,
    flags: { role: false, free: true, disposable: false, catchAll: false },
    suggestion: null,
    syntax: parseAddress(input),
    dns: null,
    smtp: {
      host: 'mx.x.test',
      ip: '192.0.2.1',
      port: 25,
      tls: false,
      provider: null,
      reply: { stage: 'rcpt', code: 550, enhanced: '5.1.1', text: 'No such user\nsee https://x.test' },
      catchAll: false,
      attempts: 1,
      transcript: null,
      proxy: null,
    },
    durationMs: 3,
    checkedAt: '2026-11-28T20:00:00.000Z',
    retryAt: null,
  };
}

const rows: OutputRow[] = [
  {
    row: 1,
    line: 2,
    input: 'a@x.test',
    key: 'a@x.test',
    fields: ['A; "quoted"', 'a@x.test', 'mine'],
    error: null,
    result: result('A@x.test', 'mailbox_not_found'),
  },
  { row: 2, line: 3, input: 'b@x.test', key: 'b@x.test', fields: ['B'], error: null, result: null },
  {
    row: 3,
    line: 4,
    input: 'C,"c@x.test',
    key: '#row:3',
    fields: null,
    error: 'line 4: unterminated quoted field',
    result: null,
  },
];

async function render(format: OutputFormat): Promise<string> {
  async function* source() {
    await Promise.resolve();
    yield* rows;
  }
  let text = '';
  for await (const chunk of formatOutput(source(), layout, format)) text += chunk;
  return text;
}

describe('formatOutput', () => {
  it('CSV: input columns in order, then result columns; a clashing name gets rcpt_', async () => {
    assert.deepEqual(csvHeader(layout), [
      'Name',
      'email',
      'Verdict',
      ...RESULT_COLUMNS.map((name) => (name === 'verdict' ? 'rcpt_verdict' : name)),
    ]);
    const text = await render('csv');
    // The input's delimiter (`;`) is kept: the header line is the input's columns joined by it.
    assert.ok(text.startsWith('Name;email;Verdict;rcpt_verdict;reason;'), text.slice(0, 60));
    const records: string[][] = parse(text, { delimiter: ';' });
    assert.equal(records.length, 4);
    const [, first, second, third] = records;
    assert.deepEqual(first?.slice(0, 6), [
      'A; "quoted"',
      'a@x.test',
      'mine',
      'undeliverable',
      'mailbox_not_found',
      'A@x.test',
    ]);
    const cell = (record: string[] | undefined, name: string) => record?.[csvHeader(layout).indexOf(name)];
    assert.equal(cell(first, 'free'), 'true');
    assert.equal(cell(first, 'smtp_code'), '550');
    assert.equal(cell(first, 'smtp_message'), 'No such user see https://x.test');
    // A short row is padded; a row not yet verified says so.
    assert.deepEqual(second?.slice(0, 4), ['B', '', '', '']);
    assert.equal(cell(second, 'error'), 'not verified');
    // An unreadable row keeps its place and its text (here whole, in the address column), reads as
    // unknown/unreadable_row, and carries its line.
    assert.deepEqual(third?.slice(0, 3), ['', 'C,"c@x.test', '']);
    assert.equal(cell(third, 'rcpt_verdict'), 'unknown');
    assert.equal(cell(third, 'reason'), 'unreadable_row');
    assert.equal(cell(third, 'error'), 'line 4: unterminated quoted field');
  });

  it('CSV chunks stay small when rows are long: bounded by characters as well as by rows', async () => {
    const long = 'x'.repeat(60_000);
    const many: OutputRow[] = Array.from({ length: 300 }, (_, i) => ({
      row: i + 1,
      line: i + 2,
      input: `u${i}@x.test`,
      key: `u${i}@x.test`,
      fields: [long, `u${i}@x.test`, ''],
      error: null,
      result: result(`u${i}@x.test`, 'accepted'),
    }));
    async function* source() {
      await Promise.resolve();
      yield* many;
    }
    const chunks: string[] = [];
    for await (const chunk of formatOutput(source(), layout, 'csv')) chunks.push(chunk);
    // Before: one chunk of all 300 rows (18 MB). Now none past the bound by more than one row.
    const largest = Math.max(...chunks.map((chunk) => chunk.length));
    assert.ok(largest <= CSV_CHUNK_CHARS + 70_000, `largest chunk ${largest} characters of ${chunks.length}`);
    const records: string[][] = parse(chunks.join(''), { delimiter: ';' });
    assert.equal(records.length, 301);
    assert.deepEqual(
      records.slice(1).map((record) => record[1]),
      many.map((row) => row.input),
    );
  });

  it('CSV keeps each input delimiter (tab, |) and a list is written with commas', async () => {
    for (const delimiter of ['\t', '|', ',']) {
      let text = '';
      for await (const chunk of formatOutput(
        (async function* () {
          await Promise.resolve();
          yield* rows;
        })(),
        { ...layout, delimiter },
        'csv',
      )) {
        text += chunk;
      }
      assert.ok(text.startsWith(['Name', 'email', 'Verdict', 'rcpt_verdict'].join(delimiter)), delimiter);
      const records: string[][] = parse(text, { delimiter, columns: false });
      assert.equal(records[1]?.[1], 'a@x.test');
    }
    let list = '';
    const listLayout = { ...layout, format: 'list', delimiter: null } as const;
    for await (const chunk of formatOutput((async function* () {})(), listLayout, 'csv')) list += chunk;
    assert.ok(list.startsWith('Name,email,Verdict,'), list.slice(0, 30));
  });

  it('NDJSON: one result per line with row, line and the row’s own input', async () => {
    const lines = (await render('ndjson')).trim().split('\n');
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      records.map((r) => [r.row, r.line, r.input, r.reason ?? null, r.error]),
      [
        [1, 2, 'a@x.test', 'mailbox_not_found', null],
        [2, 3, 'b@x.test', null, 'not verified'],
        [3, 4, 'C,"c@x.test', 'unreadable_row', 'line 4: unterminated quoted field'],
      ],
    );
  });

  it('JSON: one array, also when empty', async () => {
    const records = JSON.parse(await render('json')) as unknown[];
    assert.equal(records.length, 3);
    let empty = '';
    for await (const chunk of formatOutput((async function* () {})(), layout, 'json')) empty += chunk;
    assert.deepEqual(JSON.parse(empty), []);
  });
});
