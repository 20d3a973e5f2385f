/**
 * A small scripted SMTP server on a raw `net` socket, for personas that must answer byte for byte like
 * a real provider. `smtp-server` cannot do that: it folds an error message onto one line (so Gmail's
 * multi-line `550-5.1.1 …` reply is out of reach), always sends its own EHLO keywords and greeting
 * shape, and cannot misbehave on purpose. This one speaks just enough SMTP (RFC 5321): greeting, EHLO /
 * HELO with chosen keywords, STARTTLS (RFC 3207, with the test certificate), MAIL, RCPT with a reply per
 * recipient, RSET, NOOP, QUIT; pipelined input is answered in order (RFC 2920 §3). Hostile personas
 * replace all of it with a script over the raw connection.
 *
 * Every socket and timer a connection opens is released when it closes or the server stops, so a test
 * can check that the client, not the server, ended each conversation.
 */
import { createServer, type Server } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { AcceptedSockets } from '../helpers/accepted-sockets.js';
import { rawConnection, RawWire, type RawConnection } from '../helpers/smtp-raw-server.js';
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../helpers/smtp-test-cert.js';

export type { RawConnection };

/** What a persona knows about the conversation when it answers MAIL or RCPT. */
export interface SmtpContext {
  /** The client's address as this server saw it. */
  readonly remoteAddress: string;
  /** 0 for the first connection this persona accepted, 1 for the second, … */
  readonly connection: number;
  /** True once STARTTLS succeeded on this connection. */
  readonly tls: boolean;
  /** The reverse-path of the current transaction (`''` for `<>`); `''` before MAIL. */
  readonly mailFrom: string;
  /** RCPTs already answered in the current transaction (0 for the first RCPT). */
  readonly rcptIndex: number;
}

/**
 * A reply as it goes on the wire, lines separated by `\n` (CRLF is added): `'250 2.1.5 OK'`, or
 * `'550-5.1.1 first line\n550 5.1.1 last line'`. A reply whose code is 421 closes the connection after
 * it is sent (RFC 5321 §3.8).
 */
export type WireReply = string;

export interface PersonaBehaviour {
  /** The whole greeting reply. Default `220 <name> ESMTP`. A 421/521 greeting closes the connection. */
  readonly greeting?: WireReply;
  /** The first line of the EHLO reply, after `250-`. Default `<name>`. */
  readonly ehloGreet?: string;
  /** Replaces the whole EHLO reply (a refusal such as Google's `421 4.7.0 Try again later`). */
  readonly ehloReply?: WireReply;
  /** Replaces the HELO reply (default `250 <name>`): a server that refuses the client's name either way. */
  readonly heloReply?: WireReply;
  /** EHLO keywords in order (`PIPELINING`, `SIZE 35882577`, …). `STARTTLS` is dropped once TLS is on. */
  readonly extensions?: readonly string[];
  /** `required`: MAIL in plaintext gets `530 5.7.0 Must issue a STARTTLS command first`. */
  readonly requireTls?: boolean;
  /** Reply to STARTTLS; `broken` says 220 and then sends bytes that are not a TLS handshake. */
  readonly startTls?: 'ok' | 'broken';
  /** Reply to MAIL FROM; `null` (or absent) accepts with `250 2.1.0 Ok`; a 250 of its own accepts too. */
  readonly mail?: (mailFrom: string, context: SmtpContext) => WireReply | null;
  /** Reply to RCPT TO; `null` (or absent) accepts with `250 2.1.5 Ok`. */
  readonly rcpt?: (recipient: string, context: SmtpContext) => WireReply | null;
  /**
   * Replaces everything above: a hostile or broken server, driven byte by byte. The script ends or
   * resets the socket itself; if it returns without doing so, the connection is left to the client.
   */
  readonly script?: (connection: RawConnection) => Promise<void>;
}

/** One persona: a name (its host name in greetings) and how it behaves. */
export interface PersonaDefinition extends PersonaBehaviour {
  readonly name: string;
}

/** What a persona saw, for assertions. */
export interface PersonaLog {
  /** Connections accepted. */
  connections: number;
  /** Every command line received, in order, over all connections. */
  readonly commands: string[];
  /** `[recipient, mailFrom]` of every RCPT received. */
  readonly rcpts: (readonly [string, string])[];
}

export interface ScriptedServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly log: PersonaLog;
  /** Connections still open on the server side. */
  openSockets(): number;
  /** Resolves once no connection is open (rejects after `timeoutMs`). */
  settled(timeoutMs?: number): Promise<void>;
  /** Destroys open connections and stops listening. */
  close(): Promise<void>;
}

/** A line longer than this from the client is answered with 500 and the rest discarded. */
const MAX_COMMAND_LINE = 4096;

const secureContext = createSecureContext({ key: TEST_TLS_KEY, cert: TEST_TLS_CERT });

function toWire(reply: WireReply): string {
  return `${reply.split('\n').join('\r\n')}\r\n`;
}

function codeOf(reply: WireReply): number {
  return Number.parseInt(reply.slice(0, 3), 10);
}

/** The address inside `<…>` of `MAIL FROM:<x> …` / `RCPT TO:<x> …`. */
function pathOf(line: string): string {
  return /<([^>]*)>/.exec(line)?.[1] ?? '';
}

