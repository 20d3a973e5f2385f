/**
 * A simulated MTA on a raw `net` server, for the bulk benchmark, the scheduler tests and the
 * reliability suite: every reply leaves `latencyMs` after its command arrived (a network round trip
 * modelled in the server, since this kernel has no netem), replies stay in command order (pipelining,
 * RFC 2920: one queue per connection, drained from its head), and the behaviours that decide a bulk
 * verifier's speed are built in: a per-transaction recipient limit (`452 4.5.3`), Postfix's error
 * limits (sleep after the soft limit, `421 4.7.0 Error: too many errors` at the hard one), greylisting of
 * (client IP, MAIL FROM, RCPT) triplets, slow RCPT replies, and counters per connection.
 *
 * For good-citizenship checks it can keep every session (its command lines, who closed first) and
 * counts sessions live at once, on one server or over several (`shared`). Instead of answering it can
 * misbehave like the hostile servers of issue 9 (`kind`: tarpit, trickle, 1 MB line, endless
 * continuation, reset, broken TLS, garbage).
 *
 * It never accepts DATA. It listens on loopback only. Everything it opens (sockets, timers) is
 * released when a connection closes or the server stops.
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

/** A refusal: `{ code: 550, text: '5.1.1 <x>: Recipient address rejected: User unknown' }`. */
export interface SimReply {
  readonly code: number;
  readonly text: string;
}

/** A counter shared by several servers: SMTP sessions live over all of them, and its peak. */
export interface SessionCounter {
  live: number;
  peak: number;
}

export interface SimMtaOptions {
  /** A name for reports; the server calls itself `mx.NAME`. Default `KIND.test`. */
  readonly name?: string;
  /** Loopback address to listen on. */
  readonly host: string;
  /** Port; 0 picks one. */
  readonly port: number;
  /** Answer (`smtp`, the default) or misbehave. */
  readonly kind?: MxKind;
  /** The greeting text after `220 `. Default `mx.NAME ESMTP Postfix`. */
  readonly banner?: string;
  /** Delay of every reply after its command arrived (the greeting: after the connection), in ms. */
  readonly latencyMs?: number;
  /** Advertise PIPELINING. Default true. */
  readonly pipelining?: boolean;
  /**
   * `null` accepts the recipient, a reply refuses it. Default: `users`, or accept everything. `session`
   * tells how many replies of this session were errors so far.
   */
  readonly recipient?: (address: string, session: { readonly errors: number }) => SimReply | null;
  /**
   * Mailboxes (lower-case local parts) that exist; the others get Postfix's `550 5.1.1 <x>: Recipient
   * address rejected: User unknown in virtual mailbox table`. Used when `recipient` is not given.
   */
  readonly users?: ReadonlySet<string> | null;
  /** Extra delay of each reply to a recipient (after the reply before it), in ms. Default 0. */
  readonly rcptDelayMs?: number;
  /** RCPTs accepted per transaction; the next ones get `452 4.5.3 Error: too many recipients`. */
  readonly recipientLimit?: number;
  /**
   * Postfix's anti-harvest limits: from `soft` errors on every reply waits `sleepMs` more; the `hard`th
   * error is answered `421 4.7.0 … Error: too many errors` and the connection is closed.
   */
  readonly errorLimits?: { readonly soft: number; readonly hard: number; readonly sleepMs: number };
  /**
   * After the first unknown recipient of a session, refuse every later RCPT of it (`550 5.7.1`), as
   * some anti-harvest setups do: an address asked after a random one would lose its answer.
   */
  readonly refuseAllAfterUnknown?: boolean;
  /**
   * The reply to those later RCPTs (with `refuseAllAfterUnknown`). Default `550 5.7.1 … Access denied`;
   * some hosts say "user unknown" instead, which a verifier cannot tell from a true answer.
   */
  readonly poisonedReply?: SimReply;
  /**
   * Accept `postmaster@` any domain before `recipient` is asked, as RFC 5321 §4.5.1 requires of every
   * server that delivers mail (after `refuseAllAfterUnknown` has struck, it is refused like the rest).
   * Default true; false leaves it to `recipient` (a server that breaks the rule).
   */
  readonly postmaster?: boolean;
  /**
   * Replies a second the server gives without slowing down, over all its connections: a command
   * answered while `perSecond` others were answered in the last second has its reply delayed
   * `delayMs` more (and, replies staying in order, every reply after it on its connection).
   */
  readonly replyRate?: { readonly perSecond: number; readonly delayMs: number };
  /** Greylist new (client IP, MAIL FROM, RCPT) triplets for this long (postgrey: 300 s). */
  readonly greylistMs?: number;
  /** Keep every session (`SimMta.sessions`): its command lines and how it ended. Default false. */
  readonly record?: boolean;
  /** Counts this server's SMTP sessions into a counter shared with other servers. */
  readonly shared?: SessionCounter;
}

