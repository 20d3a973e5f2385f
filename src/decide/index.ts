export {
  catchAllAnswer,
  decideReason,
  isClosingReply,
  isPermanentSenderBlock,
  isTooManyRecipients,
  readRcptReply,
  readSessionRefusal,
  type AddressEvidence,
  type RcptAction,
  type RcptReading,
  type ReasonDecision,
  type SessionRefusal,
} from './decide.js';
