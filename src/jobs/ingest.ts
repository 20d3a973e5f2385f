/**
 * Storing a job's input: rows are read as they stream in and written in batches, each batch one
 * transaction, so ingesting is bounded in memory and idempotent (a re-ingest after a crash re-stores
 * nothing that is already there).
 */
import { addressKey, malformedKey } from './address-key.js';
import type { InputLayout, JobItem, JobRecord, JobStore } from './job-store.js';
import { openInput, type InputRow, type ReadInputOptions } from './read-input.js';
import { noAddressResult, unreadableRowResult } from './write-output.js';
import { InputTooLargeError } from './errors.js';

/** Rows per transaction while ingesting. */
const INGEST_BATCH_ROWS = 5_000;

export interface IngestOptions extends ReadInputOptions {
  /** Called for each row that cannot be read (malformed CSV, over-long line), with its line number. */
  readonly onMalformed?: (row: InputRow) => void;
  /** Refuse inputs with more rows than this (the HTTP API's limit). Default: no limit. */
  readonly maxRows?: number;
}

export interface IngestSummary {
  readonly job: JobRecord;
  readonly layout: InputLayout;
  readonly malformedRows: number;
}

/**
 * Reads `source` into the job: its layout, every row (unreadable rows as items with their error and an
 * `unknown`/`unreadable_row` result, rows without an address with `unknown`/`no_address`, so they appear
 * in the output but are never verified), then the totals.
 *
 * @example
 * const { job } = await ingestInput(store, job.id, createReadStream('list.csv'), { column: 'Email' });
 */
export async function ingestInput(
  store: JobStore,
  jobId: string,
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: IngestOptions = {},
): Promise<IngestSummary> {
  const { layout, rows } = await openInput(
    source,
    options.column === undefined ? {} : { column: options.column },
  );
  return ingestRows(store, jobId, layout, rows, options);
}

/**
 * Stores rows read already (`openInput()`'s, or rows read back from where an upload waited) under
 * `layout`, as `ingestInput()` stores a source's.
 */
export async function ingestRows(
  store: JobStore,
  jobId: string,
  layout: InputLayout,
  rows: AsyncIterable<InputRow> | Iterable<InputRow>,
  options: Omit<IngestOptions, 'column'> = {},
): Promise<IngestSummary> {
  await store.setLayout(jobId, layout);
  let batch: JobItem[] = [];
  let malformedRows = 0;
  /** Rows without an address share one key (`addressKey('')`), given its result once. */
  let noAddressStored = false;
  const flush = async () => {
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    await store.addItems(jobId, items);
    const settled = items.flatMap((item) => {
      if (item.error !== null) return [{ key: item.key, result: unreadableRowResult(item.input) }];
      if (item.input !== '' || noAddressStored) return [];
      noAddressStored = true;
      return [{ key: item.key, result: noAddressResult() }];
    });
    if (settled.length > 0) await store.putResults(jobId, settled);
  };
  for await (const row of rows) {
    if (options.maxRows !== undefined && row.row > options.maxRows) {
      throw new InputTooLargeError(options.maxRows);
    }
    if (row.error !== null) {
      malformedRows += 1;
      options.onMalformed?.(row);
    }
    batch.push({
      row: row.row,
      line: row.line,
      input: row.input,
      key: row.error === null ? addressKey(row.input) : malformedKey(row.row),
      fields: row.fields,
      error: row.error,
    });
    if (batch.length >= INGEST_BATCH_ROWS) await flush();
  }
  await flush();
  const job = await store.finishIngest(jobId);
  return { job, layout, malformedRows };
}
