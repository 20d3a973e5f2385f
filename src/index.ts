/**
 * rcpt: email address verification. The main entry of the library (package.json `exports` "."): verify,
 * verifyMany, createVerifier, parsing and typo suggestion, explain, doctor, the result types and the
 * errors. Jobs are `rcpt/jobs` (src/jobs/index.ts), scale-out `rcpt/jobs/postgres`
 * (src/jobs/postgres/index.ts) and the HTTP API `rcpt/server` (src/server/index.ts): importing this
 * entry loads none of their modules (no SQLite, no PostgreSQL driver, no HTTP server).
 *
 * @example
 * import { verify } from 'rcpt';
 * const result = await verify('alice@example.com', { helo: 'probe.example.net', mailFrom: 'verify@example.net' });
 * console.log(result.verdict, result.reason); // "deliverable accepted"
 *
 * Deliberately not exported: the SMTP connection and reply parser, the DNS client, the classifier rules
 * and the provider table (`explainReply()` answers with their ids and sources). They are internals whose
 * shape may change; the result schema (docs/result.md)
 * and the functions below do not.
 */
export * from './types.js';
export * from './errors.js';
export type { ProxyRouteOption, VerifyOptions } from './options.js';
export { parseProxyUrl, type ProxyEndpoint, type ProxyUrlResult } from './proxy/proxy-url.js';
export { parseProxyRoute, type ProxyRoute } from './proxy/proxy-routes.js';
export {
  DEFAULT_SMTP_PORT,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_VERIFY_MANY_CONCURRENCY,
  DEFAULT_HOST_CONCURRENCY,
  DEFAULT_HOST_TRIES,
  DEFAULT_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_GREYLIST_RETRIES,
  DEFAULT_GREYLIST_WAIT_MS,
  MAX_HOST_RATE,
} from './options.js';
export { classifyTarget, isAllowedTarget, type TargetClass } from './dns/target-filter.js';
export { isPositiveReply } from './smtp/reply-parser.js';
export { CHANNELS, type HostRateWait } from './diagnostics.js';
export {
  createVerifier,
  verify,
  verifyMany,
  type Verifier,
  type VerifyCallOptions,
  type VerifyManyOptions,
} from './verifier.js';
export { HOST_RATE_WINDOW_MS, HostRateWindow, type HostRateWindowOptions } from './scheduler/host-rate.js';
export { DEFAULT_SLOW_START } from './scheduler/reply-rate.js';
export { parseAddress, suggestAddress } from './syntax/index.js';
export {
  runDoctor,
  DEFAULT_BLOCKLISTS,
  DEFAULT_DOCTOR_PROVIDERS,
  DOCTOR_CHECK_IDS,
  DOCTOR_GREETING_TIMEOUT_MS,
  type DoctorCheck,
  type DoctorCheckId,
  type DoctorOptions,
  type DoctorOrigin,
  type DoctorReport,
  type DoctorStatus,
} from './doctor/index.js';
export {
  EXPLAIN_COMMANDS,
  explainReply,
  type ExplainCommand,
  type ExplainReplyOptions,
  type ReplyExplanation,
  type ReplyPermanence,
} from './explain/index.js';
export {
  ACTION_KINDS,
  CATEGORY_IDS,
  type ActionKind,
  type ReplyCategory,
  type ReplySide,
} from './classify/index.js';
export { explainBounce, explainBounceText, looksLikeMessage, MAX_BOUNCE_BYTES } from './explain/bounce.js';
export {
  BOUNCE_KINDS,
  type BounceAction,
  type BounceExplanation,
  type BounceKind,
  type BounceRecipient,
  type ExplainedFrom,
  type FeedbackRecipient,
  type FeedbackSource,
} from './explain/bounce-types.js';
export { readMbox, MboxSplitter, type MboxMessage } from './explain/mbox.js';
export {
  toSuppressionRows,
  feedbackReason,
  FEEDBACK_REASONS,
  SUPPRESSION_COLUMNS,
  type FeedbackReason,
  type SuppressionRow,
} from './explain/suppression.js';
