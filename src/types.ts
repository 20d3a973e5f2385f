/**
 * The shapes rcpt publishes (docs/result.md) and the ports between its layers.
 * A leaf module: it imports nothing from `src/` and does no I/O.
 */

/** The four answers rcpt gives about an address. */
export const VERDICTS = ['deliverable', 'undeliverable', 'risky', 'unknown'] as const;
export type Verdict = (typeof VERDICTS)[number];

/**
 * Every reason code with the verdict it belongs to (docs/result.md, checked against this table by a test). One table, so the verdict of a
 * reason can never disagree with the documentation.
 */
export const REASONS = {
  accepted: 'deliverable',
  invalid_syntax: 'undeliverable',
  domain_not_found: 'undeliverable',
  null_mx: 'undeliverable',
  no_mail_server: 'undeliverable',
  mailbox_not_found: 'undeliverable',
  mailbox_disabled: 'undeliverable',
  domain_rejects_mail: 'undeliverable',
  catch_all: 'risky',
  accept_all_provider: 'risky',
  mailbox_full: 'risky',
  disposable: 'risky',
  greylisted: 'unknown',
  rate_limited: 'unknown',
  sender_blocked: 'unknown',
  timeout: 'unknown',
  connection_failed: 'unknown',
  dns_error: 'unknown',
  tls_error: 'unknown',
  protocol_error: 'unknown',
  smtputf8_unsupported: 'unknown',
  target_not_allowed: 'unknown',
  unexpected_reply: 'unknown',
  // A bulk row that could not be read as CSV (a stray quote, an over-long line): never verified, and
  // kept in the output with its own text so no one loses a row an undeliverable filter would drop.
  unreadable_row: 'unknown',
  // A bulk row whose address cell is empty (a phone-only contact in an Outlook export): nothing to
  // verify, and not an invalid address either: an undeliverable here would delete the contact.
  no_address: 'unknown',
  proxy_unreachable: 'unknown',
  proxy_auth_failed: 'unknown',
  proxy_refused: 'unknown',
  proxy_target_unreachable: 'unknown',
  proxy_timeout: 'unknown',
} as const satisfies Record<string, Verdict>;
export type Reason = keyof typeof REASONS;

/** The verdict a reason code belongs to. */
export function verdictOf(reason: Reason): Verdict {
  return REASONS[reason];
}

/** Stable codes for each syntax rule an address can break. */
export const SYNTAX_ERROR_CODES = [
  'EMPTY',
  'TOO_LONG',
  'NO_AT',
  'LOCAL_EMPTY',
  'LOCAL_TOO_LONG',
  'LEADING_DOT',
  'TRAILING_DOT',
  'CONSECUTIVE_DOTS',
  'UNQUOTED_SPECIAL',
  'UNTERMINATED_QUOTE',
  'QUOTED_INVALID_CHAR',
  'TEXT_AFTER_QUOTE',
  'CONTROL_CHAR',
  'WHITESPACE',
  'DISPLAY_NAME',
  'COMMENT',
  'INVALID_UTF8',
  'DOMAIN_EMPTY',
  'DOMAIN_TOO_LONG',
  'DOMAIN_DOTLESS',
  'DOMAIN_INVALID_CHAR',
  'LABEL_EMPTY',
  'LABEL_TOO_LONG',
  'LABEL_HYPHEN',
  'NUMERIC_TLD',
  'IDNA_INVALID',
  'ADDRESS_LITERAL_INVALID',
  'PATH_TOO_LONG',
  'NOT_STRING',
  'DOMAIN_TRAILING_DOT',
] as const;
export type SyntaxErrorCode = (typeof SYNTAX_ERROR_CODES)[number];

/** Why an input is not a mailbox: a stable code, a message for people, and the offending position. */
export interface SyntaxIssue {
  readonly code: SyntaxErrorCode;
  readonly message: string;
  /** Index (UTF-16 code units) into the input where the rule is broken. */
  readonly index: number;
}

/** The `syntax` block of a result: what `parseAddress()` returns. */
export interface SyntaxResult {
  readonly valid: boolean;
  /** The local part as typed (never case-folded: RFC 5321 §2.4), `null` when invalid. */
  readonly localPart: string | null;
  /** The domain in Unicode (U-label) form, lowercased, `null` when invalid. */
  readonly domain: string | null;
  /** The domain in ASCII (A-label) form, as used in DNS and in `RCPT TO` without SMTPUTF8. */
  readonly asciiDomain: string | null;
  /** True when the address needs the SMTPUTF8 extension (RFC 6531): a non-ASCII local part. */
  readonly smtputf8: boolean;
  readonly error: SyntaxIssue | null;
}

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

