/**
 * A job's output as text: CSV (the input's columns in order, then the result columns), NDJSON (one
 * result per line with its row number) or one JSON array. Produced in chunks from the store's rows, so
 * a two-million-row job streams to a file or an HTTP response without being held in memory.
 */
import { stringify } from 'csv-stringify/sync';

import { parseAddress } from '../syntax/index.js';
import type { VerifyResult } from '../types.js';
import type { InputLayout, OutputRow } from './job-store.js';

export const OUTPUT_FORMATS = ['csv', 'ndjson', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The columns appended to a CSV, each from the row's result (the field names of docs/result.md). */
export const RESULT_COLUMNS = [
  'verdict',
  'reason',
  'address',
  'suggestion',
  'role',
  'free',
  'disposable',
  'catch_all',
  'mx_host',
  'mx_ip',
  'provider',
  'smtp_code',
  'smtp_enhanced',
  'smtp_message',
  'retry_at',
  'checked_at',
  'error',
] as const;

/** Rows per CSV chunk: one csv-stringify call per chunk instead of per row. */
const CSV_CHUNK_ROWS = 500;

/**
 * The result of a row that could not be read (malformed CSV, over-long line): `unknown` with reason
 * `unreadable_row`, never verified: nothing is known of the address, and an `undeliverable` here
 * would delete a customer from a list filtered on it. `input` is the row's own text as read.
 */
export function unreadableRowResult(input = '', checkedAt = new Date().toISOString()): VerifyResult {
  return {
    input,
    address: null,
    verdict: 'unknown',
    reason: 'unreadable_row',
    flags: { role: false, free: false, disposable: false, catchAll: false },
    suggestion: null,
    syntax: parseAddress(input),
    dns: null,
    smtp: null,
    durationMs: 0,
    checkedAt,
    retryAt: null,
  };
}

const yesNo = (value: boolean) => (value ? 'true' : 'false');

function resultCells(result: VerifyResult | null, error: string | null): string[] {
  if (result === null)
    return RESULT_COLUMNS.map((column) => (column === 'error' ? (error ?? 'not verified') : ''));
  const reply = result.smtp?.reply ?? null;
  return [
    result.verdict,
    result.reason,
    result.address ?? '',
    result.suggestion ?? '',
    yesNo(result.flags.role),
    yesNo(result.flags.free),
    yesNo(result.flags.disposable),
    yesNo(result.flags.catchAll),
    result.smtp?.host ?? '',
    result.smtp?.ip ?? '',
    result.smtp?.provider ?? '',
    reply === null ? '' : String(reply.code),
    reply?.enhanced ?? '',
    // One line per cell: spreadsheets show a multi-line reply badly, and the first line carries the code.
    reply === null ? '' : reply.text.replace(/\s*\n\s*/g, ' '),
    result.retryAt ?? '',
    result.checkedAt,
    error ?? '',
  ];
}

/**
 * The CSV header: the input's columns, then the result columns; a result column whose name the input
 * already uses is prefixed `rcpt_` so no column is ambiguous.
 */
export function csvHeader(layout: InputLayout): string[] {
  const taken = new Set(layout.columns.map((name) => name.toLowerCase()));
  return [...layout.columns, ...RESULT_COLUMNS.map((name) => (taken.has(name) ? `rcpt_${name}` : name))];
}

function inputCells(row: OutputRow, layout: InputLayout): string[] {
  const width = layout.columns.length;
  if (row.fields === null) {
    const cells = new Array<string>(width).fill('');
    cells[layout.addressColumn] = row.input;
    return cells;
  }
  // Short rows are padded so result columns stay aligned; extra fields beyond the header are dropped.
  return Array.from({ length: width }, (_, index) => row.fields?.[index] ?? '');
}

/** The object written per row in NDJSON and JSON: the result with the row's own input. */
export function outputRecord(row: OutputRow): Record<string, unknown> {
  const result = row.result ?? (row.error !== null ? unreadableRowResult(row.input) : null);
  return {
    row: row.row,
    line: row.line,
    ...(result ?? {}),
    input: row.input,
    error: row.error ?? (result === null ? 'not verified' : null),
  };
}

/**
 * Formats rows as text chunks in the given format.
 *
 * @example
 * for await (const chunk of formatOutput(store.readOutput(job.id), job.layout, 'csv')) out.write(chunk);
 */
export async function* formatOutput(
  rows: AsyncIterable<OutputRow>,
  layout: InputLayout,
  format: OutputFormat,
): AsyncGenerator<string> {
  if (format === 'csv') {
    // The input's own delimiter: a `;` file from a French Excel comes back as one that Excel opens.
    const options = { delimiter: layout.delimiter ?? ',' };
    let batch: string[][] = [csvHeader(layout)];
    for await (const row of rows) {
      const result = row.result ?? (row.error !== null ? unreadableRowResult(row.input) : null);
      batch.push([...inputCells(row, layout), ...resultCells(result, row.error)]);
      if (batch.length >= CSV_CHUNK_ROWS) {
        yield stringify(batch, options);
        batch = [];
      }
    }
    if (batch.length > 0) yield stringify(batch, options);
    return;
  }
  if (format === 'ndjson') {
    for await (const row of rows) yield `${JSON.stringify(outputRecord(row))}\n`;
    return;
  }
  let first = true;
  yield '[';
  for await (const row of rows) {
    yield `${first ? '\n' : ',\n'}${JSON.stringify(outputRecord(row))}`;
    first = false;
  }
  yield first ? ']\n' : '\n]\n';
}
