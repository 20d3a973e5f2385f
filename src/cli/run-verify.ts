/** Verifying a list of addresses from the CLI, and printing the results. */
import { createVerifier, type VerifyOptions, type VerifyResult } from '../index.js';
import { formatSummary, formatTable } from './format.js';

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

export function printResults(results: readonly VerifyResult[], json: boolean, io: CliIo): void {
  if (json) {
    for (const result of results) io.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  io.stdout.write(
    `${formatTable(results, { colour: useColour(io) }, io.stdout.columns ?? 120)}\n\n${formatSummary(results)}\n`,
  );
}
