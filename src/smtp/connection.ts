/**
 * One SMTP client connection: it owns the socket (plain, then TLS after STARTTLS), the timers and the
 * queue of expected replies, and has a single teardown path that clears all of them (nodemailer's
 * `_onError`, with `#private` state instead of `_underscore` fields).
 *
 * Replies are matched to commands in order through a FIFO (nodemailer's `_responseActions`); a reply
 * nobody asked for is a protocol error. Every failure rejects every waiting reply with one error and
 * closes the connection: after that the connection is dead, and each later call rejects with the same
 * error. What the server *said* (any reply code) is data and resolves normally.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { smtpConnectChannel, smtpLineChannel } from '../diagnostics.js';
import {
  ProxyError,
  SmtpConnectError,
  SmtpProtocolError,
  SmtpTimeoutError,
  SmtpTlsError,
  VerifyError,
  type TimeoutPhase,
} from '../errors.js';
import type { Connector, TranscriptEntry } from '../types.js';
import { isPositiveReply, ReplyParser, type SmtpReply } from './reply-parser.js';

export interface ConnectionOptions {
  /** The MX host name: used in messages and as the TLS server name (SNI). */
  readonly host: string;
  /** The address to connect to. */
  readonly ip: string;
  readonly port: number;
  /** Local address to bind to; `null` for the system's choice. */
  readonly localAddress: string | null;
  /**
   * Supplies the TCP stream instead of a direct connect (a SOCKS5 proxy pool); `null` or absent to
   * connect directly. It is asked for `ip`, never for `host`. With a proxy, `connectTimeoutMs` covers
   * the connection to the proxy and the proxy's connection to `ip`.
   */
  readonly connector?: Connector | null | undefined;
  /** TCP connect, in milliseconds. */
  readonly connectTimeoutMs: number;
  /** From connect to the complete 220 greeting, in milliseconds. */
  readonly greetingTimeoutMs: number;
  /** From a command becoming the oldest unanswered one to its complete reply (and for the TLS handshake). */
  readonly commandTimeoutMs: number;
  /** Aborting it tears the connection down with an `SmtpTimeoutError` of phase `deadline`. */
  readonly signal?: AbortSignal | undefined;
  /** Where transcript entries go (shared by a probe's connections), `null` to keep none. */
  readonly transcript: TranscriptEntry[] | null;
  /** `performance.now()` at which transcript times start (the probe's start). */
  readonly startedAt: number;
}

/** What the TLS handshake established. Certificates are not required to verify for probing. */
export interface TlsInfo {
  /** The TLS version, e.g. `TLSv1.3`. */
  readonly protocol: string | null;
  /** True when the certificate chain and name verified. */
  readonly authorized: boolean;
  /** Why the certificate did not verify (e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`), `null` when it did. */
  readonly certificateError: string | null;
}

export interface SendOptions {
  /** Overrides the command timeout for these replies, in milliseconds. */
  readonly timeoutMs?: number;
}

export interface PipelineOptions extends SendOptions {
  /**
   * Read with each reply of the group as it comes; true ends the group there: `pipeline()` resolves
   * with the replies so far and no error, though the rest are still owed (close the connection then,
   * or their replies are read and dropped as they come).
   */
  readonly until?: (reply: SmtpReply) => boolean;
}

/** What a pipelined group got (`pipeline()`): its replies in order, and what ended it early. */
export interface PipelinedReplies {
  /** One reply per command, in order; shorter than the group when the connection ended first. */
  readonly replies: readonly SmtpReply[];
  /**
   * Why the rest got no reply (the connection's end: a timeout, a close, bad bytes); `null` when none
   * is missing, or when `until` ended the group.
   */
  readonly error: VerifyError | null;
}

/** Verbs a prober must never send: `DATA`/`BDAT` would start delivering a message (docs/verdicts.md). */
const FORBIDDEN_VERBS = new Set(['DATA', 'BDAT']);
/**
 * A `MAIL` or `RCPT` line (ASCII letters, any case, then a space): its verb is neither forbidden nor
 * `STARTTLS`. Read by character codes (a letter's code with 0x20 set is its lower case; no other code
 * gives it), as most lines a bulk run sends are RCPT lines.
 */
