/** Explaining replies people received, by verify's own classifier (docs/explain.md). Pure. */
export {
  explainReply,
  type ExplainReplyOptions,
  type ReplyExplanation,
  type ReplyPermanence,
} from './explain-reply.js';
export {
  EXPLAIN_COMMANDS,
  MAX_INPUT_CHARS,
  MAX_REPLIES,
  findReplies,
  type ExplainCommand,
  type FoundReply,
} from './find-replies.js';
