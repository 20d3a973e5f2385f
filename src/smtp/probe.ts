/**
 * The SMTP side of a verification: the `Prober` port of `types.ts`. It receives the hosts to try from
 * the verifier (it never resolves DNS itself, docs/architecture.md), opens one session, asks RCPT for every
 * recipient and then for the catch-all probe address, and quits. It never sends DATA.
 *
 * `probe()` never rejects for what a server did or failed to do: replies are data, and a session that
 * stopped early says why in `failure` while keeping the replies it did get.
 */
import { performance } from 'node:perf_hooks';
import { OptionsError } from '../errors.js';
import { checkInteger } from '../options.js';
import type {
  ProbeFailure,
  ProbeRequest,
  ProbeResult,
  Prober,
  RecipientReply,
  SmtpReplyInfo,
  TranscriptEntry,
} from '../types.js';
import { SmtpSession } from './session.js';

/** How the prober talks to mail servers. `resolveOptions()` supplies every field's default. */
export interface ProberOptions {
  /** The port MX hosts are probed on (25 in production). */
  readonly port: number;
  /** The name sent in EHLO/HELO: the probing host's FQDN. */
  readonly helo: string;
  /** The reverse-path for MAIL FROM; `''` is the null reverse-path `<>`. */
  readonly mailFrom: string;
  /** TCP connect timeout per host, in milliseconds. */
  readonly connectTimeoutMs: number;
  /** Wait for the complete 220 greeting, in milliseconds. */
  readonly greetingTimeoutMs: number;
  /** Wait for each complete command reply (and the TLS handshake), in milliseconds. */
  readonly commandTimeoutMs: number;
  /** Upgrade with STARTTLS when the server offers it. A server that *requires* TLS (530) gets it anyway. */
  readonly startTls: boolean;
  /** Keep the transcript in results. */
  readonly transcript: boolean;
  /** Local address to bind outgoing connections to; `null` for the system's choice. */
  readonly localAddress: string | null;
}

/**
 * A `ProbeResult` plus what the shared type has no field for yet: why TLS failed when the session
 * fell back to plaintext (`null` otherwise).
 */
export interface SmtpProbeResult extends ProbeResult {
  readonly tlsFallback: string | null;
}

export interface SmtpProber extends Prober {
  probe(request: ProbeRequest): Promise<SmtpProbeResult>;
}

function checkOptions(options: ProberOptions): void {
  checkInteger('port', options.port, 1, 65_535);
  checkInteger('connectTimeoutMs', options.connectTimeoutMs);
  checkInteger('greetingTimeoutMs', options.greetingTimeoutMs);
  checkInteger('commandTimeoutMs', options.commandTimeoutMs);
  // Both end up inside command lines: anything that could split or garble a line is misuse.
  if (!/^[\x21-\x7e]+$/.test(options.helo)) {
    throw new OptionsError('helo', 'expected a host name or address literal');
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\x00-\x20<>\x7f]/.test(options.mailFrom)) {
    throw new OptionsError('mailFrom', "expected an address or '' (null reverse-path)");
  }
}

/** True when the next host should be tried (RFC 5321 §5.1): no connection, or a 421 greeting. */
function triesNextHost(failure: ProbeFailure): boolean {
  if (failure.stage === 'connect') {
    // Through a proxy: a refusal of this MX (ruleset, 0x02) or the proxy failing to reach it (0x03–0x06)
    // is about this host; a proxy that is down, refuses us or stalls would fail every host the same way.
    return (
      failure.kind === 'connection_failed' ||
      failure.kind === 'timeout' ||
      failure.kind === 'proxy_refused' ||
      failure.kind === 'proxy_target_unreachable'
    );
  }
  return failure.stage === 'greeting' && failure.kind === 'reply' && failure.reply?.code === 421;
}

/**
 * Creates the SMTP prober. Throws `OptionsError` on a bad option; its `probe()` never rejects.
 *
 * @example
 * const prober = createProber({ port: 25, helo: 'verifier.example.com', mailFrom: '',
 *   connectTimeoutMs: 10_000, greetingTimeoutMs: 30_000, commandTimeoutMs: 30_000,
 *   startTls: true, transcript: false, localAddress: null });
 * const result = await prober.probe({ targets: [{ host: 'mx1.example.com', ip: '192.0.2.25' }],
 *   recipients: ['alice@example.com'], catchAllRecipient: null, smtputf8: false });
 */
