/**
 * A raw SMTP server on loopback for the reliability suite: fast, byte-exact, and keeping what a
 * good-citizenship check needs per connection (every command line, who closed first) plus the peak of
 * connections open at once. It speaks just enough RFC 5321 (greeting, EHLO/HELO, MAIL, RCPT, RSET,
 * NOOP, QUIT, PIPELINING) and can instead misbehave like the hostile servers of issue 4 (tarpit,
 * trickle, 1 MB line, endless continuation, reset, broken TLS, garbage).
 *
 * Everything it opens (sockets, timers) is released when a connection closes or the server stops.
 */
import { createServer, type Server, type Socket } from 'node:net';

/** How a server behaves. `smtp` answers; the rest are the hostile kinds of issue 9. */
export const MX_KINDS = [
  'smtp',
  'tarpit',
  'trickle',
  'longline',
  'endless',
  'reset',
  'badtls',
  'garbage',
] as const;
export type MxKind = (typeof MX_KINDS)[number];
export const HOSTILE_KINDS = MX_KINDS.filter((kind) => kind !== 'smtp');

export interface MxServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly kind?: MxKind;
  /** Mailboxes (lower-case local parts) that exist; `null` accepts every recipient. Default null. */
  readonly users?: ReadonlySet<string> | null;
  /** Delay before each RCPT reply, in milliseconds. Default 0. */
  readonly rcptDelayMs?: number;
  /** A counter shared by several servers: SMTP sessions live over all of them, and its peak. */
  readonly shared?: SessionCounter;
}

export interface SessionCounter {
  live: number;
  peak: number;
}

/** One connection as the server saw it. */
export interface MxSession {
  /** Command lines received, in order. */
  readonly commands: string[];
  /** True when the server ended the connection before the client did (hostile kinds, 421). */
  serverClosedFirst: boolean;
  closed: boolean;
  /** Called by the dialogue when QUIT arrives. */
  onQuit?: () => void;
}

