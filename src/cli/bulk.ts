/**
 * `rcpt bulk INPUT`: verifies a CSV or a plain list through a resumable job (docs/bulk.md). The input
 * is streamed into a SQLite job store next to the output, verified with `verifyMany()`, and the output
 * is written from the store in input order to a temporary file renamed at the end, so a crash never
 * leaves a half file that looks complete. `--resume` continues the job recorded for the same input.
 */
import { createHash } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { constants } from 'node:os';
import { dirname, resolve } from 'node:path';

import { Option, type Command } from 'commander';

import {
  CHANNELS,
  DEFAULT_HOST_CONCURRENCY,
  DEFAULT_SLOW_START,
  VERDICTS,
  createVerifier,
  type HostRateWait,
  type Verdict,
  type VerifyOptions,
  type VerifyResult,
} from '../index.js';
import {
  CSV_FORMULAS,
  InputError,
  OUTPUT_FORMATS,
  compareSettings,
  describeDifferences,
  recordedSettings,
  formatOutput,
  ingestRows,
  addressColumnNote,
  openInput,
  openSqliteJobStore,
  runJob,
  storedHostLimitsFor,
  type StoredHostLimitsFacts,
  type JobRecord,
  type JobSettings,
  type JobSource,
  type CsvFormulas,
  type JobStore,
  type OutputFormat,
} from '../jobs/index.js';
import { followJob, isPostgresUrl, openScaleOut, type ScaleOut } from '../jobs/postgres/index.js';
import type { DemoWorld } from '../demo/world.js';
import {
  BulkError,
  cannotRead,
  checkOutput,
  type OutputTarget,
  dbOpenFailure,
  fsReason,
  messageOf,
  onceFixed,
  pipeText,
  storeReason,
  writeFileText,
} from './bulk-output.js';
import { isStoreFull } from '../server/jobs-backend.js';
import { plural } from './format.js';
import { UnreachedWatch } from './unreached.js';
import { postgresUnreachable, shownPostgresUrl } from './postgres-reason.js';
import { startProgressBar, type ProgressBar } from './progress.js';
import type { CliIo } from './run-verify.js';
import {
  integer,
  oneOf,
  UsageError,
  addSharedOptions,
  proxiesLackingPassword,
  sharedFlagsOf,
  sharedSettings,
  toVerifyOptions,
  type SharedFlags,
} from './common-options.js';

/** Bytes hashed to recognise the input on `--resume` (with its size and modification time). */
const FINGERPRINT_BYTES = 65_536;
/** Default job database when the output goes to stdout. */
const DEFAULT_DB = '.rcpt/jobs.db';
/** The most `--slow-start` takes: a host that answers more than this in a second is past any slow start. */
const MAX_SLOW_START = 100_000;

export interface BulkFlags extends SharedFlags {
  output?: string;
  format?: string;
  csvFormulas?: CsvFormulas;
  column?: string;
  resume?: boolean;
  hostConcurrency?: number;
  /** `--slow-start <n>`; `false` for `--no-slow-start`. */
  slowStart?: number | false;
  db?: string;
  demo?: boolean;
  overrideSettings?: boolean;
}

