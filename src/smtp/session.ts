/**
 * An SMTP probe session with one host: greeting, EHLO (HELO fallback), opportunistic STARTTLS, then
 * any number of MAIL/RCPT transactions, and QUIT. Linear `async` code over `SmtpConnection`, with
 * pipelining as an optimisation when the server advertises it (RFC 2920). Written for reuse by the bulk
 * scheduler: several transactions per session, `reset` between them.
 *
 * Nothing here throws for what a server did: every method resolves, and failures come back as
 * `ProbeFailure` data (kind, stage, message, reply). A rejected RCPT is a reply, not a failure.
 */
import { performance } from 'node:perf_hooks';
import {
  ProxyError,
  SmtpConnectError,
  SmtpProtocolError,
  SmtpTimeoutError,
  SmtpTlsError,
  VerifyError,
} from '../errors.js';
import type {
  Connector,
  ProbeFailure,
  SessionOpenOptions,
  SessionTransaction,
  SessionTransactionResult,
  SmtpReplyInfo,
  SmtpStage,
} from '../types.js';
import { SmtpConnection, type TlsInfo } from './connection.js';
import { isPermanentNegativeReply, isPositiveReply, type SmtpReply } from './reply-parser.js';

/**
 * What a session is opened with: the session port's options (`SessionOpenOptions`, src/types.ts), the
 * connector and signal optional (a probe of one address may have neither), and the probe's start.
 */
export interface SessionOptions extends Omit<SessionOpenOptions, 'connector' | 'signal'> {
  /** Supplies the TCP stream (a SOCKS5 proxy pool); `null` or absent to connect directly. */
  readonly connector?: Connector | null | undefined;
  readonly signal?: AbortSignal | undefined;
  /** `performance.now()` at the start of the probe, for transcript times. */
  readonly startedAt?: number;
}

/** A group's replies as `SmtpConnection.pipeline()` gives them; `error` is what ended it early. */
interface GroupReplies {
  readonly replies: readonly SmtpReply[];
  readonly error: unknown;
}

/** A transaction's replies (`SessionTransactionResult`, src/types.ts) and the reply to its MAIL FROM. */
export interface TransactionResult extends SessionTransactionResult {
  /** The reply to MAIL FROM, `null` when none was read. */
  readonly mail: SmtpReplyInfo | null;
}

/**
 * How long to wait for the reply to QUIT. Every answer is in by then; RFC 5321 §4.1.1.10 asks the
 * client to wait for the 221, but a server that stalls it must not hold the result back.
 */
export const QUIT_TIMEOUT_MS = 2_000;

/** The reply as reported in results, with the stage it answered. */
export function replyInfo(stage: SmtpStage, reply: SmtpReply): SmtpReplyInfo {
  return { stage, code: reply.code, enhanced: reply.enhanced, text: reply.text };
}

/** Turns an operational error into failure data; anything unexpected becomes a protocol error. */
export function failureOf(error: unknown, stage: SmtpStage): ProbeFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ProxyError) return { kind: `proxy_${error.kind}`, stage, message, reply: null };
  const kind: ProbeFailure['kind'] =
    error instanceof SmtpTimeoutError
      ? 'timeout'
      : error instanceof SmtpTlsError
        ? 'tls_error'
        : error instanceof SmtpConnectError ||
            (error instanceof VerifyError && error.code === 'ERR_RCPT_CLOSED')
          ? 'connection_failed'
          : 'protocol_error';
  return { kind, stage, message, reply: null };
}

/** The transaction was cut at a reply by `SessionTransaction.cutAt`: the rest were not waited for. */
function cutShort(stage: SmtpStage): ProbeFailure {
  return {
    kind: 'protocol_error',
    stage,
    message: 'the transaction was cut at a late reply, the replies after it not waited for',
    reply: null,
  };
}

function refusal(stage: SmtpStage, reply: SmtpReply, what: string): ProbeFailure {
  return {
    kind: 'reply',
    stage,
    message: `${what} refused: ${reply.lines[0] ?? String(reply.code)}`,
    reply: replyInfo(stage, reply),
  };
}

/** One probe session with one host. Call `open()` first; `quit()` (or `close()`) always at the end. */
export class SmtpSession {
  readonly #options: SessionOptions;
  readonly #startedAt: number;
  #connection: SmtpConnection | null = null;
  #connections = 0;
  #connected = false;
  #banner: string | null = null;
  #greetingCode: number | null = null;
  #extensions = new Map<string, string>();
  #tls: TlsInfo | null = null;
  #tlsFallback: string | null = null;
  #quitSent = false;
  #proxy: string | null = null;

