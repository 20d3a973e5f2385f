/** Jobs (docs/bulk.md, docs/architecture.md): the job store, its SQLite implementation, input reading, output and the runner. */
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
  type JobWebhookFlags,
  type WebhookDelivery,
  type WebhookOutcome,
} from './job-store.js';
export { openSqliteJobStore, type SqliteJobStoreOptions } from './sqlite-job-store.js';
export { addressKey } from './address-key.js';
export {
  openInput,
  detectDelimiter,
  parseFields,
  looseFields,
  InputError,
  MAX_LINE_CHARS,
  type InputRow,
  type OpenedInput,
  type ReadInputOptions,
} from './read-input.js';
export { ingestInput, InputTooLargeError, type IngestOptions, type IngestSummary } from './ingest.js';
export {
  formatOutput,
  csvHeader,
  outputRecord,
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
