/**
 * The one thing the scheduler needs from the SMTP layer: a way to open a probe session with one host.
 * `verifier.ts` supplies it (`SmtpSession` from `smtp/session.ts`, or `VerifyOptions.openSession`);
 * unit tests supply a scripted fake. The scheduler never imports the SMTP layer itself
 * (docs/architecture.md, "Layers"). The types live in `types.ts`, beside the other ports.
 */
export type {
  ProbeSession,
  SessionFactory,
  SessionOpenOptions,
  SessionTransaction,
  SessionTransactionResult,
} from '../types.js';
