export {
  schedule,
  type PlannedAddress,
  type Preparation,
  type ResultBody,
  type SchedulerPorts,
  type SchedulerSettings,
  type SessionSettings,
} from './scheduler.js';
export {
  DEFAULT_RECIPIENT_LIMIT,
  SESSION_ERROR_BUDGET,
  backoffDelayMs,
  batchSize,
  isClosingReply,
  isTooManyRecipients,
  type BatchLimits,
} from './politeness.js';