/** Declares `rcpt bulk`'s argument and options (and the shared ones) on `command`. */
export function addBulkOptions(command: Command): Command {
  return addSharedOptions(
    command
      .argument('<input>', 'a CSV file or a one-address-per-line list; - reads standard input')
      .description(
        'verify a list (CSV or one address per line) through a resumable job; results keep the input columns',
      )
      .option('-o, --output <file>', 'write results here; - for standard output (the default)')
      .addOption(
        new Option('--format <format>', 'output format (default: csv, or from the output file name)')
          .choices(OUTPUT_FORMATS)
          .argParser(oneOf(OUTPUT_FORMATS)),
      )
      .addOption(
        new Option(
          '--csv-formulas <mode>',
          "CSV cells starting with = + - @ tab or CR: escape puts a ' before them so spreadsheets do not run them as formulas; keep writes them as they are (default escape)",
        )
          .choices(CSV_FORMULAS)
          .argParser(oneOf(CSV_FORMULAS)),
      )
      .option('--column <name>', 'the CSV column holding addresses (default: found by name, e.g. email)')
      .option(
        '--resume',
        'continue the job recorded for this input after a crash or Ctrl-C, with the settings it began with',
      )
      .option(
        '--override-settings',
        'with --resume: verify the rest with the flags given now where they differ from the job',
      )
      .addOption(
        new Option(
          '--host-concurrency <n>',
          `connections at once per MX host (default ${DEFAULT_HOST_CONCURRENCY})`,
        ).argParser(integer('--host-concurrency', 1, 100)),
      )
      .addOption(
        new Option(
          '--slow-start <n>',
          `replies one second may carry at first at an MX host whose rate is unknown, doubling on proof (default ${DEFAULT_SLOW_START})`,
        ).argParser(integer('--slow-start', 1, MAX_SLOW_START)),
      )
      .option('--no-slow-start', 'no slow start: full batches at every host from the first second')
      .option('--db <file>', 'the job database (default: OUTPUT.rcpt.db, or .rcpt/jobs.db without -o)')
      .option('--demo', 'start the simulated mail world of `rcpt demo` on loopback and verify against it'),
  );
}

/** The format asked for by --format or the output file's name; `null` when neither says. */
function givenFormat(flags: BulkFlags): OutputFormat | null {
  const wanted = flags.format ?? (flags.output ? /\.(nd)?json(l)?$/i.exec(flags.output)?.[0] : undefined);
  if (wanted === undefined) return null;
  const format = wanted.toLowerCase().replace(/^\./, '').replace('jsonl', 'ndjson');
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  return format as OutputFormat;
}

/**
 * What a bulk job records of how it was asked to run (src/jobs/job-settings.ts): the shared flags
 * that decide verdicts and bulk's own (host concurrency, column, format, the demo world).
 */
function bulkSettings(flags: BulkFlags, env: NodeJS.ProcessEnv): JobSettings {
  const settings: Record<string, JobSettings[string]> = { ...sharedSettings(flags, env) };
  if (flags.hostConcurrency !== undefined) settings['--host-concurrency'] = flags.hostConcurrency;
  if (flags.slowStart !== undefined)
    settings['--slow-start'] = flags.slowStart === false ? 0 : flags.slowStart;
  if (flags.column !== undefined) settings['--column'] = flags.column;
  const format = givenFormat(flags);
  if (format !== null) settings['--format'] = format;
  if (flags.demo === true) settings['--demo'] = true;
  return settings;
}

/** The flags a job's recorded settings stand for (the inverse of `bulkSettings`). */
function bulkFlagsOf(settings: JobSettings): BulkFlags {
  const flags: BulkFlags = sharedFlagsOf(settings);
  const hostConcurrency = settings['--host-concurrency'];
  if (typeof hostConcurrency === 'number') flags.hostConcurrency = hostConcurrency;
  const slowStart = settings['--slow-start'];
  if (typeof slowStart === 'number') flags.slowStart = slowStart === 0 ? false : slowStart;
  const column = settings['--column'];
  if (typeof column === 'string') flags.column = column;
  const format = settings['--format'];
  if (typeof format === 'string') flags.format = format;
  if (settings['--demo'] === true) flags.demo = true;
  return flags;
}

/**
 * True when `path` is a pipe or a character device (the shell's `<(zcat list.csv.gz)`, `/dev/stdin`):
 * read once from its start, as standard input is; it cannot be fingerprinted or resumed.
 */
async function isPipe(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => null);
  return info !== null && (info.isFIFO() || info.isCharacterDevice());
}

async function fingerprint(path: string): Promise<JobSource> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new BulkError(cannotRead(path, error));
  }
  if (info.isDirectory()) throw new BulkError(`${path} is a directory, not a list`);
  if (!info.isFile()) throw new BulkError(`cannot read ${path}: not a file`);
  const handle = await open(path, 'r').catch((error: unknown) => {
    throw new BulkError(cannotRead(path, error));
  });
  try {
    const buffer = Buffer.alloc(Math.min(FINGERPRINT_BYTES, info.size));
    await handle.read(buffer, 0, buffer.length, 0);
    return {
      path: resolve(path),
      size: info.size,
      mtimeMs: Math.trunc(info.mtimeMs),
      headSha256: createHash('sha256').update(buffer).digest('hex'),
    };
  } finally {
    await handle.close();
  }
}

