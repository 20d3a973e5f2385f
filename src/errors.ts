/**
 * Errors are for misuse and operational failure, never for what a server said: inside `verify()` they
 * become `unknown` verdicts with a reason. A leaf module. Every error rcpt throws is a `VerifyError`
 * with one of the codes below: the core's classes are here, the jobs' in src/jobs/errors.ts
 * (docs/library.md "Errors"; test/unit/errors.test.ts checks them all).
 */
import type { DnsErrorKind } from './types.js';

/** Every error code rcpt throws, listed once. */
export const ERROR_CODES = [
  'ERR_RCPT_OPTIONS',
  'ERR_RCPT_ARGUMENT',
  'ERR_RCPT_DNS',
  'ERR_RCPT_SMTP_CONNECT',
  'ERR_RCPT_SMTP_TIMEOUT',
  'ERR_RCPT_SMTP_PROTOCOL',
  'ERR_RCPT_SMTP_TLS',
  'ERR_RCPT_PROXY',
  'ERR_RCPT_CLOSED',
  'ERR_RCPT_INPUT',
  'ERR_RCPT_INPUT_TOO_LARGE',
  'ERR_RCPT_JOB',
  'ERR_RCPT_JOB_STORE',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Base class of every error rcpt throws. Thrown as itself only for `ERR_RCPT_CLOSED`: a verifier,
 * resolver or connection used after `close()`.
 */
export class VerifyError extends Error {
  override readonly name: string = 'VerifyError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A bad option value, named in the message. Thrown once, when options are resolved. */
export class OptionsError extends VerifyError {
  override readonly name: string = 'OptionsError';
  readonly option: string;

  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super('ERR_RCPT_OPTIONS', `Invalid option \`${option}\`: ${message}`, options);
    this.option = option;
  }
}

/**
 * A call's argument of the wrong type (`verify(42)`: the address must be a string), named with what
 * was given. A misuse, as a bad option is; in TypeScript the types already refuse it.
 */
export class ArgumentError extends VerifyError {
  override readonly name = 'ArgumentError';
  /** The argument, as the function's documentation names it (`address`). */
  readonly argument: string;

  constructor(argument: string, message: string, options?: { cause?: unknown }) {
    super('ERR_RCPT_ARGUMENT', message, options);
    this.argument = argument;
  }
}

/**
 * An option key that rcpt does not know, with the nearest known key when one is close (`dnsServer`:
 * did you mean `dnsServers`?). An `OptionsError`, so code that catches those catches this too.
 */
export class UnknownOptionError extends OptionsError {
  override readonly name = 'UnknownOptionError';
  /** The known key the unknown one most likely meant, or `null`. */
  readonly suggestion: string | null;

  constructor(option: string, suggestion: string | null, known: readonly string[]) {
    super(option, 'unknown');
    this.suggestion = suggestion;
    this.message =
      suggestion === null
        ? `Unknown option \`${option}\`; the options are ${known.map((key) => `\`${key}\``).join(', ')}`
        : `Unknown option \`${option}\`: did you mean \`${suggestion}\`?`;
  }
}

/**
 * A DNS question that could not be asked or answered. `resolveMail()` answers DNS failures as a route
 * (`{ kind: 'error' }`), so it throws this only for a name that is no ASCII domain (`INVALID_NAME`).
 */
export class DnsError extends VerifyError {
  override readonly name = 'DnsError';
  /** A DNS failure (SERVFAIL, REFUSED, TIMEOUT, …), or `INVALID_NAME` for a name that cannot be asked. */
  readonly kind: DnsErrorKind | 'INVALID_NAME';
  readonly server: string | null;

  constructor(
    kind: DnsErrorKind | 'INVALID_NAME',
    message: string,
    options?: { cause?: unknown; server?: string | null },
  ) {
    super('ERR_RCPT_DNS', message, options);
    this.kind = kind;
    this.server = options?.server ?? null;
  }
}

export class SmtpConnectError extends VerifyError {
  override readonly name = 'SmtpConnectError';
  readonly host: string;
  readonly port: number;

  constructor(host: string, port: number, message: string, options?: { cause?: unknown }) {
    super('ERR_RCPT_SMTP_CONNECT', message, options);
    this.host = host;
    this.port = port;
  }
}

export type TimeoutPhase = 'connect' | 'greeting' | 'command' | 'tls' | 'deadline';

export class SmtpTimeoutError extends VerifyError {
  override readonly name = 'SmtpTimeoutError';
  readonly phase: TimeoutPhase;
  readonly timeoutMs: number;

  constructor(phase: TimeoutPhase, timeoutMs: number, message: string, options?: { cause?: unknown }) {
    super('ERR_RCPT_SMTP_TIMEOUT', message, options);
    this.phase = phase;
    this.timeoutMs = timeoutMs;
  }
}

export class SmtpProtocolError extends VerifyError {
  override readonly name = 'SmtpProtocolError';
  readonly command: string | null;

  constructor(message: string, options?: { cause?: unknown; command?: string | null }) {
    super('ERR_RCPT_SMTP_PROTOCOL', message, options);
    this.command = options?.command ?? null;
  }
}

export class SmtpTlsError extends VerifyError {
  override readonly name = 'SmtpTlsError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RCPT_SMTP_TLS', message, options);
  }
}

/**
 * What went wrong on the way through a SOCKS5 proxy (RFC 1928), each the proxy's failure, never the
 * mailbox's: `unreachable` (no TCP connection to the proxy, or it closed during the handshake),
 * `auth_failed` (RFC 1929 credentials refused, or no method both sides accept), `refused` (the proxy's
 * ruleset, reply 0x02, or another refusal of the request: 0x01, 0x07, 0x08), `target_unreachable` (the
 * proxy could not reach the MX: replies 0x03 to 0x06), `timeout` (the proxy stalled).
 */
export type ProxyFailureKind = 'unreachable' | 'auth_failed' | 'refused' | 'target_unreachable' | 'timeout';

/** A SOCKS5 proxy failed to supply a connection; `proxy` names it (its URL without the password). */
export class ProxyError extends VerifyError {
  override readonly name = 'ProxyError';
  readonly proxy: string;
  readonly kind: ProxyFailureKind;
  /** The SOCKS5 reply code (RFC 1928 §6) when the proxy answered the request with one, else `null`. */
  readonly socksReply: number | null;

  constructor(
    proxy: string,
    kind: ProxyFailureKind,
    message: string,
    options?: { cause?: unknown; socksReply?: number | null },
  ) {
    super('ERR_RCPT_PROXY', message, options);
    this.proxy = proxy;
    this.kind = kind;
    this.socksReply = options?.socksReply ?? null;
  }
}

/** True for any error thrown by rcpt. */
export function isVerifyError(value: unknown): value is VerifyError {
  return value instanceof VerifyError;
}
