/**
 * SMTP personas on loopback built with the `smtp-server` package (the nodemailer test model): a real
 * server, configured to behave like a kind of MX (accepts all, rejects unknown users, requires TLS,
 * lacks PIPELINING or SMTPUTF8, refuses EHLO, defers with 421 at the greeting).
 */
import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { recordCommand } from './smtp-verb-log.js';
import { TEST_TLS_CERT, TEST_TLS_KEY } from './smtp-test-cert.js';

export interface PersonaOptions {
  /** Advertise PIPELINING. Default true. */
  readonly pipelining?: boolean;
  /** `off`: no STARTTLS; `offered`: advertised; `required`: advertised, and MAIL gets 530 in plaintext. */
  readonly startTls?: 'off' | 'offered' | 'required';
  /** Advertise SMTPUTF8. Default true. */
  readonly smtputf8?: boolean;
  /** Accept EHLO. Default true; false answers it `500 command not recognized`, as pre-ESMTP servers do. */
  readonly ehlo?: boolean;
  /** Refuse at the greeting with this code and text (e.g. 421, Proofpoint's deferral). */
  readonly greeting?: { readonly code: number; readonly text: string };
  /** Mailboxes that exist (lower case); `null` accepts every recipient (catch-all). Default null. */
  readonly users?: readonly string[] | null;
  /** Where to listen. Default 127.0.0.1, port 0; several personas share a port on 127.0.0.2, .3, … */
  readonly listen?: { readonly host: string; readonly port: number };
}

export interface Persona {
  readonly host: string;
  readonly port: number;
  /** Every command line received, over all connections, in order. */
  readonly commands: readonly string[];
  /** MAIL FROM parameters received (`{ SMTPUTF8: true }`, …), one entry per MAIL. */
  readonly mailArgs: readonly Record<string, unknown>[];
  /** For each connection, how many times the client's bytes arrived: its write "flights". */
  readonly flights: readonly number[];
  /** Connections accepted so far. */
  readonly connections: () => number;
  /** Connections still open. */
  readonly openConnections: () => Promise<number>;
  /** Resolves once no connection is open any more (rejects after `timeoutMs`). */
  readonly settled: (timeoutMs?: number) => Promise<void>;
  readonly close: () => Promise<void>;
}

interface Logger {
  [level: string]: (entry: { tnx?: string }, message?: string, ...args: unknown[]) => void;
}

/** Starts a persona on 127.0.0.1, port 0. */
export async function startPersona(options: PersonaOptions = {}): Promise<Persona> {
  const commands: string[] = [];
  const mailArgs: Record<string, unknown>[] = [];
  const flights: number[] = [];
  const sockets = new Set<Socket>();
  const users = options.users === undefined || options.users === null ? null : new Set(options.users);
  const startTls = options.startTls ?? 'off';
  const noop = (): void => undefined;
  // smtp-server logs each command as debug({ tnx: 'command' }, 'C:', line): the one hook that sees
  // every command line, before any handler runs.
  const logger: Logger = {
    trace: noop,
    info: noop,
    warn: noop,
    error: noop,
    fatal: noop,
    debug: (entry, _message, line) => {
      if (entry.tnx === 'command' && typeof line === 'string') {
        commands.push(line);
        recordCommand(line);
      }
    },
  };
  const settings: SMTPServerOptions = {
    name: 'mx.rcpt.test',
    key: TEST_TLS_KEY,
    cert: TEST_TLS_CERT,
    logger: logger,
    // Never reach for DNS: tests stay on loopback.
    disableReverseLookup: true,
    authOptional: true,
    hideENHANCEDSTATUSCODES: false,
    hidePIPELINING: options.pipelining === false,
    hideSMTPUTF8: options.smtputf8 === false,
    hideSTARTTLS: startTls === 'off',
    disabledCommands: ['AUTH', ...(options.ehlo === false ? ['EHLO'] : [])],
    closeTimeout: 200,
    socketTimeout: 5_000,
    onConnect(_session, callback) {
      if (options.greeting === undefined) {
        callback();
        return;
      }
      callback(Object.assign(new Error(options.greeting.text), { responseCode: options.greeting.code }));
    },
    onMailFrom(address, session, callback) {
      mailArgs.push({ ...(address.args === false ? {} : address.args) });
      if (startTls === 'required' && !session.secure) {
        callback(Object.assign(new Error('Must issue a STARTTLS command first'), { responseCode: 530 }));
        return;
      }
      callback();
    },
    onRcptTo(address, _session, callback) {
      if (users !== null && !users.has(address.address.toLowerCase())) {
        callback(Object.assign(new Error('User unknown'), { responseCode: 550 }));
        return;
      }
      callback();
    },
  };
  const server = new SMTPServer(settings);
  server.on('error', noop);
  server.server.on('connection', (socket: Socket) => {
    const index = flights.push(0) - 1;
    sockets.add(socket);
    socket.on('data', () => {
      flights[index] = (flights[index] ?? 0) + 1;
    });
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = options.listen ?? { host: '127.0.0.1', port: 0 };
  await new Promise<void>((resolve) => server.listen(listen.port, listen.host, resolve));
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    host: listen.host,
    port: address.port,
    commands,
    mailArgs,
    flights,
    connections: () => flights.length,
    openConnections: () =>
      new Promise<number>((resolve, reject) => {
        server.server.getConnections((error, count) => {
          if (error === null) resolve(count);
          else reject(error);
        });
      }),
    settled: async (timeoutMs = 2_000) => {
      const until = Date.now() + timeoutMs;
      while (sockets.size > 0) {
        if (Date.now() > until) throw new Error(`${sockets.size} connection(s) still open`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Force-close sockets first: server.close() otherwise waits for open connections.
        for (const socket of sockets) socket.destroy();
        server.close(resolve);
      }),
  };
}