function isMailOrRcpt(line: string): boolean {
  if (line.length < 5 || line.charCodeAt(4) !== 0x20) return false;
  const a = line.charCodeAt(0) | 0x20;
  const b = line.charCodeAt(1) | 0x20;
  const c = line.charCodeAt(2) | 0x20;
  const d = line.charCodeAt(3) | 0x20;
  // m a i l / r c p t
  return (
    (a === 0x6d && b === 0x61 && c === 0x69 && d === 0x6c) ||
    (a === 0x72 && b === 0x63 && c === 0x70 && d === 0x74)
  );
}

interface Expected {
  /** The command line, or `null` for the greeting. */
  readonly command: string | null;
  readonly phase: 'greeting' | 'command';
  readonly timeoutMs: number;
  /** STARTTLS: on a 2xx reply, stop reading plaintext at once so the TLS handshake owns the socket. */
  readonly upgrade: boolean;
  readonly resolve: (reply: SmtpReply) => void;
  readonly reject: (error: VerifyError) => void;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: VerifyError) => void;
}

const verbOf = (command: string | null): string =>
  command === null ? 'greeting' : (command.split(' ', 1)[0] ?? '').toUpperCase();
const describeError = (error: unknown): string => {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
};

/**
 * Throws on lines no command may be: one with CR or LF (it would smuggle a second command), `DATA` or
 * `BDAT` (a probe never transfers a message), `STARTTLS` (it goes through `startTls()`).
 */
function checkLines(lines: readonly string[]): void {
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] as string;
    if (line.includes('\r') || line.includes('\n')) {
      throw new SmtpProtocolError('refusing to send a command line containing CR or LF', {
        command: verbOf(line),
      });
    }
    // Most lines are RCPT lines: their verb is known without cutting and upper-casing it.
    if (isMailOrRcpt(line)) continue;
    const verb = verbOf(line);
    if (FORBIDDEN_VERBS.has(verb)) {
      throw new SmtpProtocolError(`refusing to send ${verb}: a probe never transfers a message`, {
        command: verb,
      });
    }
    if (verb === 'STARTTLS') {
      throw new SmtpProtocolError('STARTTLS goes through startTls()', { command: verb });
    }
  }
}

/**
 * What a direct connection reads into (`net.connect`'s `onread`), shared by every connection of the
 * process: a read is parsed before the next one is made, and the parser copies the part line it keeps.
 * Per read that saves a Buffer, the stream's push and buffering, a `data` event and a tick
 * (`maybeReadMore`); a bulk run reads a few thousand times. Proxied sockets come from the connector and
 * are read through `data` events.
 */
const READ_BUFFER = new Uint8Array(64 * 1024);

