/**
 * An SMTP persona of src/demo/smtp-persona.ts (the one smtp-server persona builder, shared with
 * `rcpt demo`), configured as a kind of MX (accepts all, rejects unknown users, requires TLS, lacks
 * PIPELINING or SMTPUTF8, refuses EHLO, defers at the greeting) and watched as the SMTP client tests
 * need: every command line, the MAIL parameters, the client's write flights per connection, and
 * whether every connection has closed. Commands also go to the process-wide verb log.
 */
import type { Socket } from 'node:net';

import { startPersona, type PersonaReply } from '../../src/demo/smtp-persona.js';
import { TEST_TLS_CERT, TEST_TLS_KEY } from './smtp-test-cert.js';
import { recordCommand } from './smtp-verb-log.js';

export interface WatchedPersonaOptions {
  /** Advertise PIPELINING. Default true. */
  readonly pipelining?: boolean;
  /** `off`: no STARTTLS; `offered`: advertised; `required`: advertised, and MAIL gets 530 in plaintext. */
  readonly startTls?: 'off' | 'offered' | 'required';
  /** Advertise SMTPUTF8. Default true. */
  readonly smtputf8?: boolean;
  /** Accept EHLO. Default true; false answers it `500 command not recognized`, as pre-ESMTP servers do. */
  readonly ehlo?: boolean;
  /** Refuse at the greeting with this code and text (e.g. 421, Proofpoint's deferral). */
  readonly greeting?: PersonaReply;
  /** Mailboxes that exist (lower case); `null` accepts every recipient (catch-all). Default null. */
  readonly users?: readonly string[] | null;
  /** Where to listen. Default 127.0.0.1, port 0; several personas share a port on 127.0.0.2, .3, … */
  readonly listen?: { readonly host: string; readonly port: number };
}

export interface WatchedPersona {
  readonly host: string;
  readonly port: number;
  /** Every command line received, over all connections, in order. */
  readonly commands: readonly string[];
  /** MAIL FROM parameters received (`{ SMTPUTF8: true }`, …), one entry per MAIL. */
  readonly mailArgs: readonly Readonly<Record<string, unknown>>[];
  /** For each connection, how many times the client's bytes arrived: its write "flights". */
  readonly flights: readonly number[];
  /** Connections accepted so far. */
  readonly connections: () => number;
  /** SMTP sessions still open, as the server counts them. */
  readonly openConnections: () => Promise<number>;
  /** Resolves once no connection is open any more (rejects after `timeoutMs`). */
  readonly settled: (timeoutMs?: number) => Promise<void>;
  readonly close: () => Promise<void>;
}

/** RFC 3207 §4: a server that requires TLS answers commands other than NOOP, EHLO, STARTTLS, QUIT so. */
const TLS_REQUIRED: PersonaReply = { code: 530, text: 'Must issue a STARTTLS command first' };

/** Starts a watched persona, on 127.0.0.1 and a free port unless `listen` says otherwise. */
export async function startWatchedPersona(options: WatchedPersonaOptions = {}): Promise<WatchedPersona> {
  const commands: string[] = [];
  const mailArgs: Readonly<Record<string, unknown>>[] = [];
  const flights: number[] = [];
  const sockets = new Set<Socket>();
  const users = options.users === undefined || options.users === null ? null : new Set(options.users);
  const startTls = options.startTls ?? 'off';
  const listen = options.listen ?? { host: '127.0.0.1', port: 0 };
  const persona = await startPersona(
    {
      // Greets as mx.rcpt.test, the name the tests' targets give.
      name: 'rcpt.test',
      startTls: startTls !== 'off',
      tls: { key: TEST_TLS_KEY, cert: TEST_TLS_CERT },
      ...(options.pipelining === undefined ? {} : { pipelining: options.pipelining }),
      ...(options.smtputf8 === undefined ? {} : { smtputf8: options.smtputf8 }),
      ...(options.ehlo === undefined ? {} : { ehlo: options.ehlo }),
      ...(options.greeting === undefined ? {} : { refuseGreeting: options.greeting }),
      // The replies the tests read are smtp-server's own: `250 2.1.5 Accepted`, `550 5.1.1 User unknown`.
      enhancedStatusCodes: true,
      onCommand: (line) => {
        commands.push(line);
        recordCommand(line);
      },
      onSocket: (socket) => {
        const index = flights.push(0) - 1;
        sockets.add(socket);
        socket.on('data', () => {
          flights[index] = (flights[index] ?? 0) + 1;
        });
        socket.on('close', () => sockets.delete(socket));
      },
      onMailFrom: (_from, context) => {
        mailArgs.push(context.mailParams);
        return startTls === 'required' && !context.secure ? TLS_REQUIRED : null;
      },
      onRcptTo: (recipient) =>
        users === null || users.has(recipient.toLowerCase()) ? null : { code: 550, text: 'User unknown' },
    },
    listen.host,
    listen.port,
  );
  return {
    host: listen.host,
    port: persona.port,
    commands,
    mailArgs,
    flights,
    connections: () => flights.length,
    openConnections: () => Promise.resolve(persona.stats.open),
    settled: async (timeoutMs = 10_000) => {
      const until = Date.now() + timeoutMs;
      // Both views of a close: the socket's own event and the server's session count (smtp-server's
      // onClose can come a tick after the socket closed).
      while (sockets.size > 0 || persona.stats.open > 0) {
        if (Date.now() > until)
          throw new Error(`${Math.max(sockets.size, persona.stats.open)} connection(s) still open`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    close: async () => {
      // Sockets first: the server otherwise waits for open connections to end (30 s at most).
      for (const socket of sockets) socket.destroy();
      await persona.close();
    },
  };
}