/**
 * Refuses an output or job database that is the input file itself, by any path (a symlink, a hard
 * link, `./x/../`): the same device and inode. Writing it would replace the user's list, losing the
 * rows that could not be read and the chance to `--resume` (issue 14). Checked before anything is
 * created or written.
 */
async function refuseInputAsOutput(input: string, flags: BulkFlags): Promise<void> {
  const inputInfo = await stat(input);
  for (const [option, path] of [
    ['-o', flags.output],
    ['--db', flags.db],
  ] as const) {
    if (path === undefined) continue;
    // Resolved as the writer resolves it (`x/../` lexically), then to the file it names.
    const info = await stat(resolve(path)).catch(() => null);
    if (info !== null && info.dev === inputInfo.dev && info.ino === inputInfo.ino) {
      throw new UsageError(
        `${option} ${path} is the input file ${input}: choose another file, the input is left as it is`,
      );
    }
  }
}

function sameSource(a: JobSource | null, b: JobSource): boolean {
  return a !== null && a.size === b.size && a.mtimeMs === b.mtimeMs && a.headSha256 === b.headSha256;
}

function counter(): Record<Verdict, number> {
  return Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as Record<Verdict, number>;
}

/**
 * The settings a resumed job goes on with: those it recorded, with the flags given now where they
 * agree. A flag that contradicts the job is refused (exit 64) unless `--override-settings`, which
 * records the new settings so a later resume keeps them. A job from before settings were recorded
 * goes on with the flags given now, and says so.
 */
async function resumeSettings(
  job: JobRecord,
  given: JobSettings,
  flags: BulkFlags,
  store: JobStore,
  io: CliIo,
): Promise<JobSettings> {
  const recorded = recordedSettings(job.options);
  if (recorded === null) {
    io.stderr.write(
      `rcpt bulk: job ${job.id} was made by an older rcpt that did not record its settings; it goes on with the flags given now\n`,
    );
    return given;
  }
  // A proxy's password is not recorded: such a proxy is given again, or the job cannot go on as it began.
  const lacking = proxiesLackingPassword(recorded).filter((name) => given[name] === undefined);
  if (lacking.length > 0) {
    throw new UsageError(
      `--resume: job ${job.id} began through ${lacking.map((name) => `${name} ${String(recorded[name])}`).join(' and ')}, whose password is not recorded: give ${lacking.join(' and ')} again (or RCPT_PROXY)`,
    );
  }
  const differences = compareSettings(recorded, given);
  if (differences.length === 0) return { ...recorded, ...given };
  if (flags.overrideSettings !== true) {
    throw new UsageError(
      `--resume: job ${job.id} began with other settings (${describeDifferences(differences)}); leave these flags out to go on with the job's settings, or add --override-settings to verify the rest with the new ones`,
    );
  }
  const settings = { ...recorded, ...given };
  await store.setOptions(job.id, { ...job.options, settings });
  io.stderr.write(
    `rcpt bulk: --override-settings: the rest of job ${job.id} is verified with new settings (${describeDifferences(differences)})\n`,
  );
  return settings;
}

