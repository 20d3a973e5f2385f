/**
 * The `rcpt` command line (docs/cli.md): a thin wrapper over the public API. Exit status 0 when it ran,
 * 64 on a usage error, 1 on an operational failure; `rcpt verify` also says what it found (2, 3, 4:
 * see `--fail-on`).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';

import { Command, CommanderError, Option } from 'commander';

import { CHANNELS, OptionsError } from '../index.js';
import { addBulkOptions, runBulk, type BulkFlags } from './bulk.js';
import { BulkError } from './bulk-output.js';
import { addDoctorOptions, runDoctorCommand, type DoctorFlags } from './doctor.js';
import { addExplainOptions, runExplain, type ExplainFlags } from './explain.js';
import {
  FAIL_ON,
  VERIFY_FORMATS,
  exitStatusFor,
  expandStdin,
  printResults,
  useColour,
  verifyAll,
  type CliIo,
  type FailOn,
  type VerifyFormat,
} from './run-verify.js';
import { addServeOptions, runServe, type ServeFlags } from './serve.js';
import { UnreachedWatch } from './unreached.js';
import {
  UsageError,
  addSharedOptions,
  dashIsStdout,
  oneOf,
  flagOfOption,
  toVerifyOptions,
  type SharedFlags,
} from './common-options.js';
import { escapeControl, escapeLines } from './terminal-text.js';
import { addWorkerOptions, runWorker, type WorkerFlags } from './worker.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 64;

/** Addresses verified at once by `rcpt verify` (they usually share no server, so this is polite). */
const VERIFY_CONCURRENCY = 4;

/** The package's version, from its package.json (two levels up from src/cli and from dist/cli). */
const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** A verb's one-line pointer to its help, shown after a usage error instead of the whole help. */
function helpHint(verb: string | null): string {
  return verb === null
    ? "(rcpt --help lists the verbs; rcpt VERB --help a verb's options)"
    : `(rcpt ${verb} --help lists its options)`;
}

interface VerifyFlags extends SharedFlags {
  json?: boolean;
  format?: VerifyFormat;
  failOn?: FailOn;
}

