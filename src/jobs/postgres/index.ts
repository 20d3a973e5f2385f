/**
 * `rcpt/jobs/postgres` (package.json `exports`; docs/library.md, docs/scale-out.md): scale-out on
 * PostgreSQL, the job store, the pg-boss queue and the worker. `pg` and `pg-boss` are loaded when a
 * store or queue is opened, not by importing this entry.
 */
export {
  openPgJobStore,
  isPostgresUrl,
  DEFAULT_PG_SCHEMA,
  type PgJobStore,
  type PgJobStoreOptions,
} from './pg-job-store.js';
export {
  openScaleOut,
  DEFAULT_PLAN_EXPIRE_SECONDS,
  DEFAULT_MAINTENANCE_SECONDS,
  type ScaleOut,
  type ScaleOutOptions,
} from './scale-out.js';
export {
  startWorker,
  DEFAULT_WORKER_CONCURRENCY,
  DEFAULT_CLUSTER_HOST_CONCURRENCY,
  DEFAULT_LEASE_MS,
  DEFAULT_POLL_MS,
  DEFAULT_CLUSTER_GREYLIST_RETRIES,
  DEFAULT_DOMAIN_CACHE_TTL_MS,
  type RunningWorker,
  type WorkerEvent,
  type WorkerOptions,
} from './worker.js';
export { followJob, DEFAULT_FOLLOW_POLL_MS, type FollowJobOptions } from './follow-job.js';
