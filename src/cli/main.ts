/**
 * The `rcpt` command line (docs/cli.md): a thin wrapper over the public API. Exit status 0 when it ran,
 * 64 on a usage error, 1 on an operational failure.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

import { Command, CommanderError } from 'commander';

import { CHANNELS, OptionsError } from '../index.js';
import { addBulkOptions, runBulk, type BulkFlags } from './bulk.js';
import { addDoctorOptions, runDoctorCommand, type DoctorFlags } from './doctor.js';
import { addExplainOptions, runExplain, type ExplainFlags } from './explain.js';
import { printResults, useColour, verifyAll, type CliIo } from './run-verify.js';
import { addServeOptions, runServe, type ServeFlags } from './serve.js';
import { UsageError, addSharedOptions, toVerifyOptions, type SharedFlags } from './common-options.js';
import { addWorkerOptions, runWorker, type WorkerFlags } from './worker.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 64;

/** Addresses verified at once by `rcpt verify` (they usually share no server, so this is polite). */
const VERIFY_CONCURRENCY = 4;

class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('rcpt')
    .description('Verify email addresses: syntax, DNS and SMTP, with a verdict and its evidence.')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError();

  addSharedOptions(
    program
      .command('verify')
      .argument('<address...>', 'addresses to verify')
      .description('verify addresses and print a table (or one JSON result per line with --json)')
      .option('--json', 'one JSON result per line'),
  ).action(async (addresses: string[], flags: SharedFlags & { json?: boolean }) => {
    const results = await verifyAll(addresses, toVerifyOptions(flags, io.env), VERIFY_CONCURRENCY);
    printResults(results, flags.json === true, io);
  });

  program
    .command('demo')
    .description('start a simulated mail world on loopback and verify a sample list against it')
    .option('--json', 'one JSON result per line')
    .option('--transcript', 'keep SMTP transcripts (with --json)')
    .action(async (flags: { json?: boolean; transcript?: boolean }) => {
      // The demo world (smtp-server personas, a DNS server) is loaded by this verb only.
      const { runDemo } = await import('./demo.js');
      await runDemo(io, {
        json: flags.json === true,
        transcript: flags.transcript === true,
        colour: useColour(io),
      });
    });

  addBulkOptions(program.command('bulk')).action(async (input: string, flags: BulkFlags) => {
    await runBulk(input, flags, io);
  });
  addServeOptions(program.command('serve').description('HTTP API and web page')).action(
    async (flags: ServeFlags) => {
      await runServe(flags, io);
    },
  );
  addWorkerOptions(program.command('worker')).action(async (flags: WorkerFlags) => {
    await runWorker(flags, io);
  });
  // Exit status 1 when a check failed (warnings alone exit 0), so `rcpt doctor && rcpt serve` works.
  addDoctorOptions(program.command('doctor')).action(async (flags: DoctorFlags) => {
    const report = await runDoctorCommand(flags, io);
    if (!report.ok) {
      throw new ExitError(EXIT_FAILURE, `rcpt doctor: ${report.counts.fail} check(s) failed.`);
    }
  });
  // Exit status 1 when the input held no reply (empty, binary, no reply code): the report says which.
  addExplainOptions(program.command('explain')).action(async (argument: string, flags: ExplainFlags) => {
    const explanations = await runExplain(argument, flags, io);
    if (explanations.every((explanation) => explanation.category === 'not_a_reply')) {
      throw new ExitError(EXIT_FAILURE, 'rcpt explain: no SMTP reply found in the input.');
    }
  });
  return program;
}

/** Runs the CLI on `argv` (as in `process.argv`) and resolves with the exit status. */
export async function run(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const onWarning = (message: unknown) => {
    const { message: text } = message as { message: string };
    io.stderr.write(`rcpt: warning: ${text}\n`);
  };
  subscribe(CHANNELS.warning, onWarning);
  try {
    await buildProgram(io).parseAsync([...argv]);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (error instanceof ExitError) {
      io.stderr.write(`${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof OptionsError || error instanceof UsageError) {
      io.stderr.write(`rcpt: ${error.message}\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`rcpt: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  } finally {
    unsubscribe(CHANNELS.warning, onWarning);
  }
}
