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

/**
 * What CSV output does with cells a spreadsheet would run as formulas: `escape` (the default) puts a
 * `'` before a cell that starts with `=`, `+`, `-`, `@`, tab or CR (OWASP, "CSV Injection"); `keep`
 * writes them as they are, for pipelines that read the CSV as data. NDJSON and JSON are never changed.
 */
export const CSV_FORMULAS = ['escape', 'keep'] as const;
export type CsvFormulas = (typeof CSV_FORMULAS)[number];

export interface FormatOptions {
  /** Default `escape`. */
  readonly csvFormulas?: CsvFormulas;
}

/** A cell that Excel, LibreOffice or Google Sheets would read as a formula, with a `'` before it. */
export function escapeFormula(cell: string): string {
  const first = cell.charCodeAt(0);
  // = + - @ TAB CR
  return first === 61 || first === 43 || first === 45 || first === 64 || first === 9 || first === 13
    ? `'${cell}`
    : cell;
}

/**
 * Control bytes in text from outside (a server's reply, a DNS name) as `\xNN`, so that no NUL,
 * escape sequence or bell reaches a CSV file raw. Line breaks are turned into spaces before this.
 */
export function escapeControls(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** Rows per CSV chunk: one csv-stringify call per chunk instead of per row. */
const CSV_CHUNK_ROWS = 500;
/**
 * Characters of cells after which a CSV chunk is written even with fewer rows: rows of long input
 * columns (up to the 64 KiB a line may have) made a chunk of 500 rows one write of up to ~32 MB, held
 * whole in memory by each download of `rcpt serve` and each output file being written.
 */
export const CSV_CHUNK_CHARS = 256 * 1024;

/** The result of a row that was never verified, with the reason why (`unreadable_row`, `no_address`). */
function unverifiedResult(
  reason: 'unreadable_row' | 'no_address',
  input: string,
  checkedAt: string,
): VerifyResult {
  return {
    input,
    address: null,
    verdict: 'unknown',
    reason,
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

/**
 * The result of a row that could not be read (malformed CSV, over-long line): `unknown` with reason
 * `unreadable_row`, never verified: nothing is known of the address, and an `undeliverable` here
 * would delete a customer from a list filtered on it. `input` is the row's own text as read.
 */
export function unreadableRowResult(input = '', checkedAt = new Date().toISOString()): VerifyResult {
  return unverifiedResult('unreadable_row', input, checkedAt);
}

/**
 * The result of a row whose address cell is empty (a phone-only contact): `unknown` with reason
 * `no_address`, never verified. Verified as `''` it was `undeliverable`/`invalid_syntax`, and a list
 * filtered on undeliverable lost the contact.
 */
export function noAddressResult(checkedAt = new Date().toISOString()): VerifyResult {
  return unverifiedResult('no_address', '', checkedAt);
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
    escapeControls(result.smtp?.host ?? ''),
    result.smtp?.ip ?? '',
    result.smtp?.provider ?? '',
    reply === null ? '' : String(reply.code),
    reply?.enhanced ?? '',
    // One line per cell: spreadsheets show a multi-line reply badly, and the first line carries the code.
    reply === null ? '' : escapeControls(reply.text.replace(/\s*\n\s*/g, ' ')),
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
  options: FormatOptions = {},
): AsyncGenerator<string> {
  if (format === 'csv') {
    // The input's own delimiter: a `;` file from a French Excel comes back as one that Excel opens.
    const csvOptions = { delimiter: layout.delimiter ?? ',' };
    const cell = options.csvFormulas === 'keep' ? (text: string) => text : escapeFormula;
    let batch: string[][] = [csvHeader(layout).map(cell)];
    let chars = 0;
    for await (const row of rows) {
      const result = row.result ?? (row.error !== null ? unreadableRowResult(row.input) : null);
      const cells = [...inputCells(row, layout), ...resultCells(result, row.error)].map(cell);
      batch.push(cells);
      for (const text of cells) chars += text.length;
      if (batch.length >= CSV_CHUNK_ROWS || chars >= CSV_CHUNK_CHARS) {
        yield stringify(batch, csvOptions);
        batch = [];
        chars = 0;
      }
    }
    if (batch.length > 0) yield stringify(batch, csvOptions);
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