export function createProber(options: ProberOptions): SmtpProber {
  checkOptions(options);
  const settings = { ...options };
  return {
    probe: (request) => {
      const session = request.session;
      if (session === undefined) return probe(settings, request);
      // A request may present itself differently (a per-request EHLO name, MAIL FROM or port, as an
      // HTTP caller of Reacher's API sends them): checked like the prober's own settings.
      const overridden: ProberOptions = {
        ...settings,
        ...(session.port === undefined ? {} : { port: session.port }),
        ...(session.helo === undefined ? {} : { helo: session.helo }),
        ...(session.mailFrom === undefined ? {} : { mailFrom: session.mailFrom }),
      };
      checkOptions(overridden);
      return probe(overridden, request);
    },
  };
}

async function probe(options: ProberOptions, request: ProbeRequest): Promise<SmtpProbeResult> {
  const startedAt = performance.now();
  const transcript: TranscriptEntry[] | null = options.transcript ? [] : null;
  let attempts = 0;
  let answered: SmtpSession | null = null;
  let failure: ProbeFailure | null = null;
  let proxy: string | null = null;
  const sessionTargets = new WeakMap<SmtpSession, { host: string; ip: string }>();

  const result = (
    session: SmtpSession | null,
    replies: readonly RecipientReply[],
    catchAll: SmtpReplyInfo | null,
  ): SmtpProbeResult => {
    const target = session === null ? null : sessionTargets.get(session);
    return {
      host: target?.host ?? null,
      ip: target?.ip ?? null,
      port: options.port,
      tls: session?.tls !== null && session?.tls !== undefined,
      tlsCertificateError: session?.tls?.certificateError ?? null,
      tlsFallback: session?.tlsFallback ?? null,
      banner: session?.banner ?? null,
      extensions: session?.extensions ?? [],
      attempts,
      replies,
      catchAll,
      failure,
      transcript,
      proxy,
    };
  };
  for (const target of request.targets) {
    if (request.signal?.aborted === true) break;
    const session = new SmtpSession({
      host: target.host,
      ip: target.ip,
      port: options.port,
      helo: options.helo,
      localAddress: options.localAddress,
      connector: target.via ?? null,
      connectTimeoutMs: options.connectTimeoutMs,
      greetingTimeoutMs: options.greetingTimeoutMs,
      commandTimeoutMs: options.commandTimeoutMs,
      startTls: options.startTls,
      signal: request.signal,
      transcript,
      startedAt,
    });
    sessionTargets.set(session, target);
    const opened = await session.open();
    attempts += session.connections;
    proxy = session.proxy;
    if (session.connected) answered = session;
    if (opened === null) {
      const separate = request.oneRecipientPerTransaction === true && request.catchAllRecipient !== null;
      const recipients = [
        ...request.recipients,
        ...(request.catchAllRecipient === null || separate ? [] : [request.catchAllRecipient]),
      ];
      const outcome = await session.transaction({
        mailFrom: options.mailFrom,
        recipients,
        smtputf8: request.smtputf8,
        quit: !separate,
      });
      failure = outcome.failure;
      const replies = outcome.recipients
        .slice(0, request.recipients.length)
        .map((reply, i) => ({ recipient: request.recipients[i] ?? '', reply }));
      let catchAll: SmtpReplyInfo | null = null;
      if (request.catchAllRecipient !== null && !separate) {
        catchAll = outcome.recipients[request.recipients.length] ?? null;
      } else if (request.catchAllRecipient !== null && failure === null && session.connected) {
        // The catch-all question in a transaction of its own, after RSET; its failure does not
        // overwrite the answers already read.
        const probeOutcome = await session.transaction({
          mailFrom: options.mailFrom,
          recipients: [request.catchAllRecipient],
          smtputf8: request.smtputf8,
          reset: true,
          quit: true,
        });
        catchAll = probeOutcome.recipients[0] ?? null;
      }
      await session.quit();
      return result(session, replies, catchAll);
    }
    failure = opened;
    await session.quit();
    if (!triesNextHost(opened)) break;
  }
  failure ??=
    request.signal?.aborted === true
      ? {
          kind: 'timeout',
          stage: 'connect',
          message: 'the deadline passed before any connection',
          reply: null,
        }
      : { kind: 'connection_failed', stage: 'connect', message: 'no hosts to connect to', reply: null };
  return result(answered, [], null);
}