/** Runs `rcpt bulk`. Resolves when the output is written; throws `UsageError` or `BulkError`. */
export async function runBulk(input: string, givenFlags: BulkFlags, io: CliIo): Promise<void> {
  const started = performance.now();
  const given = bulkSettings(givenFlags, io.env);
  const readOnce = input === '-' || (await isPipe(input));
  if (readOnce && givenFlags.resume === true) {
    throw new UsageError(
      `--resume needs an input file: ${input === '-' ? 'standard input' : `${input} is a pipe and`} cannot be read again`,
    );
  }
  const source: JobSource = readOnce
    ? { path: null, size: null, mtimeMs: null, headSha256: null }
    : await fingerprint(input);
  if (input !== '-') await refuseInputAsOutput(input, givenFlags);

  // Scale-out: with a postgres:// job store (--db or RCPT_DB), `rcpt worker` processes verify the job
  // and this command submits it, follows it, and writes the output.
  const pgUrl = [givenFlags.db, io.env.RCPT_DB].find((db) => db !== undefined && isPostgresUrl(db)) ?? null;
  if (pgUrl !== null && givenFlags.demo === true) {
    throw new UsageError(
      '--demo runs its world in this process; it cannot be combined with a postgres:// --db',
    );
  }
  // A doomed output is refused before anything is stored or verified (and before its default job
  // database is created beside it).
  const target = await checkOutput(
    givenFlags.output,
    pgUrl === null && givenFlags.db === undefined,
    'nothing was verified',
  );
  const opened = await openBulkStore(pgUrl, givenFlags, target, io);
  const run = new BulkRun(input, readOnce, givenFlags, given, io, opened);
  let world: DemoWorld | null = null;
  try {
    const job = await run.ingested(await run.job(source));
    const verifying = await run.verifyOptions();
    world = verifying.world;
    const outcome = await run.verify(job, verifying.options);
    const rows = await run.writeOutput(outcome.job, target);
    run.summarise(outcome, rows, (performance.now() - started) / 1000);
  } finally {
    await (opened.cluster ?? opened.store).close();
    await world?.close();
  }
}

/** The job store a bulk run uses, and where it is. */
interface BulkStore {
  readonly store: JobStore;
  /** The scale-out queue when the store is PostgreSQL (`rcpt worker` processes verify). */
  readonly cluster: ScaleOut | null;
  /** The SQLite file, or the PostgreSQL URL as shown (its password `***`). */
  readonly dbPath: string;
}

/**
 * Opens the job store: PostgreSQL at `pgUrl`, else the SQLite file of --db, beside an output file, or
 * the default. A failure is one `BulkError` naming the place and how to choose another.
 */
async function openBulkStore(
  pgUrl: string | null,
  flags: BulkFlags,
  target: OutputTarget,
  io: CliIo,
): Promise<BulkStore> {
  // The job database goes beside an output file unless --db says otherwise; a device or FIFO gets
  // the default of standard output, not a database among the devices.
  const dbBeside = pgUrl === null && flags.db === undefined && target.kind === 'file';
  // A PostgreSQL URL is only ever shown (summary, --resume advice), so its password is left out.
  const dbPath =
    pgUrl === null
      ? resolve(flags.db ?? (dbBeside ? `${target.path}.rcpt.db` : DEFAULT_DB))
      : shownPostgresUrl(pgUrl);
  try {
    if (pgUrl !== null) {
      const cluster = await openScaleOut(pgUrl, {
        supervise: false,
        ...(io.env.RCPT_PG_SCHEMA === undefined ? {} : { schema: io.env.RCPT_PG_SCHEMA }),
      });
      return { store: cluster.store, cluster, dbPath };
    }
    // The default beside the output needs no directory: checkOutput() found the output's.
    if (!dbBeside) await mkdir(dirname(dbPath), { recursive: true });
    return { store: openSqliteJobStore(dbPath), cluster: null, dbPath };
  } catch (error) {
    const unreachable = pgUrl === null ? null : postgresUnreachable(error, pgUrl);
    if (unreachable !== null) throw new BulkError(`${unreachable}; nothing was verified`);
    const reason = pgUrl === null ? await dbOpenFailure(error, dbPath) : messageOf(error);
    const space = /\((ENOSPC|EDQUOT|SQLITE_FULL)\)/.test(reason) ? 'free some space, or ' : '';
    const hint =
      flags.db !== undefined
        ? `${space}give --db a writable place`
        : `${space}--db FILE puts it elsewhere (by default it is ${dbBeside ? 'beside the output' : `${DEFAULT_DB} in the current directory`})`;
    throw new BulkError(`cannot open the job database ${dbPath}: ${reason}; nothing was verified: ${hint}`);
  }
}

