/** Verifying a list of addresses from the CLI, printing the results, and the exit status they mean. */
import { createVerifier, type Verdict, type VerifyOptions, type VerifyResult } from '../index.js';
import { LIST_LAYOUT, formatOutput, type OutputRow } from '../jobs/index.js';
import { pipeText } from './bulk-output.js';
import { UsageError } from './common-options.js';
import { formatSummary, formatTable, formatTranscripts } from './format.js';

/** `rcpt verify --format`: a table for people, or the formats of `rcpt bulk`'s output. */
export const VERIFY_FORMATS = ['table', 'csv', 'ndjson', 'json'] as const;
export type VerifyFormat = (typeof VERIFY_FORMATS)[number];

/**
 * `rcpt verify --fail-on`: which verdicts make the exit status non-zero. Each includes the ones before
 * it: `undeliverable`; `unknown` (and undeliverable: the default); `risky` (and both); `never`.
 */
export const FAIL_ON = ['undeliverable', 'unknown', 'risky', 'never'] as const;
export type FailOn = (typeof FAIL_ON)[number];

/** Exit statuses of `rcpt verify` by the worst verdict that `--fail-on` counts (docs/cli.md). */
export const VERDICT_EXIT: Readonly<Record<Exclude<Verdict, 'deliverable'>, number>> = {
  undeliverable: 2,
  unknown: 3,
  risky: 4,
};

/**
 * The exit status for `results`: 0 unless an address has a verdict that `failOn` counts, then that
 * verdict's status, undeliverable (2) before unknown (3) before risky (4).
 *
 * @example
 * exitStatusFor(results, 'unknown') // 2 when one is undeliverable, else 3 when one is unknown, else 0
 */
export function exitStatusFor(results: readonly VerifyResult[], failOn: FailOn): number {
  if (failOn === 'never') return 0;
  const counted = FAIL_ON.slice(0, FAIL_ON.indexOf(failOn) + 1);
  for (const verdict of ['undeliverable', 'unknown', 'risky'] as const) {
    if (counted.includes(verdict) && results.some((result) => result.verdict === verdict)) {
      return VERDICT_EXIT[verdict];
    }
  }
  return 0;
}

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  /** Where `rcpt bulk -` reads; default `process.stdin`. */
  readonly stdin?: NodeJS.ReadableStream;
}

export function useColour(io: CliIo): boolean {
  return io.stdout.isTTY === true && io.env.NO_COLOR === undefined;
}

/** Most of standard input `rcpt verify -` reads: a longer list is `rcpt bulk`'s (resumable, streamed). */
export const MAX_VERIFY_STDIN_BYTES = 1024 * 1024;

/**
 * The addresses `rcpt verify` was given, with `-` standing for standard input: one address a line,
 * trimmed (a line ends at LF, CRLF or a lone CR), blank lines skipped, read once wherever `-` stands (a second `-` adds nothing). Input that
 * is not text, over `MAX_VERIFY_STDIN_BYTES`, or without an address is a usage error saying what to do.
 */
export async function expandStdin(addresses: readonly string[], io: CliIo): Promise<string[]> {
  if (!addresses.includes('-')) return [...addresses];
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of io.stdin ?? process.stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += bytes.length;
    if (size > MAX_VERIFY_STDIN_BYTES) {
      throw new UsageError(
        `-: standard input holds more than ${MAX_VERIFY_STDIN_BYTES} bytes; verify a list with rcpt bulk - (resumable, streamed)`,
      );
    }
    chunks.push(bytes);
  }
  const bytes = Buffer.concat(chunks);
  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    throw new UsageError(
      `-: standard input is not text (a NUL byte at byte ${nul + 1}): give one address per line in UTF-8`,
    );
  }
  const lines = bytes
    .toString('utf8')
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (lines.length === 0) {
    throw new UsageError('-: standard input holds no address: give one address per line');
  }
  const at = addresses.indexOf('-');
  return [
    ...addresses.slice(0, at).filter((a) => a !== '-'),
    ...lines,
    ...addresses.slice(at + 1).filter((a) => a !== '-'),
  ];
}

/** Verifies addresses with bounded concurrency and returns results in input order. */
export async function verifyAll(
  addresses: readonly string[],
  options: VerifyOptions,
  concurrency: number,
): Promise<VerifyResult[]> {
  const verifier = createVerifier(options);
  try {
    const results: VerifyResult[] = new Array<VerifyResult>(addresses.length);
    let next = 0;
    const worker = async () => {
      while (next < addresses.length) {
        const index = next++;
        results[index] = await verifier.verify(addresses[index] ?? '');
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, addresses.length) }, worker));
    return results;
  } finally {
    await verifier.close();
  }
}

/** Prints results in `format`: a table with a summary (and the transcripts kept), or CSV/NDJSON/JSON. */
export async function printResults(
  results: readonly VerifyResult[],
  format: VerifyFormat,
  io: CliIo,
): Promise<void> {
  if (format === 'table') {
    const transcripts = formatTranscripts(results);
    io.stdout.write(
      `${formatTable(results, { colour: useColour(io) }, io.stdout.columns ?? 120)}\n\n${formatSummary(results)}\n${
        transcripts === '' ? '' : `\n${transcripts}\n`
      }`,
    );
    return;
  }
  // JSON: the results themselves (docs/result.md), one a line or one array.
  if (format === 'ndjson') {
    for (const result of results) io.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  if (format === 'json') {
    io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  // CSV: rcpt bulk's writer, as for a list of the addresses given (an email column, then the results).
  const rows = (async function* (): AsyncGenerator<OutputRow> {
    await Promise.resolve();
    for (const [index, result] of results.entries()) {
      yield {
        row: index + 1,
        line: index + 1,
        input: result.input,
        key: '',
        fields: null,
        error: null,
        result,
      };
    }
  })();
  await pipeText(formatOutput(rows, LIST_LAYOUT, format), io.stdout);
}
