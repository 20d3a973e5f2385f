/** Scale-out on PostgreSQL (docs/scale-out.md): the job store, the pg-boss queue and the worker. */
export {
  openPgJobStore,
  isPostgresUrl,
  DEFAULT_PG_SCHEMA,
  type PgJobStore,
  type PgJobStoreOptions,
} from './pg-job-store.js';
export {
  openScaleOut,
  PLAN_QUEUE,
  HOST_QUEUE,
  DEFAULT_PLAN_EXPIRE_SECONDS,
  DEFAULT_MAINTENANCE_SECONDS,
  type ScaleOut,
  type ScaleOutOptions,
} from './scale-out.js';
export {
  startWorker,
  hostOfRoute,
  NO_SMTP_HOST,
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
