/**
 * The job store on SQLite (better-sqlite3@12: version 13 needs Node 22 and crashes on Node 20), the
 * default for one machine. WAL mode, so a reader (the HTTP server polling progress) never blocks the
 * writer; every call is one transaction, so thousands of rows cost one fsync.
 */
import { randomBytes } from 'node:crypto';

import Database from 'better-sqlite3';

import {
  toJobProgress,
  toJobRecord,
  toOutputRow,
  toWebhookDelivery,
  webhookFlagsOf,
  type StoredDeliveryRow,
  type StoredJobRow,
  type StoredOutputRow,
  type StoredResultCount,
  toStoredHostLimits,
  type StoredHostLimitsRow,
} from './stored-rows.js';
import { HOST_LIMITS_TTL_MS, hostOfLimitsKey, mergeHostLimits } from './host-limits.js';
import { JobStoreError, noSuchJob } from './errors.js';
import type {
  JobItem,
  JobRecord,
  JobStore,
  KeyedResult,
  NewJob,
  PendingAddress,
  StoredHostLimits,
  WebhookDelivery,
} from './job-store.js';
import type { HostLimitsRecord } from '../types.js';

/** Bumped when the schema changes; `PRAGMA user_version` records what a file has. */
const SCHEMA_VERSION = 3;
/** Rows per page when reading output: bounded memory, and no read statement held open across awaits. */
const DEFAULT_OUTPUT_PAGE = 1_000;
/** Rows deleted per statement when a job is deleted. */
const DELETE_CHUNK = 2_000;
/** How long a writer waits for another process's lock before failing (a server and a CLI on one file). */
const BUSY_TIMEOUT_MS = 5_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  owner TEXT,
  status TEXT NOT NULL CHECK (status IN ('queued','running','done','cancelled','failed')),
  created_at TEXT NOT NULL,
  started_at TEXT,
  updated_at TEXT NOT NULL,
  options TEXT NOT NULL,
  source TEXT,
  source_path TEXT,
  layout TEXT,
  ingested INTEGER NOT NULL DEFAULT 0,
  total_rows INTEGER NOT NULL DEFAULT 0,
  total_addresses INTEGER NOT NULL DEFAULT 0,
  done_addresses INTEGER NOT NULL DEFAULT 0,
  error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_source_path ON jobs (source_path, created_at);
CREATE TABLE IF NOT EXISTS items (
  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  row INTEGER NOT NULL,
  line INTEGER NOT NULL,
  key TEXT NOT NULL,
  input TEXT NOT NULL,
  fields TEXT,
  error TEXT,
  PRIMARY KEY (job_id, row)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_key ON items (job_id, key);
CREATE TABLE IF NOT EXISTS results (
  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  verdict TEXT NOT NULL,
  reason TEXT NOT NULL,
  result TEXT NOT NULL,
  checked_at TEXT NOT NULL,
  PRIMARY KEY (job_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS domain_cache (
  domain TEXT PRIMARY KEY,
  mx TEXT,
  catch_all INTEGER,
  provider TEXT,
  expires_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
-- Version 2. A small integer per job for APIs that want one (Reacher's bulk job_id); AUTOINCREMENT so a
-- number is never given twice.
CREATE TABLE IF NOT EXISTS job_numbers (
  number INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE
);
-- Webhook calls owed, written in the transaction that causes them (see JobStore.claimWebhookDeliveries).
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  event TEXT NOT NULL CHECK (event IN ('result','end')),
  key TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  last_error TEXT,
  UNIQUE (job_id, event, key)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_at);
-- Version 3. Limits learned at MX hosts (src/jobs/host-limits.ts): the record as JSON, under the
-- scheduler's host key; host is its MX address. Times are epoch milliseconds.
CREATE TABLE IF NOT EXISTS host_limits (
  key TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  record TEXT NOT NULL,
  learned_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS host_limits_host ON host_limits (host);
`;

type JobRow = StoredJobRow;
type HostLimitsRow = StoredHostLimitsRow;
type ItemRow = StoredOutputRow;

export interface SqliteJobStoreOptions {
  /** Open an existing file read-only (a process that only watches progress). Default false. */
  readonly readonly?: boolean;
  /**
   * Caps the file at this many pages (`PRAGMA max_page_count`, this connection only): a write that
   * needs more fails with SQLITE_FULL, as on a full disk. For tests of that case; default no cap.
   */
  readonly maxPageCount?: number;
}

/** Runs a synchronous call as a promise: what it throws becomes the promise's rejection. */
function settle<T>(call: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(call());
  });
}

/** An ISO 8601 timestamp, as the job rows store times. */
const now = () => new Date().toISOString();

/** Opens the file and brings its schema up to date; closes it again if that fails. */
function openDatabase(path: string, options: SqliteJobStoreOptions): Database.Database {
  const db = new Database(path, { readonly: options.readonly === true });
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (options.readonly !== true) {
      db.pragma('journal_mode = WAL');
      // With WAL, NORMAL loses no committed transaction when the *process* dies (kill -9), only on power
      // loss (sqlite.org/pragma.html#pragma_synchronous); a resumed job re-verifies what was lost.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new JobStoreError(
          `${path}: job store schema ${version} is newer than this rcpt (${SCHEMA_VERSION})`,
        );
      }
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      if (options.maxPageCount !== undefined) {
        db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxPageCount))}`);
      }
    }
  } catch (error) {
    // A full disk (SQLITE_FULL creating the schema) or a directory that takes no -wal file: the caller
    // gets the error, not a handle left open on the file.
    db.close();
    throw error;
  }
  return db;
}