  constructor(options: SessionOptions) {
    this.#options = options;
    this.#startedAt = options.startedAt ?? performance.now();
  }

  /** TCP connections made (2 when a failed TLS handshake was followed by a plaintext retry). */
  get connections(): number {
    return this.#connections;
  }

  /** The proxy the last connection went (or tried to go) through, `null` when direct. */
  get proxy(): string | null {
    return this.#proxy;
  }

  /** True once a TCP connection to the host was established. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The greeting text, `null` before one was read. */
  get banner(): string | null {
    return this.#banner;
  }

  /** The greeting's reply code, `null` before one was read. */
  get greetingCode(): number | null {
    return this.#greetingCode;
  }

  /** EHLO keywords, upper-cased, in the server's order (empty after HELO). */
  get extensions(): readonly string[] {
    return [...this.#extensions.keys()];
  }

  /** The parameters of an EHLO keyword (`SIZE` → `"10240000"`), `null` when not advertised. */
  extension(keyword: string): string | null {
    return this.#extensions.get(keyword.toUpperCase()) ?? null;
  }

  /** The TLS state when the session runs over TLS, `null` in plaintext. */
  get tls(): TlsInfo | null {
    return this.#tls;
  }

  /** Why TLS failed when the session fell back to plaintext, `null` otherwise. */
  get tlsFallback(): string | null {
    return this.#tlsFallback;
  }

  /**
   * Connects, reads the greeting, says EHLO (or HELO) and upgrades to TLS when offered and enabled.
   * Resolves with `null` when the session is ready for transactions, or with why it is not (a 421
   * greeting is a `reply` failure at stage `greeting` with code 421: the caller tries the next host).
   */
  async open(): Promise<ProbeFailure | null> {
    const failure = await this.#openOnce(this.#options.startTls);
    if (failure !== null && this.#isHandshakeFailure(failure) && this.#options.signal?.aborted !== true) {
      // Postfix's opportunistic TLS (smtp_tls_security_level = may) retries a host whose handshake
      // failed once in plaintext rather than giving up on it; so do we, and say so in the result.
      this.#tlsFallback = failure.message;
      return this.#openOnce(false);
    }
    return failure;
  }

  /**
   * One transaction: `MAIL FROM`, each `RCPT TO`, optionally `RSET` before and `QUIT` after. With
   * PIPELINING they go in one write (RFC 2920: RSET, MAIL and RCPT may be grouped, QUIT ends a group).
   * A `530` to MAIL ("Must issue a STARTTLS command first") upgrades to TLS when the server offers it
   * and retries once.
   */
  async transaction(request: SessionTransaction): Promise<TransactionResult> {
    return this.#transaction(request, true);
  }

  /** Sends `RSET` (RFC 5321 §4.1.1.5), returning the failure if it did not get a 2xx. */
  async reset(): Promise<ProbeFailure | null> {
    const connection = this.#connection;
    if (connection === null) return failureOf(new SmtpProtocolError('session not open'), 'rset');
    try {
      const reply = await connection.command('RSET');
      return isPositiveReply(reply) ? null : refusal('rset', reply, 'RSET');
    } catch (error) {
      return failureOf(error, 'rset');
    }
  }

  /** Ends the session politely (QUIT, wait briefly for 221) and closes it. Never rejects. */
  async quit(): Promise<void> {
    const connection = this.#connection;
    if (connection === null) return;
    if (!connection.isClosed && !this.#quitSent) {
      this.#quitSent = true;
      try {
        await connection.command('QUIT', {
          timeoutMs: Math.min(QUIT_TIMEOUT_MS, this.#options.commandTimeoutMs),
        });
      } catch {
        // The answers are in; a server that drops the connection at QUIT changes none of them.
      }
    }
    connection.close();
  }

  /** Closes the connection at once, without QUIT. */
  close(): void {
    this.#connection?.close();
  }

  // -------------------------------------------------------------------------------------------------

  #isHandshakeFailure(failure: ProbeFailure): boolean {
    const error = this.#connection?.failure;
    return (
      failure.stage === 'starttls' &&
      (failure.kind === 'tls_error' || (error instanceof SmtpTimeoutError && error.phase === 'tls'))
    );
  }

  async #openOnce(useTls: boolean): Promise<ProbeFailure | null> {
    this.#connection?.close();
    this.#connection = null;
    this.#extensions = new Map();
    this.#tls = null;
    this.#quitSent = false;
    this.#connections += 1;
    const { host, ip, port, localAddress, connectTimeoutMs, greetingTimeoutMs, commandTimeoutMs } =
      this.#options;
    let connection: SmtpConnection;
    try {
      connection = await SmtpConnection.connect({
        host,
        ip,
        port,
        localAddress,
        connector: this.#options.connector ?? null,
        connectTimeoutMs,
        greetingTimeoutMs,
        commandTimeoutMs,
        signal: this.#options.signal,
        transcript: this.#options.transcript,
        startedAt: this.#startedAt,
      });
    } catch (error) {
      // The proxy is evidence whatever ended the attempt: its own failure names it; a deadline that
      // cut it short (a stalling proxy, in bulk) leaves the route it was going through.
      this.#proxy = error instanceof ProxyError ? error.proxy : (this.#options.connector?.name ?? null);
      const failure = failureOf(error, 'connect');
      return this.#proxy === null ? failure : { ...failure, proxy: this.#proxy };
    }
    this.#proxy = connection.proxy;
    this.#connection = connection;
    this.#connected = true;
    let greeting: SmtpReply;
    try {
      greeting = await connection.greeting();
    } catch (error) {
      return failureOf(error, 'greeting');
    }
    this.#banner = greeting.text;
    this.#greetingCode = greeting.code;
    // RFC 5321 §4.3.1: 220 is the only greeting that opens a session (554 refuses it, 421 defers it).
    if (greeting.code !== 220) return refusal('greeting', greeting, 'session');
    const hello = await this.#hello(connection);
    if (hello !== null) return hello;
    if (useTls && this.#extensions.has('STARTTLS')) return this.#upgrade(connection);
    return null;
  }

  /** EHLO, or HELO when EHLO gets a 5xx (RFC 5321 §4.1.4; 500/502 from servers that predate ESMTP). */
  async #hello(connection: SmtpConnection): Promise<ProbeFailure | null> {
    this.#extensions = new Map();
    let reply: SmtpReply;
    try {
      reply = await connection.command(`EHLO ${this.#options.helo}`);
    } catch (error) {
      return failureOf(error, 'ehlo');
    }
    if (isPositiveReply(reply)) {
      // RFC 5321 §4.1.1.1: the first line greets, each further line is `keyword [params]`.
      for (const line of reply.text.split('\n').slice(1)) {
        const [keyword = '', ...params] = line.trim().split(/\s+/);
        if (/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(keyword)) {
          this.#extensions.set(keyword.toUpperCase(), params.join(' '));
        }
      }
      return null;
    }
    if (!isPermanentNegativeReply(reply)) return refusal('ehlo', reply, 'EHLO');
    try {
      reply = await connection.command(`HELO ${this.#options.helo}`);
    } catch (error) {
      return failureOf(error, 'helo');
    }
    return isPositiveReply(reply) ? null : refusal('helo', reply, 'HELO');
  }