/** Marks a promise as handled (its rejection is reported through another path) and returns it as is. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** An SMTP client connection. Open it with `SmtpConnection.connect()`. */
export class SmtpConnection {
  readonly #options: ConnectionOptions;
  readonly #where: string;
  #socket: Socket | null = null;
  #tlsSocket: TLSSocket | null = null;
  #parser = new ReplyParser();
  #queue: Expected[] = [];
  /**
   * One timer per connection, not one per command: it runs until `#timerDue`, and the wait it times
   * (`#wait`) may move its deadline later meanwhile (each reply starts the next command's wait); when
   * it fires before the deadline it is set again for the rest. `#wait` null: nothing is timed.
   */
  #timer: NodeJS.Timeout | null = null;
  /** `-0`: a double from the start, as the deadlines it holds are (docs/architecture.md, "CPU"). */
  #timerDue = -0;
  #wait: {
    phase: TimeoutPhase;
    timeoutMs: number;
    deadline: number;
    /** What is awaited, for the message: a fixed text, else the reply to `command`. */
    what: string | null;
    command: string | null;
  } | null = null;
  #connectWaiter: Waiter | null = null;
  #tlsWaiter: Waiter | null = null;
  #greeting: Promise<SmtpReply> | null = null;
  #tls: TlsInfo | null = null;
  #closed = false;
  /** STARTTLS was accepted: nothing more is read from the plaintext socket. */
  #plaintextEnded = false;
  #failure: VerifyError | null = null;
  #proxy: string | null = null;

  private constructor(options: ConnectionOptions) {
    this.#options = options;
    const ip = isIP(options.ip) === 6 ? `[${options.ip}]` : options.ip;
    this.#where = `${options.host} (${ip}:${options.port})`;
  }

  /**
   * Opens a TCP connection and starts waiting for the greeting (read it with `greeting()`).
   * Rejects with `SmtpConnectError` (refused, unreachable) or `SmtpTimeoutError` (`connect`, `deadline`).
   */
  static connect(options: ConnectionOptions): Promise<SmtpConnection> {
    return new SmtpConnection(options).#connect();
  }

  /** `host (ip:port)`, as used in error messages. */
  get where(): string {
    return this.#where;
  }

  /** The proxy the connection goes through (`socks5://host:port`), `null` when direct. */
  get proxy(): string | null {
    return this.#proxy;
  }

  /** The TLS state after a successful STARTTLS, `null` while in plaintext. */
  get tls(): TlsInfo | null {
    return this.#tls;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The error that ended the connection, `null` while open or after a clean close. */
  get failure(): VerifyError | null {
    return this.#failure;
  }

  /** The server's greeting (RFC 5321 §4.3.1), whatever its code. */
  greeting(): Promise<SmtpReply> {
    return this.#greeting ?? Promise.reject(this.#deadError());
  }

  /** Sends one command and resolves with its reply, whatever its code. */
  command(line: string, options: SendOptions = {}): Promise<SmtpReply> {
    const [reply] = this.send([line], options);
    return reply ?? Promise.reject(this.#deadError());
  }

  /**
   * Sends the commands in one write (a pipelined group, RFC 2920) and returns one promise per command,
   * each resolving with that command's reply. Every promise is already marked handled, so the caller
   * may await them in order and stop at the first failure.
   *
   * Throws (synchronously) on misuse: a line with CR or LF, `DATA`/`BDAT`, or `STARTTLS` (use
   * `startTls()`).
   */
  send(lines: readonly string[], options: SendOptions = {}): Promise<SmtpReply>[] {
    checkLines(lines);
    return this.#enqueue(lines, false, options.timeoutMs ?? this.#options.commandTimeoutMs);
  }

  /**
   * Sends the commands in one write as `send()` does, with one promise for the whole group instead of
   * one per command (a bulk session's group holds up to a hundred RCPTs): it resolves once every
   * command has its reply, or with the replies so far and the error once the connection ends before
   * that, or at once when `options.until` says so. It never rejects; it throws (synchronously) on
   * misuse, as `send()` does.
   */
  pipeline(lines: readonly string[], options: PipelineOptions = {}): Promise<PipelinedReplies> {
    checkLines(lines);
    if (this.#closed) return Promise.resolve({ replies: [], error: this.#deadError() });
    this.#checkNotUpgrading(lines);
    if (lines.length === 0) return Promise.resolve({ replies: [], error: null });
    const timeoutMs = options.timeoutMs ?? this.#options.commandTimeoutMs;
    const until = options.until;
    const group = new Promise<PipelinedReplies>((resolve) => {
      const replies: SmtpReply[] = [];
      let settled = false;
      // Two closures for the group, shared by its commands: a reply per command, the end once.
      const reply = (received: SmtpReply): void => {
        if (settled) return;
        replies.push(received);
        if (replies.length === lines.length || (until !== undefined && until(received))) {
          settled = true;
          resolve({ replies, error: null });
        }
      };
      const fail = (error: VerifyError): void => {
        if (settled) return;
        settled = true;
        resolve({ replies, error });
      };
      const idle = this.#queue.length === 0;
      for (let index = 0; index < lines.length; index++) {
        this.#queue.push({
          command: lines[index] as string,
          phase: 'command',
          timeoutMs,
          upgrade: false,
          resolve: reply,
          reject: fail,
        });
      }
      if (idle) this.#armHead();
    });
    this.#write(lines);
    return group;
  }

  /**
   * Sends `STARTTLS` alone (RFC 3207 §4: nothing may be pipelined after it) and, on a 2xx reply,
   * performs the TLS handshake on the same socket. Resolves with the STARTTLS reply; a non-2xx reply
   * (454 TLS not available) leaves the connection in plaintext. Rejects with `SmtpTlsError` when the
   * handshake fails, which closes the connection. The certificate is not required to verify: probing
   * needs privacy from passive observers, not authentication, and MX certificates often fail to verify
   * (RFC 7672 §1.3). Why it did not verify is kept in `tls.certificateError`.
   */
  async startTls(): Promise<SmtpReply> {
    if (this.#tls !== null) throw new SmtpProtocolError('TLS is already active', { command: 'STARTTLS' });
    const [pending] = this.#enqueue(['STARTTLS'], true, this.#options.commandTimeoutMs);
    const reply = await (pending ?? Promise.reject(this.#deadError()));
    if (!isPositiveReply(reply)) return reply;
    await this.#handshake();
    return reply;
  }

  /** Closes the connection now, rejecting any unanswered command. Safe to call more than once. */
  close(): void {
    this.#teardown(null);
  }

  // -------------------------------------------------------------------------------------------------

  #connect(): Promise<this> {
    const { ip, port, host, signal, connector } = this.#options;
    return new Promise<this>((resolve, reject) => {
      this.#connectWaiter = {
        resolve: () => {
          resolve(this);
        },
        reject,
      };
      if (signal?.aborted === true) {
        this.#onAbort();
        return;
      }
      signal?.addEventListener('abort', this.#onAbort, { once: true });
      if (smtpConnectChannel.hasSubscribers) smtpConnectChannel.publish({ host, ip, port });
      if (connector === null || connector === undefined) this.#connectDirect();
      else this.#connectThrough(connector);
    });
  }

  #connectDirect(): void {
    const { ip, port, localAddress, connectTimeoutMs } = this.#options;
    const socket = netConnect({
      host: ip,
      port,
      ...(localAddress === null ? {} : { localAddress }),
      onread: { buffer: READ_BUFFER, callback: this.#onRead },
    });
    this.#socket = socket;
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    this.#startTimer('connect', connectTimeoutMs, 'TCP connect');
    socket.once('connect', () => {
      this.#clearTimer();
      this.#onConnected(socket);
    });
  }

  /**
   * The connector (a proxy) keeps its own timer over the whole connection, `connectTimeoutMs`; the
   * deadline's signal reaches it too. Its failure (a `ProxyError`) ends the connection as is.
   */
  #connectThrough(connector: Connector): void {
    const { ip, port, host, localAddress, signal, connectTimeoutMs } = this.#options;
    connector.connect({ ip, port, host, localAddress, timeoutMs: connectTimeoutMs, signal }).then(
      (connected) => {
        const socket = connected.socket as Socket;
        this.#proxy = connected.proxy;
        if (this.#closed) {
          socket.destroy();
          return;
        }
        this.#socket = socket;
        socket.on('error', this.#onError);
        socket.on('close', this.#onClose);
        socket.on('data', this.#onData);
        this.#onConnected(socket);
      },
      (error: unknown) => {
        if (error instanceof ProxyError) this.#proxy = error.proxy;
        this.#teardown(
          error instanceof VerifyError
            ? error
            : new SmtpConnectError(host, port, `cannot connect to ${this.#where}: ${describeError(error)}`, {
                cause: error,
              }),
        );
      },
    );
  }

  #onConnected(socket: Socket): void {
    // Commands are written whole; Nagle would only delay a pipelined group's successor.
    socket.setNoDelay(true);
    this.#greeting = handled(this.#expect(null, false, this.#options.greetingTimeoutMs));
    const waiter = this.#connectWaiter;
    this.#connectWaiter = null;
    waiter?.resolve();
  }

  #enqueue(lines: readonly string[], upgrade: boolean, timeoutMs: number): Promise<SmtpReply>[] {
    if (this.#closed) return lines.map(() => handled(Promise.reject(this.#deadError())));
    this.#checkNotUpgrading(lines);
    const replies = lines.map((line) => handled(this.#expect(line, upgrade, timeoutMs)));
    this.#write(lines);
    return replies;
  }

  #checkNotUpgrading(lines: readonly string[]): void {
    if (this.#tlsWaiter !== null) {
      throw new SmtpProtocolError('no command may be sent during the TLS handshake', {
        command: verbOf(lines[0] ?? null),
      });
    }
  }

  /** The lines in the transcript, then on the socket in one write. */
  #write(lines: readonly string[]): void {
    let data = '';
    for (let index = 0; index < lines.length; index++) {
      const line = lines[index] as string;
      this.#record('>', line);
      data += `${line}\r\n`;
    }
    this.#top()?.write(data);
  }

  #expect(command: string | null, upgrade: boolean, timeoutMs: number): Promise<SmtpReply> {
    return new Promise<SmtpReply>((resolve, reject) => {
      this.#queue.push({
        command,
        phase: command === null ? 'greeting' : 'command',
        timeoutMs,
        upgrade,
        resolve,
        reject,
      });
      if (this.#queue.length === 1) this.#armHead();
    });
  }

  /**
   * The oldest unanswered command gets the timer. It runs until that reply is *complete*, never
   * restarted by partial data, so a server trickling a byte a second still times out.
   */
  #armHead(): void {
    const head = this.#queue[0];
    if (head === undefined) this.#clearTimer();
    else this.#startTimer(head.phase, head.timeoutMs, null, head.command);
  }

  /** Times a wait of `timeoutMs` from now, replacing the one timed before. */
  #startTimer(
    phase: TimeoutPhase,
    timeoutMs: number,
    what: string | null,
    command: string | null = null,
  ): void {
    const deadline = performance.now() + timeoutMs;
    const wait = this.#wait;
    if (wait === null) {
      this.#wait = { phase, timeoutMs, deadline, what, command };
    } else {
      wait.phase = phase;
      wait.timeoutMs = timeoutMs;
      wait.deadline = deadline;
      wait.what = what;
      wait.command = command;
    }
    // The running timer fires first and sets itself again for the rest: nothing to do now.
    if (this.#timer !== null && this.#timerDue <= deadline) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerDue = deadline;
    this.#timer = setTimeout(this.#onTimer, timeoutMs);
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    const wait = this.#wait;
    if (wait === null || this.#closed) return;
    const left = wait.deadline - performance.now();
    if (left >= 1) {
      this.#timerDue = wait.deadline;
      this.#timer = setTimeout(this.#onTimer, Math.ceil(left));
      return;
    }
    this.#wait = null;
    const what = wait.what ?? `the reply to ${verbOf(wait.command)}`;
    this.#teardown(
      new SmtpTimeoutError(
        wait.phase,
        wait.timeoutMs,
        `${what} from ${this.#where} took longer than ${wait.timeoutMs} ms`,
      ),
    );
  };

  /** Nothing is timed any more; a running timer finds nothing to do when it fires. */
  #clearTimer(): void {
    this.#wait = null;
  }

  /** Stops the timer itself (teardown): no timer outlives the connection. */
  #cancelTimer(): void {
    this.#wait = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #top(): Socket | null {
    return this.#tlsSocket ?? this.#socket;
  }

  /**
   * A direct socket's read, in `READ_BUFFER`: plaintext replies until a STARTTLS upgrade takes over.
   * True: read on (false would pause the socket).
   */
  readonly #onRead = (bytes: number, buffer: Uint8Array): boolean => {
    if (!this.#plaintextEnded) this.#onData(buffer.subarray(0, bytes));
    return true;
  };

  readonly #onData = (chunk: Uint8Array): void => {
    if (this.#closed) return;
    const out = this.#parser.write(chunk);
    const replies = out.replies;
    for (let index = 0; index < replies.length; index++) {
      const reply = replies[index] as SmtpReply;
      const lines = reply.lines;
      for (let at = 0; at < lines.length; at++) this.#record('<', lines[at] as string);
      const expected = this.#queue.shift();
      if (expected === undefined) {
        this.#teardown(
          new SmtpProtocolError(
            `unexpected reply from ${this.#where} with no command waiting for it: ${reply.lines[0] ?? ''}`,
          ),
        );
        return;
      }
      expected.resolve(reply);
      if (expected.upgrade && isPositiveReply(reply)) {
        // RFC 3207 §4.2 / CVE-2011-0411: anything after the 220 arrived in plaintext and must not be
        // read as replies of the TLS session (response injection).
        if (index < replies.length - 1 || this.#parser.bufferedBytes > 0 || out.error !== null) {
          this.#teardown(
            new SmtpProtocolError(`${this.#where} sent plaintext after its STARTTLS reply (RFC 3207 §4.2)`, {
              command: 'STARTTLS',
            }),
          );
          return;
        }
        this.#clearTimer();
        this.#plaintextEnded = true;
        this.#socket?.removeListener('data', this.#onData);
        this.#socket?.pause();
        return;
      }
      this.#armHead();
    }
    if (out.error !== null) {
      const head = this.#queue[0];
      this.#teardown(
        new SmtpProtocolError(
          `bad reply from ${this.#where}: ${out.error.message}` +
            (out.error.sample === null ? '' : ` (${JSON.stringify(out.error.sample)})`),
          { command: head === undefined ? null : verbOf(head.command) },
        ),
      );
    }
  };

  #handshake(): Promise<void> {
    const socket = this.#socket;
    if (this.#closed || socket === null) return Promise.reject(this.#deadError());
    return new Promise<void>((resolve, reject) => {
      this.#tlsWaiter = { resolve, reject };
      const host = this.#options.host.replace(/\.$/, '');
      // RFC 6066 §3: SNI carries a host name, never an address.
      const servername = isIP(host) === 0 && host !== '' ? host : null;
      const secure = tlsConnect({
        socket,
        rejectUnauthorized: false,
        ...(servername === null ? {} : { servername }),
      });
      this.#tlsSocket = secure;
      secure.on('error', this.#onError);
      secure.on('close', this.#onClose);
      this.#startTimer('tls', this.#options.commandTimeoutMs, 'the TLS handshake');
      secure.once('secureConnect', () => {
        this.#clearTimer();
        const error = secure.authorizationError as Error | string | null | undefined;
        this.#tls = {
          protocol: secure.getProtocol(),
          authorized: secure.authorized,
          certificateError: secure.authorized ? null : error instanceof Error ? error.message : String(error),
        };
        // A fresh parser: nothing from the plaintext session carries over (RFC 3207 §4.2).
        this.#parser = new ReplyParser();
        secure.on('data', this.#onData);
        const waiter = this.#tlsWaiter;
        this.#tlsWaiter = null;
        waiter?.resolve();
      });
    });
  }

  readonly #onError = (error: Error): void => {
    const detail = describeError(error);
    if (this.#tlsWaiter !== null) {
      this.#teardown(
        new SmtpTlsError(`TLS handshake with ${this.#where} failed: ${detail}`, { cause: error }),
      );
    } else if (this.#connectWaiter !== null) {
      this.#teardown(
        new SmtpConnectError(
          this.#options.host,
          this.#options.port,
          `cannot connect to ${this.#where}: ${detail}`,
          { cause: error },
        ),
      );
    } else {
      this.#teardown(
        new SmtpConnectError(
          this.#options.host,
          this.#options.port,
          `connection to ${this.#where} failed: ${detail}`,
          { cause: error },
        ),
      );
    }
  };

  readonly #onClose = (): void => {
    if (this.#closed) return;
    if (this.#tlsWaiter !== null) {
      this.#teardown(new SmtpTlsError(`${this.#where} closed the connection during the TLS handshake`));
      return;
    }
    const head = this.#queue[0];
    if (head === undefined && this.#connectWaiter === null) {
      this.#teardown(null);
      return;
    }
    const partial = this.#parser.bufferedBytes;
    const waitingFor = head === undefined ? 'the connection' : `the reply to ${verbOf(head.command)}`;
    this.#teardown(
      new SmtpConnectError(
        this.#options.host,
        this.#options.port,
        `${this.#where} closed the connection while waiting for ${waitingFor}` +
          (partial > 0 ? ` (after ${partial} octets of an incomplete reply)` : ''),
      ),
    );
  };

  readonly #onAbort = (): void => {
    const elapsed = Math.round(performance.now() - this.#options.startedAt);
    this.#teardown(
      new SmtpTimeoutError(
        'deadline',
        elapsed,
        `overall deadline reached after ${elapsed} ms with ${this.#where}`,
      ),
    );
  };

  #deadError(): VerifyError {
    return this.#failure ?? new VerifyError('ERR_RCPT_CLOSED', `the connection to ${this.#where} is closed`);
  }

  /** The single teardown path: every timer, listener, socket and waiting promise ends here. */
  #teardown(error: VerifyError | null): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failure = error;
    this.#cancelTimer();
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    const queue = this.#queue;
    this.#queue = [];
    // Made only for someone to reject: a clean close (QUIT answered) has nobody waiting.
    const waiters = [this.#connectWaiter, this.#tlsWaiter];
    if (queue.length > 0 || waiters.some((waiter) => waiter !== null)) {
      const reason = this.#deadError();
      for (const expected of queue) expected.reject(reason);
      for (const waiter of waiters) waiter?.reject(reason);
    }
    this.#connectWaiter = null;
    this.#tlsWaiter = null;
    this.#tlsSocket?.destroy();
    this.#socket?.destroy();
  }

  #record(dir: '>' | '<', line: string): void {
    const { transcript, host, ip, startedAt } = this.#options;
    transcript?.push({ dir, line, ms: Math.round(performance.now() - startedAt) });
    if (smtpLineChannel.hasSubscribers) smtpLineChannel.publish({ host, ip, dir, line });
  }
}
