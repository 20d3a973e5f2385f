/** The SMTP reply classifier (docs/verdicts.md): reply → verdict and reason, by an ordered rule table. Pure. */
export type { Classification, ClassifyContext, ReplyClass, ReplyRule } from './classification.js';
export { classifyReply, isAccepted, isGreylisting, isTransient, shouldBackOff } from './classify-reply.js';
export { effectiveEnhancedCode, type EnhancedCode } from './enhanced-code.js';
export { REPLY_RULES, type ReplyRuleId } from './reply-rules.js';
export { parseRetryAfterMs, MAX_RETRY_AFTER_MS } from './retry-after.js';
