/**
 * In-process SMTP servers that behave like real ones, for `rcpt demo`, the tests and the benchmarks.
 * Built on `smtp-server`; they never accept DATA (nothing is delivered anywhere) and count what they see.
 */
import type { Socket } from 'node:net';

import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerOptions,
  type SMTPServerSession,
} from 'smtp-server';

/** A reply the persona sends instead of accepting: `{ code: 550, text: '5.1.1 User unknown' }`. */
export interface PersonaReply {
  readonly code: number;
  readonly text: string;
}

export interface PersonaContext {
  /** The reverse-path of the current transaction (`''` for `<>`). */
  readonly mailFrom: string;
  /** The client's address as the server saw it. */
  readonly remoteAddress: string;
  /** RCPTs already seen in this connection (rejected ones included). */
  readonly rcptCount: number;
  /** The MAIL FROM parameters of the current transaction, as parsed (`{ SMTPUTF8: true }`). */
  readonly mailParams: Readonly<Record<string, unknown>>;
  /** True once the connection is encrypted (after STARTTLS). */
  readonly secure: boolean;
  /** The TLS server name (SNI) the client sent, `null` in plaintext or when it sent none. */
  readonly servername: string | null;
}

export interface PersonaSpec {
  /** A name for logs and counters. */
  readonly name: string;
  /** The greeting text after `220 `. */
  readonly banner?: string;
  /** Advertise and allow STARTTLS (`tls`, or smtp-server's built-in self-signed pair). Default false. */
  readonly startTls?: boolean;
  /** The PEM key and certificate STARTTLS presents. Default smtp-server's built-in self-signed pair. */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Accept EHLO. Default true; false answers it `500`, as a pre-ESMTP server does (the client says HELO). */
  readonly ehlo?: boolean;
  /**
   * Let smtp-server put RFC 3463 enhanced codes in its replies (`250 2.1.5 Accepted`, `550 5.1.1 …`).
   * Default false: the personas' reply texts carry their own, as real servers' texts do.
   */
  readonly enhancedStatusCodes?: boolean;
  /** Refuse every connection at the greeting with this reply (421: a deferral; 554: no SMTP service). */
  readonly refuseGreeting?: PersonaReply;
  /** Advertise PIPELINING. Default true. */
  readonly pipelining?: boolean;
  /** Advertise SMTPUTF8. Default true. */
  readonly smtputf8?: boolean;
  /** Delay before the greeting, in milliseconds (a slow or tarpitting server). */
  readonly greetingDelayMs?: number;
  /** Delay before each RCPT reply, in milliseconds. */
  readonly rcptDelayMs?: number;
  /** Reply to MAIL FROM instead of accepting it. */
  readonly onMailFrom?: (mailFrom: string, context: PersonaContext) => PersonaReply | null;
  /** Reply to RCPT TO: `null` accepts, a reply rejects. */
  readonly onRcptTo?: (recipient: string, context: PersonaContext) => PersonaReply | null;
  /** Sees every command line as received, before it is handled (a test's record of the dialogue). */
  readonly onCommand?: (line: string) => void;
  /** Sees each accepted TCP connection's socket, before the greeting (a test watching the bytes). */
  readonly onSocket?: (socket: Socket) => void;
}

export interface PersonaStats {
  connections: number;
  /** Connections open now. */
  open: number;
  /** Most connections open at once (politeness caps are asserted against it). */
  peak: number;
  rcpts: number;
  /** Every command verb seen, in order (for assertions such as "DATA is never sent"). */
  readonly verbs: string[];
}

export interface RunningPersona {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly stats: PersonaStats;
  close(): Promise<void>;
}

/**
 * A set of mailboxes, and `postmaster` (RFC 5321 §4.5.1): everything else is rejected the way Postfix
 * does with a virtual mailbox table.
 */
export function mailboxes(
  names: readonly string[],
  reject: PersonaReply = {
    code: 550,
    text: '5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table',
  },
): (recipient: string) => PersonaReply | null {
  // RFC 5321 §4.5.1: every server that delivers mail accepts the reserved mailbox `postmaster`.
  const known = new Set([...names.map((name) => name.toLowerCase()), 'postmaster']);
  return (recipient) => {
    const local = recipient.slice(0, recipient.lastIndexOf('@')).toLowerCase();
    return known.has(local) ? null : { code: reject.code, text: reject.text.replace('%s', recipient) };
  };
}

function replyError(reply: PersonaReply): Error & { responseCode: number } {
  return Object.assign(new Error(reply.text), { responseCode: reply.code });
}

function addressOf(address: SMTPServerAddress | false): string {
  return address === false ? '' : address.address;
}

function paramsOf(address: SMTPServerAddress | false): Readonly<Record<string, unknown>> {
  return address === false || address.args === false ? {} : { ...address.args };
}

