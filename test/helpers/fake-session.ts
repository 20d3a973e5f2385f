/**
 * A scripted SMTP session for the scheduler's unit tests: the scheduler's `SessionFactory` port
 * (src/scheduler/session-port.ts) without sockets. Each host address gets a script: how `open()` goes
 * (session by session) and the reply to each RCPT; every session and transaction is recorded, so a test
 * can assert how the scheduler batched, retried and backed off. Integration tests drive the same
 * scheduler through real SMTP servers (test/integration/verify-many*.test.ts).
 */
import type {
  ProbeSession,
  SchedulerSettings,
  SessionFactory,
  SessionOpenOptions,
  SessionTransaction,
  SessionTransactionResult,
} from '../../src/scheduler/index.js';
import type { ProbeFailure, SmtpReplyInfo } from '../../src/types.js';

export interface HostScript {
  /** Greeting text. Default `'mx.test ESMTP'`. */
  readonly banner?: string;
  /** EHLO keywords. Default `['PIPELINING']`. */
  readonly extensions?: readonly string[];
  /** How the n-th `open()` (0-based) at this host goes: `null` for ready. Default always ready. */
  readonly open?: (attempt: number) => ProbeFailure | null;
  /**
   * The reply to `RCPT TO:<recipient>`, `n` counting the times this recipient was asked at this host
   * (0-based); `'drop'` ends the session before the reply (a disconnect).
   */
  readonly rcpt: (recipient: string, n: number) => SmtpReplyInfo | 'drop';
}

export interface RecordedTransaction {
  readonly ip: string;
  readonly session: number;
  readonly recipients: readonly string[];
  readonly reset: boolean;
  /** RCPTs added to the open transaction (no RSET, no MAIL FROM). */
  readonly more: boolean;
}

export const reply = (code: number, enhanced: string | null, text: string): SmtpReplyInfo => ({
  stage: 'rcpt',
  code,
  enhanced,
  text,
});

export const OK = reply(250, '2.1.5', 'OK');
export const NO_SUCH_USER = reply(550, '5.1.1', 'No such user');

/** A fake SMTP world: `factory` goes into the scheduler's settings as `openSession`. */
export class FakeSmtp {
  readonly #scripts: ReadonlyMap<string, HostScript>;
  readonly #opens = new Map<string, number>();
  readonly #asked = new Map<string, number>();
  readonly sessions: SessionOpenOptions[] = [];
  readonly transactions: RecordedTransaction[] = [];
  /** Sessions open now per host address, and the most ever open at once. */
  readonly #open = new Map<string, number>();
  readonly peak = new Map<string, number>();

  constructor(scripts: Record<string, HostScript>) {
    this.#scripts = new Map(Object.entries(scripts));
  }

  readonly factory: SessionFactory = (options) => this.#session(options);

  /**
   * Scheduler settings that open sessions in this world: small backoffs, one session per host, the
   * random local part `random`, no transcript; `overrides` for what a test is about.
   */
  settings(overrides: Partial<SchedulerSettings> = {}): SchedulerSettings {
    return {
      window: 1000,
      hostConcurrency: 1,
      hostCommandsPerSecond: 0,
      hostRate: null,
      hostTries: 4,
      backoffMs: 1,
      maxBackoffMs: 4,
      greylistRetries: 2,
      maxSessions: 256,
      timeoutMs: 10_000,
      randomLocalPart: () => 'random',
      openSession: this.factory,
      session: {
        port: 25,
        helo: 'probe.test',
        mailFrom: 'verify@probe.test',
        localAddress: null,
        connectTimeoutMs: 1000,
        greetingTimeoutMs: 1000,
        commandTimeoutMs: 1000,
        startTls: false,
        transcript: false,
      },
      ...overrides,
    };
  }

  #session(options: SessionOpenOptions): ProbeSession {
    const script = this.#scripts.get(options.ip);
    if (script === undefined) throw new Error(`no script for ${options.ip}`);
    const id = this.sessions.length;
    this.sessions.push(options);
    const attempt = this.#opens.get(options.ip) ?? 0;
    this.#opens.set(options.ip, attempt + 1);
    let ended = false;
    let counted = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      if (counted) this.#open.set(options.ip, (this.#open.get(options.ip) ?? 1) - 1);
    };
    const session: ProbeSession = {
      banner: script.banner ?? 'mx.test ESMTP',
      extensions: script.extensions ?? ['PIPELINING'],
      tls: null,
      open: () => {
        counted = true;
        const now = (this.#open.get(options.ip) ?? 0) + 1;
        this.#open.set(options.ip, now);
        this.peak.set(options.ip, Math.max(now, this.peak.get(options.ip) ?? 0));
        const failure = script.open?.(attempt) ?? null;
        if (failure !== null) end();
        return Promise.resolve(failure);
      },
      transaction: (request: SessionTransaction): Promise<SessionTransactionResult> => {
        this.transactions.push({
          ip: options.ip,
          session: id,
          recipients: request.recipients,
          reset: request.reset === true,
          more: request.more === true,
        });
        const recipients: SmtpReplyInfo[] = [];
        for (const recipient of request.recipients) {
          const key = `${options.ip} ${recipient}`;
          const n = this.#asked.get(key) ?? 0;
          this.#asked.set(key, n + 1);
          const answer = script.rcpt(recipient, n);
          if (answer === 'drop') {
            end();
            return Promise.resolve({
              recipients,
              failure: {
                kind: 'connection_failed',
                stage: 'rcpt',
                message: 'connection closed',
                reply: null,
              },
            });
          }
          recipients.push(answer);
          if (answer.code === 421) {
            end();
            return Promise.resolve({
              recipients,
              failure: { kind: 'reply', stage: 'rcpt', message: answer.text, reply: answer },
            });
          }
        }
        return Promise.resolve({ recipients, failure: null });
      },
      quit: () => {
        end();
        return Promise.resolve();
      },
      close: end,
    };
    return session;
  }
}