/** The distinct addresses, verdicts and reasons of the output rows, counted as they are written. */
interface RowCounts {
  total: number;
  unreadable: number;
  readonly counts: Record<Verdict, number>;
  readonly reasons: Map<string, number>;
  /** Whether any MX host answered: none, and port 25 may be blocked here. */
  readonly unreached: UnreachedWatch;
}

/**
 * The steps of one `rcpt bulk` over an open store: find or create the job, store the input, verify,
 * write the output, summarise. `#flags` are the flags given, filled in from the job's recorded
 * settings on --resume.
 */
class BulkRun {
  readonly #input: string;
  /** Standard input or a pipe: read once, so the job cannot be resumed. */
  readonly #readOnce: boolean;
  readonly #givenFlags: BulkFlags;
  #flags: BulkFlags;
  readonly #given: JobSettings;
  readonly #io: CliIo;
  readonly #store: JobStore;
  readonly #cluster: ScaleOut | null;
  readonly #dbPath: string;

  constructor(
    input: string,
    readOnce: boolean,
    flags: BulkFlags,
    given: JobSettings,
    io: CliIo,
    opened: BulkStore,
  ) {
    this.#input = input;
    this.#readOnce = readOnce;
    this.#givenFlags = flags;
    this.#flags = flags;
    this.#given = given;
    this.#io = io;
    this.#store = opened.store;
    this.#cluster = opened.cluster;
    this.#dbPath = opened.dbPath;
  }