/** The `dns` block of a result. */
export interface DnsResult {
  readonly mx: readonly MxRecord[] | null;
  /** True when no MX exists and the domain's A/AAAA records stand in (RFC 5321 §5.1). */
  readonly implicitMx: boolean;
  /** True for `MX 0 .` (RFC 7505). */
  readonly nullMx: boolean;
  /** Why DNS gave no usable answer, e.g. `NXDOMAIN`, `SERVFAIL`, `TIMEOUT`; `null` otherwise. */
  readonly error: string | null;
}

/**
 * Where in the SMTP dialogue a reply was read. `data` (the reply after the message, RFC 5321 §4.1.1.4)
 * never comes from `verify()`, which stops before DATA; `explainReply()` reads it in bounces and
 * transcripts.
 */
export const SMTP_STAGES = [
  'connect',
  'greeting',
  'ehlo',
  'helo',
  'starttls',
  'mail',
  'rcpt',
  'data',
  'rset',
  'quit',
] as const;
export type SmtpStage = (typeof SMTP_STAGES)[number];

export interface SmtpReplyInfo {
  readonly stage: SmtpStage;
  readonly code: number;
  /** RFC 3463 enhanced status code, e.g. `5.1.1`, when the server sent one. */
  readonly enhanced: string | null;
  /** The reply text, continuation lines joined by `\n`, codes removed. */
  readonly text: string;
}

export interface TranscriptEntry {
  readonly dir: '>' | '<';
  readonly line: string;
  /** Milliseconds since the connection attempt started. */
  readonly ms: number;
}

/** The `smtp` block of a result. */
export interface SmtpResult {
  readonly host: string | null;
  readonly ip: string | null;
  readonly port: number | null;
  readonly tls: boolean;
  readonly provider: string | null;
  readonly reply: SmtpReplyInfo | null;
  readonly catchAll: boolean | null;
  readonly attempts: number;
  readonly transcript: readonly TranscriptEntry[] | null;
  /**
   * The SOCKS5 proxy the last connection went through (`socks5://host:port`, credentials never shown),
   * `null` when it went direct. The receiving server saw the proxy's egress address, not this host's.
   */
  readonly proxy: string | null;
}

export interface Flags {
  readonly role: boolean;
  readonly free: boolean;
  readonly disposable: boolean;
  readonly catchAll: boolean;
}

/** One verification result (docs/result.md). Every field is always present; `null` when not computed. */
export interface VerifyResult {
  readonly input: string;
  readonly address: string | null;
  readonly verdict: Verdict;
  readonly reason: Reason;
  readonly flags: Flags;
  readonly suggestion: string | null;
  readonly syntax: SyntaxResult;
  readonly dns: DnsResult | null;
  readonly smtp: SmtpResult | null;
  readonly durationMs: number;
  readonly checkedAt: string;
  /**
   * When a retry may give a definite answer (greylisting, rate limits), as an ISO 8601 time; `null`
   * otherwise. Documented in docs/result.md.
   */
  readonly retryAt: string | null;
}

// ---------------------------------------------------------------------------------------------------
// Ports: what verifier.ts asks of the DNS and SMTP layers. `dns/` and `smtp/` never import each other;
// the verifier hands the prober the hosts that the resolver found (docs/architecture.md).

/** One mail exchanger with the addresses it resolved to (empty when it did not resolve). */
export interface MailHost {
  readonly exchange: string;
  readonly priority: number;
  readonly addresses: readonly string[];
}

/** What DNS says about where mail for a domain goes. */
export type MailRoute =
  | {
      readonly kind: 'hosts';
      /** The MX records as published (sorted by preference); the A/AAAA stand-in for implicit MX. */
      readonly mx: readonly MxRecord[];
      readonly implicitMx: boolean;
      /** Hosts in the order to try them, each with its resolved addresses. */
      readonly hosts: readonly MailHost[];
    }
  | { readonly kind: 'null_mx' }
  | { readonly kind: 'nxdomain' }
  | { readonly kind: 'no_mail_server'; readonly mx: readonly MxRecord[] }
  | { readonly kind: 'error'; readonly error: DnsErrorKind; readonly message: string };

export const DNS_ERROR_KINDS = [
  'SERVFAIL',
  'REFUSED',
  'TIMEOUT',
  'FORMERR',
  'NETWORK',
  'BAD_RESPONSE',
] as const;
export type DnsErrorKind = (typeof DNS_ERROR_KINDS)[number];

