/**
 * `rcpt/jobs` (package.json `exports`; docs/library.md, docs/bulk.md): a list made a resumable job. The
 * job store and its SQLite implementation, input reading and ingest, the output formats, the runner and
 * the settings a job records. Loads better-sqlite3; the main entry `rcpt` does not.
 */
export {
  JOB_STATUSES,
  type DomainFacts,
  type InputLayout,
  type JobItem,
  type JobProgress,
  type JobRecord,
  type JobSource,
  type JobStatus,
  type JobStore,
  type KeyedResult,
  type NewJob,
  type OutputRow,
  type PendingAddress,
  type StoredHostLimits,
  type JobWebhookFlags,
  type WebhookDelivery,
  type WebhookOutcome,
} from './job-store.js';
export { openSqliteJobStore, type SqliteJobStoreOptions } from './sqlite-job-store.js';
export {
  HOST_LIMITS_TTL_MS,
  StoredHostLimitsFacts,
  mergeHostLimits,
  storedHostLimitsFor,
  type HostLimitsStore,
  type StoredHostLimitsOptions,
} from './host-limits.js';
export { addressKey } from './address-key.js';
export {
  addressColumnNote,
  openInput,
  textDecoderOf,
  LIST_LAYOUT,
  MAX_LINE_CHARS,
  type InputRow,
  type OpenedInput,
  type NotUtf8,
  type ReadInputOptions,
} from './read-input.js';
export { ingestInput, ingestRows, type IngestOptions, type IngestSummary } from './ingest.js';
export { InputError, InputTooLargeError, JobError, JobStoreError, type JobErrorKind } from './errors.js';
export {
  formatOutput,
  CSV_FORMULAS,
  OUTPUT_FORMATS,
  RESULT_COLUMNS,
  type CsvFormulas,
  type FormatOptions,
  type OutputFormat,
} from './write-output.js';
export { runJob, type RunJobOptions, type RunOutcome, type RunProgress } from './run-job.js';
export {
  compareSettings,
  describeDifferences,
  recordedSettings,
  type JobSettings,
  type SettingDifference,
  type SettingValue,
} from './job-settings.js';
