/** The SMTP reply classifier (docs/verdicts.md): reply → verdict and reason, by an ordered rule table. Pure. */
export {
  ACTION_KINDS,
  CATEGORY_IDS,
  type ActionKind,
  type Classification,
  type ClassifyContext,
  type ReplyCategory,
  type ReplyCategoryInfo,
  type ReplyClass,
  type ReplyRule,
  type ReplySide,
} from './classification.js';
export {
  classifyReply,
  isAccepted,
  isGreylisting,
  isTransient,
  readsOtherRecipients,
  shouldBackOff,
} from './classify-reply.js';
export { effectiveEnhancedCode, type EnhancedCode } from './enhanced-code.js';
export { OUTSIDE_RULES, REPLY_CATEGORIES, REPLY_RULES, type ReplyRuleId } from './reply-rules.js';
export { parseRetryAfterMs, MAX_RETRY_AFTER_MS } from './retry-after.js';
