/**
 * The `rcpt` command line (DESIGN.md §3): a thin wrapper over the public API. Exit status 0 when it ran,
 * 64 on a usage error, 1 on an operational failure.
 */
import { Command, CommanderError } from 'commander';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 64;

function notBuiltYet(verb: string): () => void {
  return () => {
    process.stderr.write(`rcpt ${verb}: not built yet in this version of rcpt.\n`);
    process.exitCode = EXIT_FAILURE;
  };
}

export function buildProgram(): Command {
  const program = new Command('rcpt')
    .description('Verify email addresses: syntax, DNS and SMTP, with a verdict and its evidence.')
    .exitOverride()
    .showHelpAfterError();
  program
    .command('verify')
    .argument('<address...>')
    .description('verify addresses')
    .action(notBuiltYet('verify'));
  program
    .command('bulk')
    .argument('<input>')
    .description('verify a list from a file')
    .action(notBuiltYet('bulk'));
  program.command('serve').description('HTTP API and web page').action(notBuiltYet('serve'));
  program.command('worker').description('a worker for scale-out on PostgreSQL').action(notBuiltYet('worker'));
  program
    .command('demo')
    .description('verify a sample list against a built-in simulated mail world')
    .action(notBuiltYet('demo'));
  return program;
}

/** Runs the CLI on `argv` (as in `process.argv`) and resolves with the exit status. */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    throw error;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
}