export interface MxServer {
  readonly host: string;
  readonly port: number;
  readonly kind: MxKind;
  readonly sessions: readonly MxSession[];
  /** Connections open now. */
  readonly open: () => number;
  /** Most TCP connections open at once, until the server processed each close (since `resetPeak()`). */
  readonly peak: () => number;
  /**
   * Most SMTP sessions live at once (since `resetPeak()`): a session ends when its QUIT is received or
   * its connection closes, whichever comes first. The client's cap is judged on this one: after QUIT
   * and 221 the session is over, whether or not the server has yet processed the FIN that follows.
   */
  readonly sessionPeak: () => number;
  resetPeak(): void;
  /** Resolves once no connection is open (rejects after `timeoutMs`). */
  settled(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const EHLO_LINES = ['PIPELINING', 'SIZE 10240000', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8'];

/** Starts one server. */
export async function startMxServer(options: MxServerOptions): Promise<MxServer> {
  const kind = options.kind ?? 'smtp';
  const sessions: MxSession[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let peak = 0;
  let live = 0;
  let sessionPeak = 0;

  const later = (ms: number, action: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    peak = Math.max(peak, sockets.size);
    const session: MxSession = { commands: [], serverClosedFirst: false, closed: false };
    sessions.push(session);
    live += 1;
    sessionPeak = Math.max(sessionPeak, live);
    const shared = options.shared;
    if (shared !== undefined) {
      shared.live += 1;
      shared.peak = Math.max(shared.peak, shared.live);
    }
    let ended = false;
    const endSession = (): void => {
      if (ended) return;
      ended = true;
      live -= 1;
      if (shared !== undefined) shared.live -= 1;
    };
    session.onQuit = endSession;
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    // 'end' is the client's FIN: from then on the client closed first, whatever the server does next.
    let clientEnded = false;
    socket.on('end', () => {
      clientEnded = true;
      socket.end();
    });
    socket.on('close', () => {
      endSession();
      session.closed = true;
      sockets.delete(socket);
    });
    const write = (text: string | Buffer): void => {
      if (!socket.destroyed && socket.writable) socket.write(text);
    };
    const serverClose = (reset = false): void => {
      if (!clientEnded && !session.closed) session.serverClosedFirst = true;
      if (reset) socket.resetAndDestroy();
      else socket.end();
    };
    serve(kind, socket, session, write, serverClose, later, options);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    host: options.host,
    port: address.port,
    kind,
    sessions,
    open: () => sockets.size,
    peak: () => peak,
    sessionPeak: () => sessionPeak,
    resetPeak: () => {
      peak = sockets.size;
      sessionPeak = live;
    },
    settled: async (timeoutMs = 3_000) => {
      const until = Date.now() + timeoutMs;
      while (sockets.size > 0) {
        if (Date.now() > until) throw new Error(`${options.host}: ${sockets.size} connection(s) still open`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

function serve(
  kind: MxKind,
  socket: Socket,
  session: MxSession,
  write: (text: string | Buffer) => void,
  serverClose: (reset?: boolean) => void,
  later: (ms: number, action: () => void) => void,
  options: MxServerOptions,
): void {
  switch (kind) {
    case 'tarpit':
      // Accepts and never says a word; the client's greeting timeout must end it.
      socket.on('data', () => undefined);
      return;
    case 'trickle': {
      // One byte of the greeting every 200 ms: slower than any sane greeting timeout in the tests.
      const bytes = Buffer.from('220 mx.trickle.test ESMTP at your leisure\r\n');
      let index = 0;
      const next = (): void => {
        if (session.closed || index >= bytes.length) return;
        write(bytes.subarray(index, index + 1));
        index += 1;
        later(200, next);
      };
      next();
      socket.on('data', () => undefined);
      return;
    }
    case 'longline':
      // A 1 MB greeting line: the reply parser's line cap must stop it, not memory.
      write(`220 ${'x'.repeat(1024 * 1024)}\r\n`);
      socket.on('data', () => undefined);
      return;
    case 'endless': {
      // A greeting that never ends: continuation lines, as fast as the client reads them.
      const chunk = '220-mx.endless.test still greeting you\r\n'.repeat(64);
      const pump = (): void => {
        while (!session.closed && socket.writable) {
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      later(0, pump);
      socket.on('data', () => undefined);
      return;
    }
    case 'garbage':
      write('HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n<html>nope</html>\r\n');
      socket.on('data', () => undefined);
      return;
    default:
      break;
  }
  // 'smtp', 'reset' and 'badtls' start as a normal MTA.
  let buffer = '';
  let mailFrom: string | null = null;
  let tlsStarted = false;
  // Replies go out in order even when an RCPT reply is delayed (RFC 2920 §3: pipelined replies in order).
  let queue: Promise<void> = Promise.resolve();
  const reply = (text: string, delayMs = 0): void => {
    queue = queue.then(
      () =>
        new Promise<void>((resolve) => {
          if (delayMs <= 0) {
            write(`${text}\r\n`);
            resolve();
          } else {
            later(delayMs, () => {
              write(`${text}\r\n`);
              resolve();
            });
          }
        }),
    );
  };
  write(`220 mx.${kind}.test ESMTP\r\n`);
  socket.on('data', (chunk: Buffer) => {
    if (tlsStarted) return;
    buffer += chunk.toString('latin1');
    let lf: number;
    while ((lf = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, lf).replace(/\r$/, '');
      buffer = buffer.slice(lf + 1);
      session.commands.push(line);
      const verb = (line.split(/[ :]/, 1)[0] ?? '').toUpperCase();
      switch (verb) {
        case 'EHLO': {
          if (kind === 'reset') {
            // RST in the middle of the EHLO reply.
            write('250-mx.reset.test\r\n250-PIPELI');
            later(10, () => {
              serverClose(true);
            });
            return;
          }
          const keywords = kind === 'badtls' ? [...EHLO_LINES, 'STARTTLS'] : EHLO_LINES;
          const lines = [`mx.${kind}.test`, ...keywords];
          reply(lines.map((text, i) => `250${i === lines.length - 1 ? ' ' : '-'}${text}`).join('\r\n'));
          break;
        }
        case 'HELO':
          reply(`250 mx.${kind}.test`);
          break;
        case 'STARTTLS':
          if (kind !== 'badtls') {
            reply('502 5.5.1 Error: command not implemented');
            break;
          }
          // Says yes, then sends bytes that are no TLS handshake, and closes.
          reply('220 2.0.0 Ready to start TLS');
          tlsStarted = true;
          later(10, () => {
            write('this is not a TLS handshake\r\n'.repeat(20));
            later(10, () => {
              serverClose();
            });
          });
          return;
        case 'MAIL':
          if (kind === 'badtls') {
            // TLS required (Postfix smtpd_tls_security_level = encrypt): no answer without a handshake.
            reply('530 5.7.0 Must issue a STARTTLS command first');
            break;
          }
          mailFrom = /<([^>]*)>/.exec(line)?.[1] ?? '';
          reply('250 2.1.0 Ok');
          break;
        case 'RCPT': {
          if (mailFrom === null) {
            reply('503 5.5.1 Error: need MAIL command');
            break;
          }
          const recipient = /<([^>]*)>/.exec(line)?.[1] ?? '';
          const local = recipient.slice(0, recipient.lastIndexOf('@')).toLowerCase();
          const users = options.users ?? null;
          const known = users === null || users.has(local);
          reply(
            known
              ? '250 2.1.5 Ok'
              : `550 5.1.1 <${recipient}>: Recipient address rejected: User unknown in virtual mailbox table`,
            options.rcptDelayMs ?? 0,
          );
          break;
        }
        case 'RSET':
          mailFrom = null;
          reply('250 2.0.0 Ok');
          break;
        case 'NOOP':
          reply('250 2.0.0 Ok');
          break;
        case 'QUIT':
          session.onQuit?.();
          reply('221 2.0.0 Bye');
          queue = queue.then(() => {
            socket.end();
          });
          return;
        case 'DATA':
        case 'BDAT':
          // rcpt never sends either; the session log keeps it so a test can prove that.
          reply('554 5.5.1 Error: this server accepts no mail');
          break;
        default:
          reply('502 5.5.2 Error: command not recognized');
      }
    }
  });
}