export interface MailResolver {
  /** Where mail for `asciiDomain` goes. Never rejects for what DNS answered; only on misuse. */
  resolveMail(asciiDomain: string, signal?: AbortSignal): Promise<MailRoute>;
  /**
   * The route `resolveMail()` would answer at once from what it remembers, without a promise; `null`
   * when it would have to ask (or check) anything. Optional: a resolver without it is always asked.
   */
  remembered?(asciiDomain: string): MailRoute | null;
}

export interface ProbeTarget {
  readonly host: string;
  readonly ip: string;
  /**
   * Who opens the TCP connection to `ip`: a proxy pool chosen by the verifier's routing rules; absent
   * (or `null`) to connect directly. The connector is asked for this address, never for a name.
   */
  readonly via?: Connector | null;
}

/** What a connector is asked for: a TCP stream to an MX address the verifier already allowed. */
export interface ConnectRequest {
  /** The MX address (the private-target filter has passed it): never a name for someone else to resolve. */
  readonly ip: string;
  readonly port: number;
  /** The MX host name, for messages. */
  readonly host: string;
  /** Local address to bind the connection to the proxy to; `null` for the system's choice. */
  readonly localAddress: string | null;
  /** For the whole connection through the proxy (its TCP connect and the SOCKS5 exchange), in milliseconds. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** A connected stream and the proxy it went through. */
export interface Connected {
  /** A `net.Socket` (typed loosely so this leaf imports no I/O module). */
  readonly socket: unknown;
  /** The proxy's name (`socks5://host:port`, no credentials). */
  readonly proxy: string;
}

/**
 * Supplies the TCP stream to an MX address in place of a direct connect: a SOCKS5 proxy pool.
 * Rejects with a `ProxyError` (errors.ts) naming the proxy; never for what the MX later says.
 */
export interface Connector {
  /** A stable name for the route (`socks5://host:port`, or a pool's members joined), for keys and messages. */
  readonly name: string;
  connect(request: ConnectRequest): Promise<Connected>;
}

export interface ProbeRequest {
  /** Hosts to try in order: the next one on connection failure or a 421 greeting (RFC 5321 §5.1). */
  readonly targets: readonly ProbeTarget[];
  /** Full addresses for `RCPT TO`, in the form to send (A-label domain unless SMTPUTF8 is used). */
  readonly recipients: readonly string[];
  /** A random address at the same domain, to detect catch-all; `null` to skip. */
  readonly catchAllRecipient: string | null;
  /** True when a recipient needs SMTPUTF8 (RFC 6531). */
  readonly smtputf8: boolean;
  /**
   * Ask the catch-all address in a transaction of its own (`RSET`, `MAIL FROM`, `RCPT`): Outlook.com
   * answers a second RCPT in one transaction with `452 4.5.3` (AfterShip email-verifier issue #72).
   */
  readonly oneRecipientPerTransaction?: boolean;
  /** Aborts the whole probe (the per-address deadline). */
  readonly signal?: AbortSignal;
  /** How this probe presents itself, when it differs from the prober's own settings (per request). */
  readonly session?: SessionOverrides;
}

/** Per-probe replacements for the prober's port, EHLO name and reverse-path. */
export interface SessionOverrides {
  readonly port?: number;
  readonly helo?: string;
  readonly mailFrom?: string;
}

/** Why a probe session stopped before every recipient had a reply. */
export interface ProbeFailure {
  readonly kind:
    | 'connection_failed'
    | 'timeout'
    | 'tls_error'
    | 'protocol_error'
    | 'smtputf8_unsupported'
    /** A SOCKS5 proxy failed before the MX was reached (ProxyError's kinds). */
    | 'proxy_unreachable'
    | 'proxy_auth_failed'
    | 'proxy_refused'
    | 'proxy_target_unreachable'
    | 'proxy_timeout'
    /** The server refused at session level (greeting, EHLO/HELO, MAIL FROM): see `reply`. */
    | 'reply';
  readonly stage: SmtpStage;
  readonly message: string;
  readonly reply: SmtpReplyInfo | null;
  /**
   * The proxy a connection that failed to open was going through (`socks5://user@host:port`, never
   * the password): evidence for the result's `smtp.proxy` when no session came of it.
   */
  readonly proxy?: string;
}

export interface RecipientReply {
  readonly recipient: string;
  readonly reply: SmtpReplyInfo;
}

export interface ProbeResult {
  /** The host that answered last (the one whose replies are reported); `null` if none connected. */
  readonly host: string | null;
  readonly ip: string | null;
  readonly port: number;
  readonly tls: boolean;
  /** Set when TLS was negotiated with a certificate that would not verify (tolerated for probing). */
  readonly tlsCertificateError: string | null;
  readonly banner: string | null;
  /** EHLO keywords, upper-cased (`PIPELINING`, `SMTPUTF8`, `STARTTLS`, …). */
  readonly extensions: readonly string[];
  /** Connection attempts made (one per host tried). */
  readonly attempts: number;
  /** The RCPT reply of each recipient that got one, in request order. */
  readonly replies: readonly RecipientReply[];
  /** The reply to the catch-all probe RCPT, when one was sent and answered. */
  readonly catchAll: SmtpReplyInfo | null;
  readonly failure: ProbeFailure | null;
  readonly transcript: readonly TranscriptEntry[] | null;
  /** The proxy the reported connection went through; absent or `null` when direct. */
  readonly proxy?: string | null;
}

export interface Prober {
  probe(request: ProbeRequest): Promise<ProbeResult>;
}

/** How a session to one MX host address is opened: the prober's settings plus the host. */
export interface SessionOpenOptions {
  /** The MX host name (messages, TLS server name). */
  readonly host: string;
  readonly ip: string;
  readonly port: number;
  /** The name sent in EHLO/HELO. */
  readonly helo: string;
  readonly localAddress: string | null;
  /** Supplies the TCP stream (a SOCKS5 proxy pool); `null` or absent to connect directly. */
  readonly connector?: Connector | null;
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
  /** The reverse-path; `''` is the null reverse-path `<>`. */
  readonly mailFrom: string;
  /** Addresses for `RCPT TO`, in order. */
  readonly recipients: readonly string[];
  /** True when an address needs SMTPUTF8 (RFC 6531): `MAIL FROM:<…> SMTPUTF8`, or no transaction at all. */
  readonly smtputf8: boolean;
  /** Send `RSET` first (between transactions of one session). */
  readonly reset?: boolean;
  /**
   * More recipients for the transaction already open (its MAIL FROM accepted): only `RCPT TO`s, no
   * `RSET`, no `MAIL FROM`. The bulk scheduler adds one RCPT at a time this way while it learns how
   * many refusals a host allows (each extra command could be the one the server delays).
   */
  readonly more?: boolean;
  /** End the session after this transaction (QUIT joins a pipelined group, RFC 2920 §3.1). */
  readonly quit?: boolean;
  /**
   * Read with each reply's code as it comes, in order (RSET's, MAIL FROM's, then each RCPT's); true
   * cuts the transaction at that reply: the result holds the replies up to it and a failure, and a
   * pipelined group's connection is dropped at once rather than waiting for the replies still owed
   * (the session is over). The bulk scheduler cuts at the first reply a server delays past a
   * guessed error budget (docs/bulk.md); a session that ignores it gives every reply, as before.
   */
  readonly cutAt?: (code: number) => boolean;
}

/** What a transaction got: the RCPT replies in request order, and why it stopped early, if it did. */
export interface SessionTransactionResult {
  /** The RCPT reply of each recipient in request order; shorter than the request when the session failed. */
  readonly recipients: readonly SmtpReplyInfo[];
  /** Why the transaction stopped before every recipient had a reply; `null` when they all did. */
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
  /** The proxy the session went through (`socks5://host:port`), `null` or absent when direct. */
  readonly proxy?: string | null;
}

/** Opens a session with one MX host address (the real one is `new SmtpSession(options)`). */
export type SessionFactory = (options: SessionOpenOptions) => ProbeSession;

/**
 * Catch-all verdicts known beyond one verifier (scale-out workers share them through PostgreSQL). Asked
 * before a domain's random address is probed, told what a probe found. Synchronous: it is asked per
 * address, so an implementation answers from memory it fills ahead.
 */
export interface CatchAllFacts {
  /** Whether the A-label domain accepts any local part; `null` when not known. */
  known(asciiDomain: string): boolean | null;
  /** What a catch-all probe of the domain found. */
  learned(asciiDomain: string, catchAll: boolean): void;
}

/** How a host's error budget is known (docs/bulk.md, "How rcpt learns a host's limits"). */
export type BudgetSource = 'default' | 'postfix' | 'probed' | 'penalty' | 'none';

/** The limits learned at one MX host address, as stored and shared (plain data, JSON-safe). */
export interface HostLimitsRecord {
  /** Refusals per session; `null` when the host has none. */
  readonly errorBudget: number | null;
  readonly budgetSource: BudgetSource;
  /** Recipients per transaction, learned from `452 4.5.3`; `null` when none was seen. */
  readonly recipientLimit: number | null;
  /** Sessions at once the host accepts from us, learned from a 421 on connect; `null` when not seen. */
  readonly sessionLimit: number | null;
  /** Penalties the host gave (delayed replies, `421 too many errors`), for reports. */
  readonly penalties: number;
  /**
   * Replies a second rcpt allows itself at the host, learned from a slowdown under its rate; `null`
   * (or absent, in records stored before it was learned) when the host never slowed down.
   */
  readonly repliesPerSecond?: number | null;
  /**
   * The most replies the host answered on time within one second (the slow start's proof at a host
   * whose rate is unknown); absent while none is proven.
   */
  readonly provenRepliesPerSecond?: number;
  /**
   * What the host does with an RCPT after refusing one in the same session: `answers` (seen to accept
   * one), `poisons` (refused the check RCPT after a refusal, an address it had accepted or `postmaster`:
   * it refuses everything after a first unknown recipient; src/scheduler/poisoning.ts); absent while
   * neither is known.
   */
  readonly afterRefusal?: 'answers' | 'poisons';
  /**
   * An address of a list verified there that the host accepted (an RCPT answered 2xx, ASCII): the
   * RCPT asked after a refusal to tell what the host does after one (src/scheduler/poisoning.ts), so
   * that a run that starts at the host asks it rather than `postmaster` (which many domains lack).
   * Kept only while `afterRefusal` is not `answers` (once that is known, no check is asked); absent
   * otherwise. It is an address of the user's own list: kept where the record is, for as long.
   */
  readonly acceptedRecipient?: string;
  /**
   * While the budget is only rcpt's guess (`budgetSource` `default`): the most refusals a session drew
   * there with a reply on time after them, proven safe below the guess; the host's sessions other than
   * the one exploring the guess draw up to it. Absent while none is proven, and once the budget is
   * known otherwise.
   */
  readonly provenRefusals?: number;
  /**
   * A batch the explorer of a guessed (or still probed) budget sent past what is proven, whose replies
   * were not read yet, named by the run that sent it: stored before the batch goes out, removed once
   * its replies are read. A run that starts at the host and finds it left by a run that is gone (a
   * worker killed or stopped mid-batch) takes the batch to have crossed the host's limit, and fixes
   * the budget at what is proven. Absent while no such batch is out.
   */
  readonly exploringBatch?: string;
}

/**
 * Limits learned at MX hosts, known beyond one run (scale-out workers share them through the job
 * store): asked when a run first meets a host address, told when a run learned something there.
 * Synchronous, as `CatchAllFacts`: an implementation answers from memory it fills ahead.
 */
export interface HostLimitsFacts {
  /** What is known of the limits at host `key` (an MX address, or `proxy|address`); `null`: nothing. */
  known(key: string): HostLimitsRecord | null;
  /** A run learned something new at host `key`. */
  learned(key: string, record: HostLimitsRecord): void;
  /**
   * Settles once what was `learned()` so far is stored (never rejects): `true` when the last record
   * told was stored, `false` when its write failed. Where it is given, an explorer's batch past what
   * is proven waits for it before it goes out (`exploringBatch`); told `false`, the batch does not go
   * out and the host's budget is fixed at what is proven, for the run.
   */
  flush?(): Promise<boolean>;
}

/** RCPTs taken from a host's window of the last minute (`HostRateLimiter`), until they are sent. */
export interface RateGrant {
  /** RCPTs granted now, from 0 to the number asked for. */
  readonly count: number;
  /**
   * With nothing granted: milliseconds until the window may have room again (the oldest RCPTs in it
   * leave it then; RCPTs in flight elsewhere count a full window from when they are settled). 0 when
   * something was granted.
   */
  readonly waitMs: number;
  /**
   * The first `sent` RCPTs of the grant went out and were answered (or their session ended): they
   * count from now for a window; the rest are given back. Later calls do nothing. Never throws.
   */
  settle(sent: number): void;
}

/**
 * Where the per-host ceiling on RCPTs per minute (`hostRate`) is kept: in the verifier's memory by
 * default, in PostgreSQL for scale-out workers (one ceiling per host for the whole cluster).
 */
export interface HostRateLimiter {
  /**
   * Grants up to `wanted` RCPTs at MX host address `host` within `perMinute` per window (RCPTs of the
   * last window and grants in flight both count).
   */
  reserve(host: string, perMinute: number, wanted: number): RateGrant | Promise<RateGrant>;
}
