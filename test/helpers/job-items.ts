/** Rows of a job as the tests store them (`JobStore.addItems()`), keyed as an ingest keys them. */
import { addressKey, type JobItem } from '../../src/jobs/index.js';

/** A readable CSV row `row,input` on line `row + 1` (under a header). */
export function jobItem(row: number, input: string): JobItem {
  return { row, line: row + 1, input, key: addressKey(input), fields: [String(row), input], error: null };
}

/** The rows of a plain list (`LIST_LAYOUT`): one address a line, in order. */
export function listItems(addresses: readonly string[]): JobItem[] {
  return addresses.map((input, i) => ({
    row: i + 1,
    line: i + 1,
    input,
    key: addressKey(input),
    fields: null,
    error: null,
  }));
}