  /** STARTTLS and a fresh EHLO (RFC 3207 §4.2: all knowledge from before TLS is discarded). */
  async #upgrade(connection: SmtpConnection): Promise<ProbeFailure | null> {
    let reply: SmtpReply;
    try {
      reply = await connection.startTls();
    } catch (error) {
      return failureOf(error, 'starttls');
    }
    // 454 "TLS not available due to temporary reason" (RFC 3207 §4): carry on in plaintext.
    if (!isPositiveReply(reply)) return null;
    this.#tls = connection.tls;
    return this.#hello(connection);
  }

  /** True when a 530 at MAIL can be cured on this connection: TLS offered, not active, never failed. */
  #canUpgradeOnDemand(): boolean {
    return this.#tls === null && this.#tlsFallback === null && this.#extensions.has('STARTTLS');
  }

  async #transaction(request: SessionTransaction, mayUpgrade: boolean): Promise<TransactionResult> {
    const connection = this.#connection;
    if (connection === null) {
      return {
        mail: null,
        recipients: [],
        failure: failureOf(new SmtpProtocolError('session not open'), 'mail'),
      };
    }
    if (request.smtputf8 && !this.#extensions.has('SMTPUTF8')) {
      // RFC 6531 §3.4: without SMTPUTF8 the address cannot be sent at all; the answer is unknown.
      return {
        mail: null,
        recipients: [],
        failure: {
          kind: 'smtputf8_unsupported',
          stage: 'mail',
          message: `${connection.where} does not advertise SMTPUTF8, needed for a UTF-8 address (RFC 6531)`,
          reply: null,
        },
      };
    }
    const pipelining = this.#extensions.has('PIPELINING');
    // A QUIT in the group would close the connection a 530-then-STARTTLS retry needs.
    const quitInGroup = request.quit === true && pipelining && !(mayUpgrade && this.#canUpgradeOnDemand());
    const more = request.more === true;
    const reset = request.reset === true && !more;
    const lines: string[] = [];
    if (reset) lines.push('RSET');
    if (!more) lines.push(`MAIL FROM:<${request.mailFrom}>${request.smtputf8 ? ' SMTPUTF8' : ''}`);
    const addresses = request.recipients;
    for (let at = 0; at < addresses.length; at++) lines.push(`RCPT TO:<${addresses[at] as string}>`);
    if (quitInGroup) lines.push('QUIT');
    const cutAt = request.cutAt;
    // Set by `until` as the replies come (a plain `false` would be taken for a constant).
    let cut = false as boolean;
    const until =
      cutAt === undefined
        ? undefined
        : (reply: SmtpReply): boolean => {
            cut = cutAt(reply.code);
            return cut;
          };
    let group: Promise<GroupReplies>;
    try {
      // RSET and MAIL FROM gate the rest: one at a time, a refusal of either ends the transaction.
      group = pipelining
        ? connection.pipeline(lines, until === undefined ? {} : { until })
        : this.#oneByOne(connection, lines, (reset ? 1 : 0) + (more ? 0 : 1), until);
    } catch (error) {
      return { mail: null, recipients: [], failure: failureOf(error, 'mail') };
    }
    if (quitInGroup) this.#quitSent = true;
    // Every reply of a pipelined group is in (or the connection ended) before any is read, so none
    // arrives unasked later.
    const { replies, error } = await group;
    // Cut: the rest of a pipelined group is still owed, each reply of it as late as the one that cut
    // it, and a QUIT would be answered only after them. The connection is dropped (RFC 5321
    // §4.1.1.10 asks for QUIT first; a QUIT queued behind them reaches a server only once it has
    // answered them, so no server would read it). One by one, nothing is owed: QUIT as usual.
    if (cut && pipelining) connection.close();
    const missing = (stage: SmtpStage): ProbeFailure => (cut ? cutShort(stage) : failureOf(error, stage));
    let index = 0;
    let mail: SmtpReplyInfo | null = null;
    const recipients: SmtpReplyInfo[] = [];
    if (reset) {
      const reply = replies[index++];
      if (reply === undefined) return { mail, recipients, failure: missing('rset') };
      if (!isPositiveReply(reply)) return { mail, recipients, failure: refusal('rset', reply, 'RSET') };
    }
    if (!more) {
      const mailReply = replies[index++];
      if (mailReply === undefined) return { mail, recipients, failure: missing('mail') };
      mail = replyInfo('mail', mailReply);
      if (!isPositiveReply(mailReply)) {
        if (mailReply.code === 530 && mayUpgrade && this.#canUpgradeOnDemand() && !connection.isClosed) {
          // "530 5.7.0 Must issue a STARTTLS command first" (RFC 3207 §4): go TLS and try again.
          const failure = await this.#upgrade(connection);
          if (failure !== null) return { mail, recipients, failure };
          return await this.#transaction({ ...request, reset: false }, false);
        }
        return { mail, recipients, failure: refusal('mail', mailReply, 'MAIL FROM') };
      }
    }
    while (recipients.length < request.recipients.length) {
      const reply = replies[index++];
      if (reply === undefined) return { mail, recipients, failure: missing('rcpt') };
      recipients.push(replyInfo('rcpt', reply));
    }
    // QUIT's own reply, or its absence, changes none of the answers.
    return { mail, recipients, failure: null };
  }

  /**
   * Without PIPELINING: one command at a time, as `pipeline()` answers a group, stopping after a
   * refusal of one of the first `gated` commands (RSET, MAIL FROM: the RCPTs after them would be wasted),
   * or where `until` says (the rest not sent).
   */
  async #oneByOne(
    connection: SmtpConnection,
    lines: readonly string[],
    gated: number,
    until?: (reply: SmtpReply) => boolean,
  ): Promise<GroupReplies> {
    const replies: SmtpReply[] = [];
    try {
      for (const line of lines) {
        const reply = await connection.command(line);
        replies.push(reply);
        if (replies.length <= gated && !isPositiveReply(reply)) break;
        if (until?.(reply) === true) break;
      }
      return { replies, error: null };
    } catch (error) {
      return { replies, error };
    }
  }
}