/** smtp-server's logger interface (bunyan's shape). */
type ServerLogger = Exclude<SMTPServerOptions['logger'], boolean | undefined>;

/**
 * A logger for smtp-server that keeps only the one entry showing each command line as received:
 * `debug({ tnx: 'command' }, 'C:', line)`, logged before any handler runs.
 */
function commandLogger(onCommand: (line: string) => void): ServerLogger {
  const ignore = (): void => undefined;
  return {
    level: ignore,
    trace: ignore,
    info: ignore,
    warn: ignore,
    error: ignore,
    fatal: ignore,
    debug: (entry: { tnx?: unknown } | null, _message: unknown, line: unknown) => {
      if (entry?.tnx === 'command' && typeof line === 'string') onCommand(line);
    },
  };
}

/** Starts a persona on `host:port` (port 0 picks one). */
export async function startPersona(spec: PersonaSpec, host: string, port: number): Promise<RunningPersona> {
  const stats: PersonaStats = { connections: 0, open: 0, peak: 0, rcpts: 0, verbs: [] };
  const rcptsBySession = new Map<string, number>();
  const openSessions = new Set<string>();
  // During MAIL the transaction is the command's: smtp-server records it in the envelope only once accepted.
  const context = (session: SMTPServerSession, mail = session.envelope.mailFrom): PersonaContext => ({
    mailFrom: addressOf(mail),
    remoteAddress: session.remoteAddress,
    rcptCount: rcptsBySession.get(session.id) ?? 0,
    mailParams: paramsOf(mail),
    secure: session.secure,
    servername: (session as { servername?: string }).servername ?? null,
  });
  const server = new SMTPServer({
    name: `mx.${spec.name}`,
    banner: spec.banner ?? `mx.${spec.name} ESMTP`,
    authOptional: true,
    disabledCommands: [
      'AUTH',
      ...(spec.startTls === true ? [] : ['STARTTLS']),
      ...(spec.ehlo === false ? ['EHLO'] : []),
    ],
    ...(spec.tls === undefined ? {} : { key: spec.tls.key, cert: spec.tls.cert }),
    hidePIPELINING: spec.pipelining === false,
    hideSMTPUTF8: spec.smtputf8 === false,
    hideDSN: true,
    hideENHANCEDSTATUSCODES: spec.enhancedStatusCodes !== true,
    logger: spec.onCommand === undefined ? false : commandLogger(spec.onCommand),
    // smtp-server looks the client's address up with dns.reverse() otherwise: a query to the system
    // resolver, i.e. traffic beyond loopback, for every connection (and ~300 ms per greeting).
    disableReverseLookup: true,
    // Personas are loopback test servers: no per-IP limits of their own.
    maxClients: 1000,
    onConnect(session, callback) {
      stats.connections += 1;
      openSessions.add(session.id);
      stats.open += 1;
      stats.peak = Math.max(stats.peak, stats.open);
      const refusal = spec.refuseGreeting;
      const greet = () => {
        callback(refusal === undefined ? undefined : replyError(refusal));
      };
      if (spec.greetingDelayMs === undefined) greet();
      else setTimeout(greet, spec.greetingDelayMs);
    },
    onMailFrom(address, session, callback) {
      stats.verbs.push('MAIL');
      const reply = spec.onMailFrom?.(address.address, context(session, address)) ?? null;
      callback(reply === null ? undefined : replyError(reply));
    },
    onRcptTo(address, session, callback) {
      stats.verbs.push('RCPT');
      stats.rcpts += 1;
      const reply = spec.onRcptTo?.(address.address, context(session)) ?? null;
      rcptsBySession.set(session.id, (rcptsBySession.get(session.id) ?? 0) + 1);
      const answer = () => {
        callback(reply === null ? undefined : replyError(reply));
      };
      if (spec.rcptDelayMs === undefined) answer();
      else setTimeout(answer, spec.rcptDelayMs);
    },
    onData(stream, _session, callback) {
      // rcpt never sends DATA; if anything does, record it and refuse the message.
      stats.verbs.push('DATA');
      stream.resume();
      stream.on('end', () => {
        callback(replyError({ code: 554, text: '5.7.1 This persona does not accept mail' }));
      });
    },
    onClose(session) {
      // Only connections that were counted in: a client may leave before onConnect runs.
      if (openSessions.delete(session.id)) stats.open -= 1;
      rcptsBySession.delete(session.id);
    },
  });
  server.on('error', () => {
    // Client misbehaviour (resets, TLS errors) is the client's problem; the persona keeps serving.
  });
  const onSocket = spec.onSocket;
  if (onSocket !== undefined) server.server.on('connection', onSocket);
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      reject(error);
    };
    server.server.once('error', onError);
    server.listen(port, host, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const bound = server.server.address();
  const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  return {
    name: spec.name,
    host,
    port: boundPort,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}