/** Runs the SMTP dialogue of a scripted (non-hostile) persona on one connection. */
async function converse(
  definition: PersonaDefinition,
  wire: RawWire,
  index: number,
  remoteAddress: string,
  log: PersonaLog,
): Promise<void> {
  const name = definition.name;
  const greeting = definition.greeting ?? `220 ${name} ESMTP`;
  wire.write(toWire(greeting));
  const greetingCode = codeOf(greeting);
  // RFC 7504 §3 / RFC 5321 §3.8: a 521 or 421 greeting is followed by closing the connection.
  if (greetingCode === 421 || greetingCode === 521) {
    wire.socket.end();
    return;
  }
  let tls = false;
  let mailFrom: string | null = null;
  let rcptIndex = 0;
  const context = (): SmtpContext => ({
    remoteAddress,
    connection: index,
    tls,
    mailFrom: mailFrom ?? '',
    rcptIndex,
  });
  const send = (reply: WireReply): boolean => {
    wire.write(toWire(reply));
    if (codeOf(reply) === 421) {
      wire.socket.end();
      return false;
    }
    return true;
  };
  for (;;) {
    const line = await wire.readLine();
    if (line === null) return;
    const verb = (line.split(/[ :]/, 1)[0] ?? '').toUpperCase();
    // RFC 5321 §3.1: after a 554 greeting the server answers every command but QUIT with 503.
    if (greetingCode !== 220 && verb !== 'QUIT') {
      send('503 5.5.1 Error: no SMTP service here');
      continue;
    }
    switch (verb) {
      case 'EHLO': {
        mailFrom = null;
        if (definition.ehloReply !== undefined) {
          if (!send(definition.ehloReply)) return;
          break;
        }
        const keywords = (definition.extensions ?? []).filter((k) => !(tls && k === 'STARTTLS'));
        const lines = [definition.ehloGreet ?? name, ...keywords];
        send(lines.map((text, i) => `250${i === lines.length - 1 ? ' ' : '-'}${text}`).join('\n'));
        break;
      }
      case 'HELO':
        mailFrom = null;
        if (!send(definition.heloReply ?? `250 ${name}`)) return;
        break;
      case 'STARTTLS': {
        if (tls || !(definition.extensions ?? []).includes('STARTTLS')) {
          send('502 5.5.1 Error: command not implemented');
          break;
        }
        send('220 2.0.0 Ready to start TLS');
        if (definition.startTls === 'broken') {
          // Bytes where the ServerHello belongs, sent apart from the 220.
          await wire.delay(20);
          wire.write('this is not a TLS handshake\r\n'.repeat(20));
          break;
        }
        const secure = new TLSSocket(wire.socket, { isServer: true, secureContext });
        wire.switchTo(secure);
        tls = true;
        mailFrom = null;
        break;
      }
      case 'MAIL': {
        if (definition.requireTls === true && !tls) {
          // Postfix smtpd_tls_security_level = encrypt; Google: `530 5.7.0 Must issue a STARTTLS command first`.
          send('530 5.7.0 Must issue a STARTTLS command first');
          break;
        }
        const from = pathOf(line);
        const reply = definition.mail?.(from, { ...context(), mailFrom: from }) ?? '250 2.1.0 Ok';
        if (codeOf(reply) === 250) {
          mailFrom = from;
          rcptIndex = 0;
        }
        if (!send(reply)) return;
        break;
      }
      case 'RCPT': {
        if (mailFrom === null) {
          send('503 5.5.1 Error: need MAIL command');
          break;
        }
        const recipient = pathOf(line);
        log.rcpts.push([recipient, mailFrom]);
        const reply = definition.rcpt?.(recipient, context()) ?? '250 2.1.5 Ok';
        rcptIndex += 1;
        if (!send(reply)) return;
        break;
      }
      case 'RSET':
        mailFrom = null;
        rcptIndex = 0;
        send('250 2.0.0 Ok');
        break;
      case 'NOOP':
        send('250 2.0.0 Ok');
        break;
      case 'QUIT':
        send('221 2.0.0 Bye');
        wire.socket.end();
        return;
      case 'DATA':
        // rcpt never sends DATA; the log keeps it so a test can prove that.
        send('554 5.5.1 Error: this persona accepts no mail');
        break;
      default:
        send('502 5.5.2 Error: command not recognized');
    }
  }
}

/**
 * Starts a persona on `host:port` (port 0 picks one). A persona with several host names (Google's
 * `gmail-smtp-in.l.google.com` and `aspmx.l.google.com`) is one server reached under all of them.
 */
export async function startScriptedServer(
  definition: PersonaDefinition,
  host: string,
  port: number,
): Promise<ScriptedServer> {
  const log: PersonaLog = { connections: 0, commands: [], rcpts: [] };
  const sockets = new AcceptedSockets();
  const server: Server = createServer((socket) => {
    const index = log.connections++;
    sockets.add(socket);
    const wire = new RawWire(socket, (line) => log.commands.push(line), MAX_COMMAND_LINE);
    if (definition.script !== undefined) {
      definition.script(rawConnection(wire, index)).catch(() => undefined);
      return;
    }
    converse(definition, wire, index, socket.remoteAddress ?? '', log).catch(() => {
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    name: definition.name,
    host,
    port: address.port,
    log,
    openSockets: () => sockets.size,
    settled: (timeoutMs) => sockets.settled(timeoutMs, definition.name),
    close: () => sockets.close(server),
  };
}
