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
import { dirname, resolve } from 'node:path';

import { Option, type Command } from 'commander';

import { CHANNELS, VERDICTS, createVerifier, type HostRateWait, type Verdict } from '../index.js';
import {
  CSV_FORMULAS,
  InputError,
  OUTPUT_FORMATS,
  compareSettings,
  describeDifferences,
  recordedSettings,
  formatOutput,
  ingestInput,
  openSqliteJobStore,
  runJob,
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
  dbOpenFailure,
  fsReason,
  messageOf,
  onceFixed,
  pipeText,
  storeReason,
  writeFileText,
} from './bulk-output.js';
import { startProgressBar, type ProgressBar } from './progress.js';
import type { CliIo } from './run-verify.js';
import {
  integer,
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
export interface BulkFlags extends SharedFlags {
  output?: string;
  format?: string;
  csvFormulas?: CsvFormulas;
  column?: string;
  resume?: boolean;
  hostConcurrency?: number;
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
      .option('-o, --output <file>', 'write results here (default: standard output)')
      .addOption(
        new Option('--format <format>', 'output format (default: csv, or from the output file name)').choices(
          OUTPUT_FORMATS,
        ),
      )
      .addOption(
        new Option(
          '--csv-formulas <mode>',
          "CSV cells starting with = + - @ tab or CR: escape puts a ' before them so spreadsheets do not run them as formulas; keep writes them as they are (default escape)",
        ).choices(CSV_FORMULAS),
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
        new Option('--host-concurrency <n>', 'connections at once per MX host (default 2)').argParser(
          integer('--host-concurrency', 1, 100),
        ),
      )
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
  const column = settings['--column'];
  if (typeof column === 'string') flags.column = column;
  const format = settings['--format'];
  if (typeof format === 'string') flags.format = format;
  if (settings['--demo'] === true) flags.demo = true;
  return flags;
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

function plural(count: number, word: string, words = `${word}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? word : words}`;
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
  // On --resume, the job's recorded settings fill in what is not given (below).
  let flags = givenFlags;
  const fromStdin = input === '-';
  if (fromStdin && flags.resume === true) {
    throw new UsageError('--resume needs an input file: standard input cannot be read again');
  }
  const source: JobSource = fromStdin
    ? { path: null, size: null, mtimeMs: null, headSha256: null }
    : await fingerprint(input);
  if (!fromStdin) await refuseInputAsOutput(input, flags);

  // Scale-out: with a postgres:// job store (--db or RCPT_DB), `rcpt worker` processes verify the job
  // and this command submits it, follows it, and writes the output.
  const pgUrl = [flags.db, io.env.RCPT_DB].find((db) => db !== undefined && isPostgresUrl(db)) ?? null;
  if (pgUrl !== null && flags.demo === true) {
    throw new UsageError(
      '--demo runs its world in this process; it cannot be combined with a postgres:// --db',
    );
  }
  // A doomed output is refused before anything is stored or verified (and before its default job
  // database is created beside it).
  const target = await checkOutput(
    flags.output,
    pgUrl === null && flags.db === undefined,
    'nothing was verified',
  );
  // The job database goes beside an output file unless --db says otherwise; a device or FIFO gets
  // the default of standard output, not a database among the devices.
  const dbBeside = pgUrl === null && flags.db === undefined && target.kind === 'file';
  const dbPath = pgUrl ?? resolve(flags.db ?? (dbBeside ? `${target.path}.rcpt.db` : DEFAULT_DB));
  let store: JobStore;
  let cluster: ScaleOut | null = null;
  try {
    if (pgUrl !== null) {
      cluster = await openScaleOut(pgUrl, {
        supervise: false,
        ...(io.env.RCPT_PG_SCHEMA === undefined ? {} : { schema: io.env.RCPT_PG_SCHEMA }),
      });
      store = cluster.store;
    } else {
      // The default beside the output needs no directory: checkOutput() found the output's.
      if (!dbBeside) await mkdir(dirname(dbPath), { recursive: true });
      store = openSqliteJobStore(dbPath);
    }
  } catch (error) {
    const reason = pgUrl === null ? await dbOpenFailure(error, dbPath) : messageOf(error);
    const space = /\((ENOSPC|EDQUOT|SQLITE_FULL)\)/.test(reason) ? 'free some space, or ' : '';
    const hint =
      flags.db !== undefined
        ? `${space}give --db a writable place`
        : `${space}--db FILE puts it elsewhere (by default it is ${dbBeside ? 'beside the output' : `${DEFAULT_DB} in the current directory`})`;
    throw new BulkError(`cannot open the job database ${dbPath}: ${reason}; nothing was verified: ${hint}`);
  }
  // A job store failure (a full disk, SQLITE_FULL) becomes one line saying what failed and how to go on.
  const inStore = async <T>(doing: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      const reason = storeReason(error);
      if (reason === null) throw error;
      throw new BulkError(
        `the job database ${dbPath} failed while ${doing}: ${reason}; ${
          fromStdin
            ? `run again ${onceFixed(reason)} (standard input cannot be resumed)`
            : `the job is kept: run again with --resume ${onceFixed(reason)} (addresses with a stored result are not verified again)`
        }`,
      );
    }
  };
  let world: DemoWorld | null = null;
  try {
    let job: JobRecord | null = null;
    const previous =
      source.path === null
        ? null
        : await inStore('reading', () => store.findJobBySourcePath(source.path ?? ''));
    if (flags.resume === true) {
      if (previous === null) {
        io.stderr.write(`rcpt bulk: no job for ${input} in ${dbPath}; starting a new one\n`);
      } else if (!sameSource(previous.source, source)) {
        throw new BulkError(
          `${input} changed since job ${previous.id} read it (size, time or content); run without --resume to start again`,
        );
      } else {
        job = previous;
        flags = { ...givenFlags, ...bulkFlagsOf(await resumeSettings(job, given, givenFlags, store, io)) };
        io.stderr.write(
          `rcpt bulk: resuming job ${job.id} (${job.doneAddresses.toLocaleString('en-US')} of ${job.totalAddresses.toLocaleString('en-US')} addresses done)\n`,
        );
      }
    } else if (previous !== null && previous.status !== 'done') {
      io.stderr.write(`rcpt bulk: job ${previous.id} for this input did not finish; --resume continues it\n`);
    }
    const format = givenFormat(flags) ?? 'csv';
    job ??= await inStore('creating the job', () =>
      store.createJob({
        options: {
          format,
          ...(flags.column !== undefined ? { column: flags.column } : {}),
          settings: given,
        },
        source,
      }),
    );

    if (!job.ingested) {
      const stream = fromStdin ? (io.stdin ?? process.stdin) : createReadStream(input);
      const jobId = job.id;
      try {
        const summary = await inStore('storing the input', () =>
          ingestInput(store, jobId, stream as AsyncIterable<Uint8Array>, {
            ...(flags.column !== undefined ? { column: flags.column } : {}),
            onMalformed: (row) => {
              io.stderr.write(
                `rcpt bulk: ${input === '-' ? 'stdin' : input}: ${row.error ?? ''}; row ${row.row} kept as written, not verified (unreadable_row)\n`,
              );
            },
          }),
        );
        job = summary.job;
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

    let options = toVerifyOptions(flags, io.env);
    if (flags.demo === true) {
      // Loaded only here: a real run does not carry the demo's SMTP and DNS servers.
      const demo = await import('../demo/world.js');
      world = await demo.startDemoWorld();
      // Flags and RCPT_* variables may change the HELO, sender or timeouts, never where the world is.
      const worldOptions = demo.demoVerifyOptions(world);
      options = {
        ...worldOptions,
        ...options,
        dnsServers: worldOptions.dnsServers ?? [],
        smtpPort: world.smtpPort,
        allowPrivateTargets: true,
      };
      io.stderr.write(`rcpt bulk: --demo: simulated mail world on loopback (DNS ${world.dnsServer})\n`);
    }
    const verifier = createVerifier(options);
    const interrupt = new AbortController();
    const onSigint = () => {
      interrupt.abort();
    };
    process.once('SIGINT', onSigint);
    const stderr = io.stderr as NodeJS.WritableStream & { isTTY?: boolean };
    const showBar = stderr.isTTY === true && io.env.CI === undefined;
    // Set once the run starts (inside the store call below).
    const progress: { bar: ProgressBar | null } = { bar: null };
    // Waits under the ceiling on RCPTs per minute (--host-rate) lengthen the ETA (src/cli/progress.ts).
    const onRateWait = (message: unknown) => {
      progress.bar?.rateWait((message as HostRateWait).waitMs);
    };
    if (showBar) subscribe(CHANNELS.hostRate, onRateWait);
    let outcome;
    try {
      const running = job;
      outcome = await inStore('storing results', async () => {
        const stored = await store.getProgress(running.id);
        const seen = { ...counter(), ...stored.counts };
        if (showBar) {
          progress.bar = startProgressBar(stderr, running.totalAddresses, running.doneAddresses, seen);
        }
        if (cluster !== null) {
          return followJob(cluster, running.id, {
            signal: interrupt.signal,
            onProgress: ({ done, counts }) => {
              progress.bar?.update(done, { ...counter(), ...counts });
            },
          });
        }
        return runJob(store, running.id, verifier, {
          signal: interrupt.signal,
          verifyMany: flags.hostConcurrency !== undefined ? { hostConcurrency: flags.hostConcurrency } : {},
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
      await verifier.close();
    }
    if (outcome.interrupted) {
      throw new BulkError(
        `stopped with ${outcome.job.doneAddresses} of ${outcome.job.totalAddresses} addresses done; run again with --resume to continue (job database ${dbPath})`,
      );
    }
    if (outcome.job.status !== 'done') {
      throw new BulkError(
        `job ${outcome.job.id} ${outcome.job.status}: ${outcome.job.error ?? 'unknown error'}`,
      );
    }

    // The output, in input order, from the store; to a temporary file renamed when complete.
    const finished = outcome.job;
    const layout = finished.layout;
    if (layout === null) throw new BulkError(`job ${finished.id} has no input layout`);
    const rows = { total: 0, unreadable: 0, counts: counter(), reasons: new Map<string, number>() };
    const counted = (async function* () {
      for await (const row of store.readOutput(finished.id)) {
        rows.total += 1;
        // Rows that could not be read are counted apart: they are not addresses, and have no verdict.
        if (row.error !== null) rows.unreadable += 1;
        else if (row.result !== null) {
          rows.counts[row.result.verdict] += 1;
          rows.reasons.set(row.result.reason, (rows.reasons.get(row.result.reason) ?? 0) + 1);
        }
        yield row;
      }
    })();
    const chunks = formatOutput(counted, layout, format, { csvFormulas: flags.csvFormulas ?? 'escape' });
    const temporary = target.kind === 'file' ? `${target.path}.tmp-${process.pid}` : null;
    try {
      if (target.kind === 'stdout') await pipeText(chunks, io.stdout);
      else if (temporary === null) await writeFileText(target.path, chunks, { sync: false });
      else {
        await writeFileText(temporary, chunks, { sync: true });
        await rename(temporary, target.path);
      }
    } catch (error) {
      if (temporary !== null) await rm(temporary, { force: true }).catch(() => undefined);
      const stored = storeReason(error);
      const reason = stored ?? fsReason(error);
      const name = flags.output ?? 'standard output';
      const again = fromStdin
        ? 'standard input cannot be resumed: run again with the list in a file'
        : `run again with --resume ${onceFixed(reason)}, or into another file with --resume --db ${dbPath} -o FILE; nothing is verified again`;
      throw new BulkError(
        stored !== null
          ? `the job database ${dbPath} failed while reading the results: ${stored}; the job is kept (${finished.id}): ${again}`
          : `cannot write ${name}: ${reason}; the results are kept (job ${finished.id} in ${dbPath}): ${again}`,
      );
    }

    const seconds = (performance.now() - started) / 1000;
    const top = [...rows.reasons.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([reason, count]) => `${reason} ${count.toLocaleString('en-US')}`);
    const duplicates = finished.totalRows - finished.totalAddresses;
    // Each unreadable row has a key of its own: not a distinct address.
    const distinct = finished.totalAddresses - rows.unreadable;
    io.stderr.write(
      [
        `rcpt bulk: ${plural(rows.total, 'row')} (${plural(distinct, 'distinct address', 'distinct addresses')}${duplicates > 0 ? `, ${plural(duplicates, 'duplicate')}` : ''}${rows.unreadable > 0 ? `, ${plural(rows.unreadable, 'unreadable row')} kept as written, verdict unknown (unreadable_row)` : ''}) in ${seconds.toFixed(1)} s, ${plural(outcome.verified, 'verification')} this run`,
        `  ${VERDICTS.map((verdict) => `${verdict} ${rows.counts[verdict].toLocaleString('en-US')}`).join(', ')}`,
        `  top reasons: ${top.join(', ') || 'none'}`,
        `  output: ${flags.output ?? 'stdout'} (${format}); job ${finished.id} in ${dbPath}`,
        '',
      ].join('\n'),
    );
  } finally {
    await (cluster ?? store).close();
    await world?.close();
  }
}