export function buildProgram(
  io: CliIo,
  state: { verb: string | null; exitCode: number } = { verb: null, exitCode: 0 },
): Command {
  const program = new Command('rcpt')
    .description('Verify email addresses: syntax, DNS and SMTP, with a verdict and its evidence.')
    .version(VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      // Commander quotes what was typed (an unknown option, a bad value): escaped like every message.
      writeErr: (text) => io.stderr.write(escapeLines(text)),
      // Its own wording is replaced by run(), in the form of every other usage error (usageMessage()).
      outputError: () => undefined,
    });

  addSharedOptions(
    program
      .command('verify')
      .argument('<address...>', 'addresses to verify; - reads one address a line from standard input')
      .description('verify addresses and print a table (or CSV, or JSON with --format)')
      .addOption(
        new Option('--format <format>', 'table (default), csv, ndjson (one JSON result a line) or json')
          .choices(VERIFY_FORMATS)
          .argParser(oneOf(VERIFY_FORMATS)),
      )
      .option('--json', 'one JSON result per line (--format ndjson)')
      .addOption(
        new Option(
          '--fail-on <verdict>',
          'exit non-zero when an address is: undeliverable (2); or unknown (3, the default); or risky (4); never',
        )
          .choices(FAIL_ON)
          .argParser(oneOf(FAIL_ON)),
      ),
  ).action(async (addresses: string[], flags: VerifyFlags) => {
    // Surrounding white space is trimmed as rcpt bulk trims a list's addresses.
    // `-` stands for standard input, one address a line.
    const inputs = (await expandStdin(addresses, io)).map((address) => address.trim());
    const results = await verifyAll(inputs, toVerifyOptions(flags, io.env), VERIFY_CONCURRENCY);
    const format = flags.format ?? (flags.json === true ? 'ndjson' : 'table');
    await printResults(results, format, io);
    const unreached = new UnreachedWatch();
    for (const result of results) unreached.see(result);
    io.stderr.write(unreached.hint('verify'));
    state.exitCode = exitStatusFor(results, flags.failOn ?? 'unknown');
  });

  program
    .command('demo')
    .description('start a simulated mail world on loopback and verify a sample list against it')
    .option('--json', 'one JSON result per line')
    .option('--transcript', 'keep SMTP transcripts')
    .option(
      '--world',
      'only start the world and keep it running until Ctrl-C; prints the flags that point verify, bulk and serve at it',
    )
    .action(async (flags: { json?: boolean; transcript?: boolean; world?: boolean }) => {
      // The demo world (smtp-server personas, a DNS server) is loaded by this verb only.
      const { runDemo, runDemoWorld } = await import('./demo.js');
      if (flags.world === true) {
        await runDemoWorld(io);
        return;
      }
      await runDemo(io, {
        json: flags.json === true,
        transcript: flags.transcript === true,
        colour: useColour(io),
      });
    });

  addBulkOptions(program.command('bulk')).action(async (input: string, flags: BulkFlags) => {
    await runBulk(input, dashIsStdout(flags), io);
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
  // Exit status 1 when the input held no reply (empty, binary, no reply code) or held a message that
  // could not be read: the report says which.
  addExplainOptions(program.command('explain')).action(async (argument: string, flags: ExplainFlags) => {
    const explanations = await runExplain(argument, dashIsStdout(flags), io);
    // A bounce message, a directory or an mbox was read by the bounce side (explain-bounces.ts).
    if (explanations === 'message') return;
    if (explanations === 'unreadable') {
      throw new ExitError(EXIT_FAILURE, 'rcpt explain: the message could not be read.');
    }
    if (explanations.every((explanation) => explanation.category === 'not_a_reply')) {
      throw new ExitError(EXIT_FAILURE, 'rcpt explain: no SMTP reply found in the input.');
    }
  });
  for (const command of program.commands) {
    // A usage error found while parsing this verb's flags: its hint names the verb.
    command.configureOutput({
      outputError: () => {
        state.verb = command.name();
      },
    });
    command.hook('preAction', () => {
      state.verb = command.name();
    });
  }
  return program;
}

/** The long flag of an option's flags as commander writes them (`-o, --output <file>` → `--output`). */
function longFlagOf(flags: string): string {
  const names = flags.split(/[ ,|]+/).filter((part) => part.startsWith('-'));
  return names.find((name) => name.startsWith('--')) ?? names[0] ?? flags;
}

/**
 * A commander parse error in the form of every other usage error (docs/cli.md): what was typed first
 * (`--timeout: must be an integer from 1 to 86400000 (got 'abc')`, `verif: no such verb (did you mean
 * verify?)`), instead of commander's `error: option '--timeout <ms>' argument 'abc' is invalid. …`.
 * Commander names no parts of its errors but in their message, read here by code; a message of another
 * shape keeps its words.
 */
function usageMessage(error: CommanderError, verb: string | null, program: Command): string {
  const text = error.message.replace(/^error: /, '');
  const quoted = [...text.matchAll(/'([^']*)'/g)].map((match) => match[1] ?? '');
  const suggestion = /\(Did you mean (.+?)\?\)/.exec(text)?.[1];
  const meant = suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`;
  const command = program.commands.find((c) => c.name() === verb);
  const usage = command === undefined ? '' : ` (rcpt ${verb} ${command.usage()})`;
  switch (error.code) {
    case 'commander.unknownOption':
      return `${quoted[0] ?? text}: no such option${meant}`;
    case 'commander.unknownCommand':
      return `${quoted[0] ?? text}: no such verb${meant}`;
    case 'commander.optionMissingArgument': {
      const flags = quoted[0] ?? '';
      return `${longFlagOf(flags)}: needs a value (${flags})`;
    }
    case 'commander.missingArgument':
      return `${verb ?? 'rcpt'}: missing its ${quoted[0] ?? 'argument'} argument${usage}`;
    case 'commander.excessArguments': {
      const counts = /Expected (\d+) arguments? but got (\d+)/.exec(text);
      const said = counts === null ? '' : `: it takes ${counts[1]}, got ${counts[2]}`;
      return `${verb ?? 'rcpt'}: too many arguments${said}${usage}`;
    }
    case 'commander.invalidArgument': {
      // `option '--timeout <ms>' argument 'abc' is invalid. --timeout must be …`: the parser's reason
      // (which may name the flag itself) after the flag, then what was typed, unless it may hold a
      // proxy's password.
      const option = /^option '([^']*)' argument '([^']*)' is invalid\.\s*(.*)$/s.exec(text);
      if (option === null) return text;
      const flag = longFlagOf(option[1] ?? '');
      const reason = (option[3] ?? '').replace(new RegExp(`^${flag}:?\\s*`), '').replace(/\.$/, '');
      const got = flag.startsWith('--proxy') ? '' : ` (got '${option[2] ?? ''}')`;
      return `${flag}: ${reason}${got}`;
    }
    default:
      return text;
  }
}

/** Runs the CLI on `argv` (as in `process.argv`) and resolves with the exit status. */
export async function run(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const onWarning = (message: unknown) => {
    const { message: text } = message as { message: string };
    io.stderr.write(`rcpt: warning: ${escapeControl(text)}\n`);
  };
  subscribe(CHANNELS.warning, onWarning);
  const state: { verb: string | null; exitCode: number } = { verb: null, exitCode: EXIT_OK };
  const say = (message: string) => io.stderr.write(`${escapeControl(message)}\n`);
  const program = buildProgram(io, state);
  try {
    await program.parseAsync([...argv]);
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT_OK;
      // `rcpt` alone has printed its help on standard error.
      if (error.code !== 'commander.help') {
        say(`rcpt: ${usageMessage(error, state.verb, program)}`);
        io.stderr.write(`${helpHint(state.verb)}\n`);
      }
      return EXIT_USAGE;
    }
    if (error instanceof ExitError) {
      say(error.message);
      return error.exitCode;
    }
    if (error instanceof OptionsError) {
      // The library names its option (`dnsServers`); the user typed a flag (`--dns-server`).
      say(`rcpt: ${flagOfOption(error, { argv, env: io.env })}`);
      io.stderr.write(`${helpHint(state.verb)}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      say(`rcpt: ${error.message}`);
      io.stderr.write(`${helpHint(state.verb)}\n`);
      return EXIT_USAGE;
    }
    say(`rcpt: ${error instanceof Error ? error.message : String(error)}`);
    return error instanceof BulkError ? error.exitCode : EXIT_FAILURE;
  } finally {
    unsubscribe(CHANNELS.warning, onWarning);
  }
}