/** Every statement the store runs, prepared once per connection. */
function prepareStatements(db: Database.Database) {
  return {
    insertJob: db.prepare(
      `INSERT INTO jobs (id, owner, status, created_at, updated_at, options, source, source_path, layout)
       VALUES (@id, @owner, 'queued', @now, @now, @options, @source, @sourcePath, @layout)`,
    ),
    getJob: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?'),
    findBySource: db.prepare<[string], JobRow>(
      'SELECT * FROM jobs WHERE source_path = ? ORDER BY created_at DESC, rowid DESC LIMIT 1',
    ),
    setLayout: db.prepare('UPDATE jobs SET layout = ?, updated_at = ? WHERE id = ?'),
    setOptions: db.prepare('UPDATE jobs SET options = ?, updated_at = ? WHERE id = ?'),
    insertItem: db.prepare(
      `INSERT INTO items (job_id, row, line, key, input, fields, error)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, row) DO NOTHING`,
    ),
    totals: db.prepare<[string], { rows: number; addresses: number }>(
      'SELECT count(*) AS rows, count(DISTINCT key) AS addresses FROM items WHERE job_id = ?',
    ),
    doneCount: db.prepare<[string], { done: number }>(
      'SELECT count(*) AS done FROM results WHERE job_id = ?',
    ),
    finishIngest: db.prepare(
      `UPDATE jobs SET ingested = 1, total_rows = ?, total_addresses = ?, done_addresses = ?,
       updated_at = ? WHERE id = ?`,
    ),
    setStatus: db.prepare(
      `UPDATE jobs SET status = @status, error = @error, updated_at = @now,
       started_at = CASE WHEN @status = 'running' AND started_at IS NULL THEN @now ELSE started_at END
       WHERE id = @id AND (@from IS NULL OR status IN (SELECT value FROM json_each(@from)))`,
    ),
    pending: db.prepare<[string, string, string, number], PendingAddress>(
      `SELECT i.key AS key, min(i.input) AS input FROM items i
       WHERE i.job_id = ? AND i.key > ? AND i.error IS NULL
         AND NOT EXISTS (SELECT 1 FROM results r WHERE r.job_id = ? AND r.key = i.key)
       GROUP BY i.key ORDER BY i.key LIMIT ?`,
    ),
    insertResult: db.prepare(
      `INSERT INTO results (job_id, key, verdict, reason, result, checked_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_id, key) DO NOTHING`,
    ),
    replaceResult: db.prepare(
      'UPDATE results SET verdict = ?, reason = ?, result = ?, checked_at = ? WHERE job_id = ? AND key = ?',
    ),
    addDone: db.prepare('UPDATE jobs SET done_addresses = done_addresses + ?, updated_at = ? WHERE id = ?'),
    verdictCounts: db.prepare<[string], StoredResultCount>(
      'SELECT verdict, reason, count(*) AS n FROM results WHERE job_id = ? GROUP BY verdict, reason',
    ),
    outputPage: db.prepare<[string, string, number, number], ItemRow>(
      `SELECT i.row, i.line, i.key, i.input, i.fields, i.error, r.result FROM items i
       LEFT JOIN results r ON r.job_id = ? AND r.key = i.key
       WHERE i.job_id = ? AND i.row > ? ORDER BY i.row LIMIT ?`,
    ),
    deleteJob: db.prepare('DELETE FROM jobs WHERE id = ?'),
    deleteResults: db.prepare<[string, string, number]>(
      'DELETE FROM results WHERE job_id = ? AND key IN (SELECT key FROM results WHERE job_id = ? LIMIT ?)',
    ),
    deleteItems: db.prepare<[string, string, number]>(
      'DELETE FROM items WHERE job_id = ? AND row IN (SELECT row FROM items WHERE job_id = ? LIMIT ?)',
    ),
    deleteDeliveries: db.prepare<[string, string, number]>(
      'DELETE FROM webhook_deliveries WHERE job_id = ? AND id IN (SELECT id FROM webhook_deliveries WHERE job_id = ? LIMIT ?)',
    ),
    getDomain: db.prepare<
      [string, number],
      {
        domain: string;
        mx: string | null;
        catch_all: number | null;
        provider: string | null;
        expires_at: number;
      }
    >('SELECT * FROM domain_cache WHERE domain = ? AND expires_at > ?'),
    putDomain: db.prepare(
      `INSERT INTO domain_cache (domain, mx, catch_all, provider, expires_at, updated_at)
       VALUES (@domain, @mx, @catchAll, @provider, @expiresAt, @now)
       ON CONFLICT (domain) DO UPDATE SET mx = excluded.mx, catch_all = excluded.catch_all,
       provider = excluded.provider, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
    ),
    purgeDomains: db.prepare('DELETE FROM domain_cache WHERE expires_at <= ?'),
    hostLimits: db.prepare<[number], HostLimitsRow>(
      'SELECT key, record, learned_at, expires_at FROM host_limits WHERE expires_at > ?',
    ),
    hostLimitsOf: db.prepare<[string, number], HostLimitsRow>(
      `SELECT key, record, learned_at, expires_at FROM host_limits
       WHERE host IN (SELECT value FROM json_each(?)) AND expires_at > ?`,
    ),
    hostLimitsAt: db.prepare<[string, number], HostLimitsRow>(
      'SELECT key, record, learned_at, expires_at FROM host_limits WHERE key = ? AND expires_at > ?',
    ),
    putHostLimits: db.prepare(
      `INSERT INTO host_limits (key, host, record, learned_at, expires_at)
       VALUES (@key, @host, @record, @learnedAt, @expiresAt)
       ON CONFLICT (key) DO UPDATE SET record = excluded.record, learned_at = excluded.learned_at,
       expires_at = excluded.expires_at`,
    ),
    purgeHostLimits: db.prepare('DELETE FROM host_limits WHERE expires_at <= ?'),
    jobOptions: db.prepare<[string], { options: string }>('SELECT options FROM jobs WHERE id = ?'),
    insertNumber: db.prepare('INSERT INTO job_numbers (job_id) VALUES (?) ON CONFLICT (job_id) DO NOTHING'),
    numberOf: db.prepare<[string], { number: number }>('SELECT number FROM job_numbers WHERE job_id = ?'),
    idOfNumber: db.prepare<[number], { job_id: string }>('SELECT job_id FROM job_numbers WHERE number = ?'),
    owe: db.prepare(
      `INSERT INTO webhook_deliveries (job_id, event, key, next_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (job_id, event, key) DO NOTHING`,
    ),
    // Jobs that ended with an end webhook and do not owe it yet (a job ended by any process or path).
    endedWithWebhook: db.prepare<[], { id: string; options: string }>(
      `SELECT j.id, j.options FROM jobs j
       WHERE j.status IN ('done','cancelled','failed') AND j.options LIKE '%"onEnd":true%'
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.job_id = j.id AND d.event = 'end')`,
    ),
    due: db.prepare<[number, number], StoredDeliveryRow>(
      `SELECT d.id, d.job_id, d.event, d.key, d.attempts, r.result FROM webhook_deliveries d
       LEFT JOIN results r ON d.event = 'result' AND r.job_id = d.job_id AND r.key = d.key
       WHERE d.state = 'pending' AND d.next_at <= ? ORDER BY d.next_at, d.id LIMIT ?`,
    ),
    hold: db.prepare('UPDATE webhook_deliveries SET next_at = ? WHERE id = ?'),
    settle: db.prepare(
      `UPDATE webhook_deliveries SET state = @state, attempts = attempts + 1, last_error = @error,
       next_at = coalesce(@nextAt, next_at) WHERE id = @id`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * Opens (and creates or migrates) a job store in a SQLite file. `':memory:'` gives a private store.
 *
 * @example
 * const store = openSqliteJobStore('jobs.rcpt.db');
 * const job = await store.createJob({ options: {} });
 */
export function openSqliteJobStore(path: string, options: SqliteJobStoreOptions = {}): JobStore {
  return new SqliteJobStore(openDatabase(path, options));
}

/**
 * The store over one connection. Every method answers through settle(): better-sqlite3 throws
 * synchronously (no such job, a foreign key, a closed file), and a caller of a Promise-returning
 * method catches with `.catch()`. Calls that write several rows are one transaction each.
 */
class SqliteJobStore implements JobStore {
  readonly #db: Database.Database;
  readonly #statements: Statements;
  readonly #addItems: (id: string, items: readonly JobItem[]) => void;
  readonly #putResults: (id: string, results: readonly KeyedResult[]) => number;
  readonly #claimDeliveries: (at: number, leaseMs: number, limit: number) => WebhookDelivery[];
  readonly #numberJob: (id: string) => number;
  readonly #finishIngest: (id: string) => void;
  readonly #putHostLimits: (key: string, record: HostLimitsRecord, now: number) => StoredHostLimits;

  constructor(db: Database.Database) {
    this.#db = db;
    const statements = prepareStatements(db);
    this.#statements = statements;
    this.#addItems = db.transaction((id: string, items: readonly JobItem[]) => {
      for (const item of items) {
        statements.insertItem.run(
          id,
          item.row,
          item.line,
          item.key,
          item.input,
          item.fields === null ? null : JSON.stringify(item.fields),
          item.error,
        );
      }
    });
    this.#putResults = db.transaction((id: string, results: readonly KeyedResult[]) =>
      putResults(statements, id, results),
    );
    this.#claimDeliveries = db.transaction(
      (at: number, leaseMs: number, limit: number): WebhookDelivery[] => {
        for (const job of statements.endedWithWebhook.all()) {
          if (webhookFlagsOf(job.options).onEnd) statements.owe.run(job.id, 'end', '', at);
        }
        const rows = statements.due.all(at, limit);
        for (const row of rows) statements.hold.run(at + leaseMs, row.id);
        return rows.map(toWebhookDelivery);
      },
    );
    this.#numberJob = db.transaction((id: string): number => {
      statements.insertNumber.run(id);
      const row = statements.numberOf.get(id);
      if (row === undefined) throw noSuchJob(id);
      return row.number;
    });
    this.#finishIngest = db.transaction((id: string) => {
      const totals = statements.totals.get(id) ?? { rows: 0, addresses: 0 };
      const done = statements.doneCount.get(id)?.done ?? 0;
      statements.finishIngest.run(totals.rows, totals.addresses, done, now(), id);
    });
    this.#putHostLimits = db.transaction((key: string, record: HostLimitsRecord, at: number) =>
      putHostLimits(statements, key, record, at),
    );
  }

  #requireJob(id: string): JobRecord {
    const row = this.#statements.getJob.get(id);
    if (row === undefined) throw noSuchJob(id);
    return toJobRecord(row);
  }

  createJob(job: NewJob): Promise<JobRecord> {
    return settle(() => {
      // 128 bits from the CSPRNG (a v4 UUID carries 122): the id is a capability in URLs and logs.
      const id = randomBytes(16).toString('hex');
      this.#statements.insertJob.run({
        id,
        owner: job.owner ?? null,
        now: now(),
        options: JSON.stringify(job.options ?? {}),
        source: job.source ? JSON.stringify(job.source) : null,
        sourcePath: job.source?.path ?? null,
        layout: job.layout ? JSON.stringify(job.layout) : null,
      });
      return this.#requireJob(id);
    });
  }

  getJob(id: string): Promise<JobRecord | null> {
    return settle(() => {
      const row = this.#statements.getJob.get(id);
      return row === undefined ? null : toJobRecord(row);
    });
  }

  findJobBySourcePath(path: string): Promise<JobRecord | null> {
    return settle(() => {
      const row = this.#statements.findBySource.get(path);
      return row === undefined ? null : toJobRecord(row);
    });
  }

  listJobs(statuses: Parameters<JobStore['listJobs']>[0]): Promise<JobRecord[]> {
    return settle(() => {
      if (statuses.length === 0) return [];
      const marks = statuses.map(() => '?').join(', ');
      const rows = this.#db
        .prepare<string[], JobRow>(`SELECT * FROM jobs WHERE status IN (${marks}) ORDER BY created_at, rowid`)
        .all(...statuses);
      return rows.map(toJobRecord);
    });
  }

  setLayout(id: string, layout: Parameters<JobStore['setLayout']>[1]): Promise<void> {
    return settle(() => {
      this.#statements.setLayout.run(JSON.stringify(layout), now(), id);
    });
  }

  setOptions(id: string, options: Parameters<JobStore['setOptions']>[1]): Promise<void> {
    return settle(() => {
      this.#statements.setOptions.run(JSON.stringify(options), now(), id);
    });
  }

  addItems(id: string, items: readonly JobItem[]): Promise<void> {
    return settle(() => {
      this.#addItems(id, items);
    });
  }

  finishIngest(id: string): Promise<JobRecord> {
    return settle(() => {
      this.#finishIngest(id);
      return this.#requireJob(id);
    });
  }

  setStatus(
    id: string,
    status: Parameters<JobStore['setStatus']>[1],
    error: string | null = null,
    from?: Parameters<JobStore['setStatus']>[3],
  ): Promise<JobRecord> {
    return settle(() => {
      const fromJson = from === undefined ? null : JSON.stringify(from);
      this.#statements.setStatus.run({ id, status, error, now: now(), from: fromJson });
      return this.#requireJob(id);
    });
  }

  pendingAddresses(id: string, afterKey: string | null, limit: number): Promise<PendingAddress[]> {
    // '' sorts before every key, so "after nothing" is "after ''".
    return settle(() => this.#statements.pending.all(id, afterKey ?? '', id, limit));
  }

  putResults(id: string, results: readonly KeyedResult[]): Promise<number> {
    return settle(() => (results.length === 0 ? 0 : this.#putResults(id, results)));
  }

  getProgress(id: string): ReturnType<JobStore['getProgress']> {
    return settle(() => toJobProgress(this.#requireJob(id), this.#statements.verdictCounts.all(id)));
  }

  async *readOutput(
    id: string,
    readOptions: Parameters<JobStore['readOutput']>[1] = {},
  ): ReturnType<JobStore['readOutput']> {
    const pageSize = readOptions.pageSize ?? DEFAULT_OUTPUT_PAGE;
    let after = 0;
    for (;;) {
      // A page at a time, with `.all()`: an open iterator would lock this connection against the
      // runner's writes for as long as the consumer takes (better-sqlite3 allows one active statement).
      const page = this.#statements.outputPage.all(id, id, after, pageSize);
      // Let the runner's writes in between pages (one connection, one thread).
      await Promise.resolve();
      for (const row of page) yield toOutputRow(row);
      const last = page.at(-1);
      if (last === undefined || page.length < pageSize) return;
      after = last.row;
    }
  }

  async deleteJob(id: string): Promise<boolean> {
    // A job's rows go a chunk at a time, the event loop let run between chunks: one statement took a
    // job of 200,000 addresses away in 9 s (load 16), the server answering nobody meanwhile.
    const { deleteResults, deleteItems, deleteDeliveries, deleteJob } = this.#statements;
    for (const rows of [deleteResults, deleteItems, deleteDeliveries]) {
      while ((await settle(() => rows.run(id, id, DELETE_CHUNK).changes)) > 0) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return settle(() => deleteJob.run(id).changes > 0);
  }

  getDomainFacts(domain: string, at = Date.now()): ReturnType<JobStore['getDomainFacts']> {
    return settle(() => {
      const row = this.#statements.getDomain.get(domain, at);
      if (row === undefined) return null;
      return {
        domain: row.domain,
        mx: row.mx === null ? null : (JSON.parse(row.mx) as unknown),
        catchAll: row.catch_all === null ? null : row.catch_all === 1,
        provider: row.provider,
        expiresAt: row.expires_at,
      };
    });
  }

  putDomainFacts(facts: Parameters<JobStore['putDomainFacts']>[0]): Promise<void> {
    return settle(() => {
      this.#statements.putDomain.run({
        domain: facts.domain,
        mx: facts.mx === null || facts.mx === undefined ? null : JSON.stringify(facts.mx),
        catchAll: facts.catchAll === null ? null : facts.catchAll ? 1 : 0,
        provider: facts.provider,
        expiresAt: facts.expiresAt,
        now: Date.now(),
      });
    });
  }

  purgeDomainFacts(at = Date.now()): Promise<number> {
    return settle(() => this.#statements.purgeDomains.run(at).changes);
  }

  getHostLimits(hosts: readonly string[] | null, at = Date.now()): Promise<StoredHostLimits[]> {
    return settle(() => {
      const rows =
        hosts === null
          ? this.#statements.hostLimits.all(at)
          : this.#statements.hostLimitsOf.all(JSON.stringify(hosts), at);
      return rows.flatMap((row) => toStoredHostLimits(row) ?? []);
    });
  }

  putHostLimits(key: string, record: HostLimitsRecord, at = Date.now()): Promise<StoredHostLimits> {
    return settle(() => this.#putHostLimits(key, record, at));
  }

  purgeHostLimits(at = Date.now()): Promise<number> {
    return settle(() => this.#statements.purgeHostLimits.run(at).changes);
  }

  numberJob(id: string): Promise<number> {
    return settle(() => this.#numberJob(id));
  }

  jobIdOfNumber(number: number): Promise<string | null> {
    return settle(() => this.#statements.idOfNumber.get(number)?.job_id ?? null);
  }

  claimWebhookDeliveries(at: number, leaseMs: number, limit: number): Promise<WebhookDelivery[]> {
    return settle(() => this.#claimDeliveries(at, leaseMs, limit));
  }

  settleWebhookDelivery(
    id: number,
    outcome: Parameters<JobStore['settleWebhookDelivery']>[1],
  ): Promise<void> {
    return settle(() => {
      this.#statements.settle.run({
        id,
        state: outcome.state,
        error: outcome.state === 'delivered' ? null : outcome.error,
        nextAt: outcome.state === 'pending' ? outcome.nextAt : null,
      });
    });
  }

  close(): Promise<void> {
    return settle(() => {
      if (this.#db.open) this.#db.close();
    });
  }
}

/**
 * Stores each result once per key (a second result for a key replaces the first, without counting
 * twice) and owes the webhook call for a first result in the same transaction. Runs inside one.
 */
function putResults(statements: Statements, id: string, results: readonly KeyedResult[]): number {
  let added = 0;
  const options = statements.jobOptions.get(id)?.options;
  const owesResults = options !== undefined && webhookFlagsOf(options).onResult;
  const at = Date.now();
  for (const { key, result } of results) {
    const json = JSON.stringify(result);
    const inserted = statements.insertResult.run(
      id,
      key,
      result.verdict,
      result.reason,
      json,
      result.checkedAt,
    );
    if (inserted.changes === 1) {
      added += 1;
      if (owesResults) statements.owe.run(id, 'result', key, at);
    } else statements.replaceResult.run(result.verdict, result.reason, json, result.checkedAt, id, key);
  }
  if (added > 0) statements.addDone.run(added, now(), id);
  return added;
}

/** Merges `record` into what is stored live under `key` and stores it for a TTL. Runs inside a transaction. */
function putHostLimits(
  statements: Statements,
  key: string,
  record: HostLimitsRecord,
  at: number,
): StoredHostLimits {
  const row = statements.hostLimitsAt.get(key, at);
  const before = row === undefined ? null : toStoredHostLimits(row);
  const stored: StoredHostLimits = {
    key,
    record: before === null ? record : mergeHostLimits(before.record, record),
    learnedAt: at,
    expiresAt: at + HOST_LIMITS_TTL_MS,
  };
  statements.putHostLimits.run({
    key,
    host: hostOfLimitsKey(key),
    record: JSON.stringify(stored.record),
    learnedAt: stored.learnedAt,
    expiresAt: stored.expiresAt,
  });
  return stored;
}