export interface SimStats {
  connections: number;
  /** Sessions open: from the connection until the server said 221 or 421 (or the connection closed). */
  open: number;
  peak: number;
  commands: number;
  rcpts: number;
  mails: number;
  /** Times the client sent while waiting for nothing: one per round trip it spent (greetings included). */
  roundTrips: number;
  /** Replies with a 4xx or 5xx code. */
  errors: number;
  /** Connections ended with `421 … too many errors`. */
  hardLimitHits: number;
  /**
   * Replies delayed by the soft error limit (every command's but QUIT's), counted as the server takes
   * up their commands: pipelined ones are owed at once, sent or not.
   */
  sleptReplies: number;
  /**
   * Of `sleptReplies`, those sent: a client that drops the connection is not sent the replies it left
   * owed (nor does it wait for them).
   */
  sleptRepliesSent: number;
  /** MAIL FROM commands refused (a refusal of our sender). */
  mailRefusals: number;
  /** RCPTs refused only because an unknown recipient came before them (`refuseAllAfterUnknown`). */
  poisonedRcpts: number;
  /** Replies delayed for coming above `replyRate`. */
  rateDelayed: number;
  /** Times the server started delaying for `replyRate`: a delayed reply with none in the second before. */
  rateSlowdowns: number;
  /** Every verb received (DATA must never appear). */
  readonly verbs: Map<string, number>;
}

/** One connection as the server saw it (kept with `record: true`). */
export interface SimSession {
  /** Command lines received, in order. */
  readonly commands: string[];
  /** True when the server ended the connection before the client did (hostile kinds, 421). */
  serverClosedFirst: boolean;
  closed: boolean;
  /** Replies of this session delayed by the soft error limit (`SimStats.sleptReplies`, counted here too). */
  sleptReplies: number;
  /** Of them, those sent (`SimStats.sleptRepliesSent`, counted here too). */
  sleptRepliesSent: number;
  /** The session was ended with `421 … too many errors` (`SimStats.hardLimitHits`, counted here too). */
  hardLimitHit: boolean;
}

