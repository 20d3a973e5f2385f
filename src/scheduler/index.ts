export {
  Scheduler,
  schedule,
  type Concluded,
  type Conversation,
  type PlannedAddress,
  type Preparation,
  type ResultBody,
  type SchedulerPorts,
  type SchedulerSettings,
  type SessionSettings,
} from './scheduler.js';
export type {
  ProbeSession,
  SessionFactory,
  SessionOpenOptions,
  SessionTransaction,
  SessionTransactionResult,
} from './session-port.js';
export {
  HARVEST_WINDOW_MS,
  HarvestAllowance,
  type HarvestAllowanceOptions,
  type Reservation,
} from './harvest-allowance.js';
export { DEFAULT_SLOW_START } from './reply-rate.js';
export {
  HOST_RATE_WINDOW_MS,
  HostRateWindow,
  rateCeiling,
  rateWaitMs,
  type HostRateLimiter,
  type HostRateWindowOptions,
  type RateGrant,
} from './host-rate.js';
export {
  CAUTIOUS_ERROR_BUDGET,
  LearnedLimits,
  NO_BUDGET_AFTER,
  SLOW_REPLY_MS,
  type BudgetSource,
  type LimitsRecord,
} from './learned-limits.js';
export {
  DEFAULT_RECIPIENT_LIMIT,
  OVERSPEND_RISK,
  binomialTailAbove,
  backoffDelayMs,
  batchSize,
  isClosingReply,
  isTooManyRecipients,
  type BatchLimits,
} from './politeness.js';