  /** What was read once, in words: `standard input`, or the pipe's path. */
  get #onceRead(): string {
    return this.#input === '-' ? 'standard input' : `${this.#input} (a pipe)`;
  }

  get #format(): OutputFormat {
    return givenFormat(this.#flags) ?? 'csv';
  }

  /** The job to resume (--resume), or a new one; says when an earlier job for this input did not finish. */
  async job(source: JobSource): Promise<JobRecord> {
    const store = this.#store;
    const io = this.#io;
    const previous =
      source.path === null
        ? null
        : await this.#inStore('reading', () => store.findJobBySourcePath(source.path ?? ''));
    if (this.#flags.resume === true) {
      if (previous === null) {
        io.stderr.write(`rcpt bulk: no job for ${this.#input} in ${this.#dbPath}; starting a new one\n`);
      } else if (!sameSource(previous.source, source)) {
        throw new BulkError(
          `${this.#input} changed since job ${previous.id} read it (size, time or content); run without --resume to start again`,
        );
      } else {
        const settings = await resumeSettings(previous, this.#given, this.#givenFlags, store, io);
        this.#flags = { ...this.#givenFlags, ...bulkFlagsOf(settings) };
        io.stderr.write(
          `rcpt bulk: resuming job ${previous.id} (${previous.doneAddresses.toLocaleString('en-US')} of ${previous.totalAddresses.toLocaleString('en-US')} addresses done)\n`,
        );
        return previous;
      }
    } else if (previous !== null && previous.status !== 'done') {
      io.stderr.write(`rcpt bulk: job ${previous.id} for this input did not finish; --resume continues it\n`);
    }
    const flags = this.#flags;
    return this.#inStore('creating the job', () =>
      store.createJob({
        options: {
          format: this.#format,
          ...(flags.column !== undefined ? { column: flags.column } : {}),
          settings: this.#given,
        },
        source,
      }),
    );
  }

  /** The job with its input stored (read now unless a resumed job has it already). */
  async ingested(job: JobRecord): Promise<JobRecord> {
    if (job.ingested) return job;
    const input = this.#input;
    const flags = this.#flags;
    const stream = input === '-' ? (this.#io.stdin ?? process.stdin) : createReadStream(input);
    try {
      const name = input === '-' ? 'stdin' : input;
      const summary = await this.#inStore('storing the input', async () => {
        const opened = await openInput(
          stream as AsyncIterable<Uint8Array>,
          flags.column !== undefined ? { column: flags.column } : {},
        );
        const stored = await ingestRows(this.#store, job.id, opened.layout, opened.rows, {
          onMalformed: (row) => {
            this.#io.stderr.write(
              `rcpt bulk: ${name}: ${row.error ?? ''}; row ${row.row} kept as written, not verified (unreadable_row)\n`,
            );
          },
        });
        // Only one column is verified: said when others hold addresses too, as Outlook's three do.
        if (opened.otherAddressColumns.length > 0) {
          const note = addressColumnNote(opened.layout, opened.otherAddressColumns);
          this.#io.stderr.write(`rcpt bulk: ${name}: ${note}; choose another with --column NAME\n`);
        }
        // Said once, for the whole input: the rows are verified as they are.
        if (opened.notUtf8 !== null)
          this.#io.stderr.write(`rcpt bulk: ${name}: warning: ${opened.notUtf8.message}\n`);
        return stored;
      });
      return summary.job;
    } catch (error) {
      if (error instanceof BulkError) throw error;
      if (error instanceof InputError) {
        const hint = error.noAddressColumn ? '; name it with --column' : '';
        throw new UsageError(`${input}: ${error.message}${hint}`);
      }
      throw new BulkError(`cannot read ${input}: ${fsReason(error)}`);
    } finally {
      if ('destroy' in stream && typeof stream.destroy === 'function') stream.destroy();
    }
  }

  /** How to verify: the flags and RCPT_* variables, pointed at the demo world with --demo (started here). */
  async verifyOptions(): Promise<{ options: VerifyOptions; world: DemoWorld | null }> {
    const options = toVerifyOptions(this.#flags, this.#io.env);
    if (this.#flags.demo !== true) return { options, world: null };
    // Loaded only here: a real run does not carry the demo's SMTP and DNS servers.
    const demo = await import('../demo/world.js');
    const world = await demo.startDemoWorld();
    // Flags and RCPT_* variables may change the HELO, sender or timeouts, never where the world is.
    const worldOptions = demo.demoVerifyOptions(world);
    this.#io.stderr.write(`rcpt bulk: --demo: simulated mail world on loopback (DNS ${world.dnsServer})\n`);
    return { options: { ...worldOptions, ...options, ...demo.demoWorldPlace(world) }, world };
  }

  /**
   * Verifies what the job has no result for (here, or by the workers on PostgreSQL), with a progress
   * bar on a terminal; Ctrl-C stops it resumably. Throws `BulkError` unless the job is done.
   */
  async verify(job: JobRecord, options: VerifyOptions): Promise<Awaited<ReturnType<typeof runJob>>> {
    const hostLimits = this.#cluster === null ? this.#hostLimits(options) : null;
    const verifier = createVerifier(hostLimits === null ? options : { ...options, hostLimits });
    const interrupt = new AbortController();
    // Ctrl-C (SIGINT) or a SIGTERM stops the run resumably; a second one ends the process at once.
    const stopped: { by: 'SIGINT' | 'SIGTERM' | null } = { by: null };
    const onSigint = () => {
      stopped.by ??= 'SIGINT';
      interrupt.abort();
    };
    const onSigterm = () => {
      stopped.by ??= 'SIGTERM';
      interrupt.abort();
    };
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigterm);
    const stderr = this.#io.stderr as NodeJS.WritableStream & { isTTY?: boolean };
    const showBar = stderr.isTTY === true && this.#io.env.CI === undefined;
    const cluster = this.#cluster;
    const flags = this.#flags;
    // Set once the run starts (inside the store call below).
    const progress: { bar: ProgressBar | null } = { bar: null };
    // Waits under the ceiling on RCPTs per minute (--host-rate) lengthen the ETA (src/cli/progress.ts).
    const onRateWait = (message: unknown) => {
      progress.bar?.rateWait((message as HostRateWait).waitMs);
    };
    if (showBar) subscribe(CHANNELS.hostRate, onRateWait);
    let outcome;
    try {
      outcome = await this.#inStore('storing results', async () => {
        const stored = await this.#store.getProgress(job.id);
        const seen = { ...counter(), ...stored.counts };
        if (showBar) {
          progress.bar = startProgressBar(stderr, job.totalAddresses, job.doneAddresses, seen);
        }
        if (cluster !== null) {
          return followJob(cluster, job.id, {
            signal: interrupt.signal,
            onProgress: ({ done, counts }) => {
              progress.bar?.update(done, { ...counter(), ...counts });
            },
          });
        }
        // What runs on this store learned of the hosts' limits (one killed before this --resume) is
        // where this one starts: no learning penalty paid twice.
        await hostLimits?.loadAll();
        return runJob(this.#store, job.id, verifier, {
          signal: interrupt.signal,
          verifyMany: {
            ...(flags.hostConcurrency === undefined ? {} : { hostConcurrency: flags.hostConcurrency }),
            ...(flags.slowStart === undefined
              ? {}
              : { slowStart: flags.slowStart === false ? 0 : flags.slowStart }),
          },
          onResult: (result) => {
            seen[result.verdict] += 1;
          },
          onProgress: ({ done }) => {
            progress.bar?.update(done, seen);
          },
        });
      });
    } finally {
      progress.bar?.stop();
      if (showBar) unsubscribe(CHANNELS.hostRate, onRateWait);
      process.removeListener('SIGINT', onSigint);
      process.removeListener('SIGTERM', onSigterm);
      await verifier.close();
      await hostLimits?.flush();
    }
    if (outcome.interrupted) {
      const done = `stopped with ${outcome.job.doneAddresses} of ${outcome.job.totalAddresses} addresses done`;
      throw new BulkError(
        this.#readOnce
          ? `${done}; ${this.#onceRead} cannot be resumed: save the list to a file and run again with it`
          : `${done}; run again with --resume to continue (job database ${this.#dbPath})`,
        // As a shell reports a process a signal ended (128 + its number), once the progress is saved.
        stopped.by === null ? 1 : 128 + constants.signals[stopped.by],
      );
    }
    if (outcome.job.status !== 'done') {
      throw new BulkError(
        `job ${outcome.job.id} ${outcome.job.status}: ${outcome.job.error ?? 'unknown error'}`,
      );
    }
    return outcome;
  }

  /**
   * Learned host limits kept in the job store (docs/bulk.md, "What is kept between runs"); runs against
   * another SMTP port (a test world on loopback) keep theirs apart from port 25's.
   */
  #hostLimits(options: VerifyOptions): StoredHostLimitsFacts {
    let said = false;
    return storedHostLimitsFor(this.#store, options, (error) => {
      // A full disk is the job store's own failure: the run's next write meets it and ends with the one
      // line that says so and how to go on; a second line about the same disk only adds noise. Any other
      // failure is said once (the limits are learned again next run).
      if (said || isStoreFull(error)) return;
      said = true;
      this.#io.stderr.write(`rcpt bulk: could not store learned host limits: ${messageOf(error)}\n`);
    });
  }

  /** The output, in input order, from the store; to a temporary file renamed when complete. */
  async writeOutput(finished: JobRecord, target: OutputTarget): Promise<RowCounts> {
    const layout = finished.layout;
    if (layout === null) throw new BulkError(`job ${finished.id} has no input layout`);
    const rows: RowCounts = {
      total: 0,
      unreadable: 0,
      counts: counter(),
      reasons: new Map<string, number>(),
      unreached: new UnreachedWatch(),
    };
    const chunks = formatOutput(countRows(this.#store.readOutput(finished.id), rows), layout, this.#format, {
      csvFormulas: this.#flags.csvFormulas ?? 'escape',
    });
    const temporary = target.kind === 'file' ? `${target.path}.tmp-${process.pid}` : null;
    try {
      if (target.kind === 'stdout') await pipeText(chunks, this.#io.stdout);
      else if (temporary === null) await writeFileText(target.path, chunks, { sync: false });
      else {
        await writeFileText(temporary, chunks, { sync: true });
        await rename(temporary, target.path);
      }
    } catch (error) {
      if (temporary !== null) await rm(temporary, { force: true }).catch(() => undefined);
      const dbPath = this.#dbPath;
      const stored = storeReason(error);
      const reason = stored ?? fsReason(error);
      const name = this.#flags.output ?? 'standard output';
      const again = this.#readOnce
        ? `${this.#onceRead} cannot be resumed: run again with the list in a file`
        : `run again with --resume ${onceFixed(reason)}, or into another file with --resume --db ${dbPath} -o FILE; nothing is verified again`;
      throw new BulkError(
        stored !== null
          ? `the job database ${dbPath} failed while reading the results: ${stored}; the job is kept (${finished.id}): ${again}`
          : `cannot write ${name}: ${reason}; the results are kept (job ${finished.id} in ${dbPath}): ${again}`,
      );
    }
    return rows;
  }

  /** The closing lines on standard error: rows, verdicts, top reasons, where the output and job are. */
  summarise(outcome: Awaited<ReturnType<typeof runJob>>, rows: RowCounts, seconds: number): void {
    const finished = outcome.job;
    const top = [...rows.reasons.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([reason, count]) => `${reason} ${count.toLocaleString('en-US')}`);
    // Each unreadable row has a key of its own, and the rows without an address share one: neither is
    // a distinct address, nor are the rows without one duplicates of each other.
    const noAddress = rows.reasons.get('no_address') ?? 0;
    const duplicates = finished.totalRows - finished.totalAddresses - Math.max(noAddress - 1, 0);
    const distinct = finished.totalAddresses - rows.unreadable - (noAddress > 0 ? 1 : 0);
    this.#io.stderr.write(
      [
        `rcpt bulk: ${plural(rows.total, 'row')} (${plural(distinct, 'distinct address', 'distinct addresses')}${duplicates > 0 ? `, ${plural(duplicates, 'duplicate')}` : ''}${rows.unreadable > 0 ? `, ${plural(rows.unreadable, 'unreadable row')} kept as written, verdict unknown (unreadable_row)` : ''}${noAddress > 0 ? `, ${plural(noAddress, 'row')} without an address, verdict unknown (no_address)` : ''}) in ${seconds.toFixed(1)} s, ${plural(outcome.verified, 'verification')} this run`,
        `  ${VERDICTS.map((verdict) => `${verdict} ${rows.counts[verdict].toLocaleString('en-US')}`).join(', ')}`,
        `  top reasons: ${top.join(', ') || 'none'}`,
        `  output: ${this.#flags.output ?? 'stdout'} (${this.#format}); job ${finished.id} in ${this.#dbPath}`,
        '',
      ].join('\n'),
    );
    this.#io.stderr.write(rows.unreached.hint('bulk'));
    // Nothing was verified: said plainly (the API refuses such an upload with a 400 saying the same),
    // but not an error: an empty list piped in by a script is not a failure of the run.
    if (rows.total === 0) {
      this.#io.stderr.write(
        `rcpt bulk: warning: ${this.#input === '-' ? 'standard input' : this.#input} has no rows with an address (an empty file, or a header only): nothing was verified\n`,
      );
    }
  }

  /** A job store failure (a full disk, SQLITE_FULL) becomes one line saying what failed and how to go on. */
  async #inStore<T>(doing: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const reason = storeReason(error);
      if (reason === null) throw error;
      throw new BulkError(
        `the job database ${this.#dbPath} failed while ${doing}: ${reason}; ${
          this.#readOnce
            ? `run again ${onceFixed(reason)} (${this.#onceRead} cannot be resumed)`
            : `the job is kept: run again with --resume ${onceFixed(reason)} (addresses with a stored result are not verified again)`
        }`,
      );
    }
  }
}

/** The rows as they are read, counted into `rows` (unreadable rows apart: no address, no verdict). */
async function* countRows<T extends { error: string | null; result: VerifyResult | null }>(
  source: AsyncIterable<T>,
  rows: RowCounts,
): AsyncGenerator<T> {
  for await (const row of source) {
    rows.total += 1;
    if (row.error !== null) rows.unreadable += 1;
    else if (row.result !== null) {
      rows.counts[row.result.verdict] += 1;
      rows.reasons.set(row.result.reason, (rows.reasons.get(row.result.reason) ?? 0) + 1);
      rows.unreached.see(row.result);
    }
    yield row;
  }
}