export interface SimMta {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly kind: MxKind;
  readonly stats: SimStats;
  /** Every session so far, with `record: true` (empty otherwise). */
  readonly sessions: readonly SimSession[];
  /** TCP connections open now. */
  open(): number;
  /** Most TCP connections open at once, until the server processed each close (since `resetPeak()`). */
  peak(): number;
  /**
   * Most SMTP sessions live at once (since `resetPeak()`): a session ends when its QUIT is received or
   * its connection closes, whichever comes first. A client's cap is judged on this one: after QUIT and
   * 221 the session is over, whether or not the server has yet processed the FIN that follows.
   */
  sessionPeak(): number;
  resetPeak(): void;
  /** Resolves once no connection is open (rejects after `timeoutMs`). */
  settled(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const MAX_LINE = 4096;
const EHLO_KEYWORDS = ['SIZE 10240000', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8'];

/** Starts a simulated MTA. */
export async function startSimMta(options: SimMtaOptions): Promise<SimMta> {
  const kind = options.kind ?? 'smtp';
  const latency = options.latencyMs ?? 0;
  const stats: SimStats = {
    connections: 0,
    open: 0,
    peak: 0,
    commands: 0,
    rcpts: 0,
    mails: 0,
    roundTrips: 0,
    errors: 0,
    hardLimitHits: 0,
    sleptReplies: 0,
    sleptRepliesSent: 0,
    poisonedRcpts: 0,
    rateDelayed: 0,
    rateSlowdowns: 0,
    mailRefusals: 0,
    verbs: new Map(),
  };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const sessions: SimSession[] = [];
  const firstSeen = new Map<string, number>();
  const reportName = options.name ?? `${kind}.test`;
  const name = `mx.${reportName}`;
  const users = options.users ?? null;
  const recipient =
    options.recipient ??
    ((address: string): SimReply | null => {
      const local = address.slice(0, address.lastIndexOf('@')).toLowerCase();
      return users === null || users.has(local)
        ? null
        : {
            code: 550,
            text: `5.1.1 <${address}>: Recipient address rejected: User unknown in virtual mailbox table`,
          };
    });
  /** When the server answered each command of the last second (`replyRate`), oldest first. */
  const answeredAt: number[] = [];
  let lastRateDelayAt = -Infinity;
  /** The extra delay of a reply to a command arriving now, for `replyRate`. */
  const rateDelay = (): number => {
    const rate = options.replyRate;
    if (rate === undefined) return 0;
    const now = Date.now();
    while (answeredAt.length > 0 && (answeredAt[0] ?? now) <= now - 1_000) answeredAt.shift();
    const over = answeredAt.length >= rate.perSecond;
    answeredAt.push(now);
    if (!over) return 0;
    stats.rateDelayed += 1;
    if (now - lastRateDelayAt > 1_000) stats.rateSlowdowns += 1;
    lastRateDelayAt = now;
    return rate.delayMs;
  };
  let tcpPeak = 0;
  let live = 0;
  let livePeak = 0;

  /** A timer released when it fires or the server stops. */
  const later = (ms: number, action: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    tcpPeak = Math.max(tcpPeak, sockets.size);
    stats.connections += 1;
    stats.open += 1;
    stats.peak = Math.max(stats.peak, stats.open);
    stats.roundTrips += 1;
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const session: SimSession = {
      commands: [],
      serverClosedFirst: false,
      closed: false,
      sleptReplies: 0,
      sleptRepliesSent: 0,
      hardLimitHit: false,
    };
    if (options.record === true) sessions.push(session);
    const shared = options.shared;
    live += 1;
    livePeak = Math.max(livePeak, live);
    if (shared !== undefined) {
      shared.live += 1;
      shared.peak = Math.max(shared.peak, shared.live);
    }
    let ended = false;
    /** The SMTP session is over: QUIT received or connection closed. */
    const endSession = (): void => {
      if (ended) return;
      ended = true;
      live -= 1;
      if (shared !== undefined) shared.live -= 1;
    };
    let counted = true;
    /** The session is over for `stats.open` once the server said 221 or 421: the slot is free from then on. */
    const release = (): void => {
      if (!counted) return;
      counted = false;
      stats.open -= 1;
    };
    // 'end' is the client's FIN: from then on the client closed first, whatever the server does next.
    let clientEnded = false;
    socket.on('end', () => {
      clientEnded = true;
    });
    const write = (data: string | Buffer): void => {
      if (!socket.destroyed && socket.writable) socket.write(data);
    };
    const serverClose = (reset = false): void => {
      if (!clientEnded && !session.closed) session.serverClosedFirst = true;
      if (reset) socket.resetAndDestroy();
      else socket.end();
    };

    /** Replies owed, in command order; one timer for the head keeps them in order (RFC 2920). */
    const owed: { at: number; data: string; then: (() => void) | undefined; slept: boolean }[] = [];
    let timer: NodeJS.Timeout | null = null;
    let pending = 0;
    let lastAt = 0;
    /** The reply owed next is delayed by the soft error limit (set by `answer`, taken by `send`). */
    let slept = false;
    const flush = (): void => {
      if (timer !== null) timers.delete(timer);
      timer = null;
      const now = Date.now();
      while (owed.length > 0 && (owed[0]?.at ?? Infinity) <= now) {
        const next = owed.shift();
        if (next === undefined) break;
        pending -= 1;
        if (socket.destroyed) continue;
        if (next.slept && socket.writable) {
          stats.sleptRepliesSent += 1;
          session.sleptRepliesSent += 1;
        }
        write(next.data);
        next.then?.();
      }
      const head = owed[0];
      if (head !== undefined) {
        timer = setTimeout(flush, Math.max(0, head.at - Date.now()));
        timers.add(timer);
      }
    };
    /** Owes `data` (sent as is), then runs `then`, `latencyMs + extraMs` from now and after every earlier reply. */
    const send = (data: string, extraMs = 0, then?: () => void): void => {
      const at = Math.max(Date.now() + latency, lastAt) + extraMs;
      lastAt = at;
      pending += 1;
      owed.push({ at, data, then, slept });
      slept = false;
      // Due now and nothing before it: out at once, as a server without latency would.
      if (timer === null) {
        if (at <= Date.now()) flush();
        else {
          timer = setTimeout(flush, at - Date.now());
          timers.add(timer);
        }
      }
    };
    const reply = (text: string, extraMs = 0, then?: () => void): void => {
      send(`${text}\r\n`, extraMs, then);
    };

    socket.on('close', () => {
      sockets.delete(socket);
      session.closed = true;
      endSession();
      if (timer !== null) {
        clearTimeout(timer);
        timers.delete(timer);
      }
      release();
    });

    if (misbehave(kind, socket, session, write, later)) return;

    let buffer = '';
    let closing = false;
    let hello = false;
    let mailFrom: string | null = null;
    let inTransaction = 0;
    let errors = 0;
    let poisoned = false;

    const answer = (line: string): void => {
      stats.commands += 1;
      if (options.record === true) session.commands.push(line);
      const verb = (line.split(/[ :]/, 1)[0] ?? '').toUpperCase();
      stats.verbs.set(verb, (stats.verbs.get(verb) ?? 0) + 1);
      const errorSleep =
        options.errorLimits !== undefined && errors >= options.errorLimits.soft
          ? options.errorLimits.sleepMs
          : 0;
      if (errorSleep > 0 && verb !== 'QUIT') {
        stats.sleptReplies += 1;
        session.sleptReplies += 1;
        slept = true;
      }
      const sleep = errorSleep + (verb === 'QUIT' ? 0 : rateDelay());
      const refuse = (code: number, text: string, extraMs = 0): void => {
        errors += 1;
        stats.errors += 1;
        if (options.errorLimits !== undefined && errors >= options.errorLimits.hard) {
          stats.hardLimitHits += 1;
          session.hardLimitHit = true;
          closing = true;
          reply(`421 4.7.0 ${name} Error: too many errors`, sleep + extraMs, () => {
            release();
            serverClose();
          });
          return;
        }
        reply(`${code} ${text}`, sleep + extraMs);
      };
      switch (verb) {
        case 'EHLO': {
          hello = true;
          if (kind === 'reset') {
            // RST in the middle of the EHLO reply.
            closing = true;
            send(`250-${name}\r\n250-PIPELI`, 0, () => {
              later(10, () => {
                serverClose(true);
              });
            });
            return;
          }
          const keywords = [
            ...(options.pipelining === false ? [] : ['PIPELINING']),
            ...EHLO_KEYWORDS,
            ...(kind === 'badtls' ? ['STARTTLS'] : []),
          ];
          const lines = [name, ...keywords];
          reply(
            lines.map((text, i) => `250${i === lines.length - 1 ? ' ' : '-'}${text}`).join('\r\n'),
            sleep,
          );
          return;
        }
        case 'HELO':
          hello = true;
          reply(`250 ${name}`, sleep);
          return;
        case 'STARTTLS':
          if (kind !== 'badtls') {
            refuse(502, '5.5.1 Error: command not implemented');
            return;
          }
          // Says yes, then sends bytes that are no TLS handshake, and closes.
          closing = true;
          reply('220 2.0.0 Ready to start TLS', 0, () => {
            later(10, () => {
              write('this is not a TLS handshake\r\n'.repeat(20));
              later(10, () => {
                serverClose();
              });
            });
          });
          return;
        case 'MAIL': {
          const refusal =
            kind === 'badtls'
              ? // TLS required (Postfix smtpd_tls_security_level = encrypt): no answer without a handshake.
                '530 5.7.0 Must issue a STARTTLS command first'
              : !hello
                ? '503 5.5.1 Error: send HELO/EHLO first'
                : mailFrom !== null
                  ? '503 5.5.1 Error: nested MAIL command'
                  : null;
          if (refusal !== null) {
            stats.mailRefusals += 1;
            refuse(Number(refusal.slice(0, 3)), refusal.slice(4));
            return;
          }
          stats.mails += 1;
          mailFrom = /<([^>]*)>/.exec(line)?.[1] ?? '';
          inTransaction = 0;
          reply('250 2.1.0 Ok', sleep);
          return;
        }
        case 'RCPT': {
          stats.rcpts += 1;
          if (mailFrom === null) {
            refuse(503, '5.5.1 Error: need MAIL command');
            return;
          }
          const address = /<([^>]*)>/.exec(line)?.[1] ?? '';
          if (options.recipientLimit !== undefined && inTransaction >= options.recipientLimit) {
            reply('452 4.5.3 Error: too many recipients', sleep);
            return;
          }
          if (options.greylistMs !== undefined) {
            const key = `${socket.remoteAddress ?? ''}/${mailFrom}/${address}`;
            const seen = firstSeen.get(key);
            if (seen === undefined) firstSeen.set(key, Date.now());
            if (seen === undefined || Date.now() - seen < options.greylistMs) {
              refuse(
                450,
                `4.2.0 <${address}>: Recipient address rejected: Greylisted for ${Math.ceil(options.greylistMs / 1000)} seconds`,
              );
              return;
            }
          }
          const slow = options.rcptDelayMs ?? 0;
          if (poisoned) {
            stats.poisonedRcpts += 1;
            const poison = options.poisonedReply;
            if (poison !== undefined) refuse(poison.code, poison.text, slow);
            else refuse(550, `5.7.1 <${address}>: Recipient address rejected: Access denied`, slow);
            return;
          }
          const postmaster = options.postmaster !== false && /^postmaster@/i.test(address);
          const refusal = postmaster ? null : recipient(address, { errors });
          if (refusal !== null) {
            if (options.refuseAllAfterUnknown === true) poisoned = true;
            refuse(refusal.code, refusal.text, slow);
            return;
          }
          inTransaction += 1;
          reply('250 2.1.5 Ok', sleep + slow);
          return;
        }
        case 'RSET':
          mailFrom = null;
          inTransaction = 0;
          reply('250 2.0.0 Ok', sleep);
          return;
        case 'NOOP':
          reply('250 2.0.0 Ok', sleep);
          return;
        case 'QUIT':
          closing = true;
          endSession();
          reply('221 2.0.0 Bye', 0, () => {
            release();
            socket.end();
          });
          return;
        case 'DATA':
        case 'BDAT':
          // rcpt never sends either; the verb counts and the session log keep it so a test can prove that.
          refuse(554, '5.5.1 Error: this simulator never accepts mail');
          return;
        default:
          refuse(502, '5.5.2 Error: command not recognized');
      }
    };

    socket.on('data', (chunk: Buffer) => {
      if (closing) return;
      // The client waited for nothing and sent: it starts a round trip. Bytes that arrive while
      // replies are still owed belong to a pipelined flight already counted.
      if (pending === 0) stats.roundTrips += 1;
      buffer += chunk.toString('latin1');
      if (buffer.length > MAX_LINE * 64) {
        socket.destroy();
        return;
      }
      for (let end = buffer.indexOf('\n'); end !== -1 && !closing; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end).replace(/\r$/, '');
        buffer = buffer.slice(end + 1);
        answer(line);
      }
    });
    reply(`220 ${options.banner ?? `${name} ESMTP Postfix`}`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    name: reportName,
    host: options.host,
    port,
    kind,
    stats,
    sessions,
    open: () => sockets.size,
    peak: () => tcpPeak,
    sessionPeak: () => livePeak,
    resetPeak: () => {
      tcpPeak = sockets.size;
      livePeak = live;
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

/**
 * The hostile kinds that never hold a dialogue: they take over the connection and return true. `reset`
 * and `badtls` start as a normal MTA and misbehave later, in the dialogue.
 */
function misbehave(
  kind: MxKind,
  socket: Socket,
  session: SimSession,
  write: (data: string | Buffer) => void,
  later: (ms: number, action: () => void) => void,
): boolean {
  switch (kind) {
    case 'tarpit':
      // Accepts and never says a word; the client's greeting timeout must end it.
      break;
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
      break;
    }
    case 'longline':
      // A 1 MB greeting line: the reply parser's line cap must stop it, not memory.
      write(`220 ${'x'.repeat(1024 * 1024)}\r\n`);
      break;
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
      break;
    }
    case 'garbage':
      write('HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n<html>nope</html>\r\n');
      break;
    default:
      return false;
  }
  socket.on('data', () => undefined);
  return true;
}
