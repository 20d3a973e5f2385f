/**
 * The one thing the scheduler needs from the SMTP layer: a way to open a probe session with one host.
 * `verifier.ts` supplies it (`SmtpSession` from `smtp/session.ts`); unit tests supply a scripted fake.
 * The scheduler never imports the SMTP layer itself (docs/architecture.md, "Layers").
 */
import type { ProbeFailure, SmtpReplyInfo, TranscriptEntry } from '../types.js';

/** How a session to one MX host address is opened: the prober's settings plus the host. */
export interface SessionOpenOptions {
  /** The MX host name (messages, TLS server name). */
  readonly host: string;
  readonly ip: string;
  readonly port: number;
  /** The name sent in EHLO/HELO. */
  readonly helo: string;
  readonly localAddress: string | null;
  readonly connectTimeoutMs: number;
  readonly greetingTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** Upgrade with STARTTLS whenever the server offers it. */
  readonly startTls: boolean;
  /** Ends every phase of the session at once (the run's stop, an address's deadline). */
  readonly signal: AbortSignal;
  /** Where the session appends its transcript, `null` for none. */
  readonly transcript: TranscriptEntry[] | null;
}

/** One MAIL FROM / RCPT TO… transaction of a session (see `smtp/session.ts`). */
export interface SessionTransaction {
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  readonly smtputf8: boolean;
  /** Send `RSET` first (between transactions of one session). */
  readonly reset?: boolean;
}

/** What a transaction got: the RCPT replies in request order, and why it stopped early, if it did. */
export interface SessionTransactionResult {
  readonly recipients: readonly SmtpReplyInfo[];
  readonly failure: ProbeFailure | null;
}

/**
 * A probe session with one host, as the scheduler drives it: `open()`, any number of `transaction()`s,
 * then `quit()` (or `close()` when the run stops). Nothing rejects for what a server did: failures are
 * `ProbeFailure` data, a refused RCPT is a reply.
 */
export interface ProbeSession {
  /** Greeting, EHLO (HELO fallback), STARTTLS; `null` when ready for transactions. */
  open(): Promise<ProbeFailure | null>;
  transaction(request: SessionTransaction): Promise<SessionTransactionResult>;
  /** QUIT, waiting briefly for the 221; then closes. */
  quit(): Promise<void>;
  /** Closes at once, without QUIT. */
  close(): void;
  readonly banner: string | null;
  /** EHLO keywords, upper-cased (empty after HELO). */
  readonly extensions: readonly string[];
  /** `null` when the session is in plaintext. */
  readonly tls: { readonly certificateError: string | null } | null;
}

/** Opens a session with one MX host address (the real one is `new SmtpSession(options)`). */
export type SessionFactory = (options: SessionOpenOptions) => ProbeSession;
