/**
 * A simulated MTA on a raw `net` server, for the bulk benchmark and the scheduler tests: every reply
 * leaves `latencyMs` after its command arrived (a network round trip modelled in the server, since this
 * kernel has no netem), replies stay in command order (pipelining, RFC 2920), and the behaviours that
 * decide a bulk verifier's speed are built in: a per-transaction recipient limit (`452 4.5.3`),
 * Postfix's error limits (sleep after the soft limit, `421 4.7.0 Error: too many errors` at the hard
 * one), greylisting of (client IP, MAIL FROM, RCPT) triplets, and counters per connection.
 *
 * It never accepts DATA. It listens on loopback only.
 */
import { createServer, type Server, type Socket } from 'node:net';

/** A refusal: `{ code: 550, text: '5.1.1 <x>: Recipient address rejected: User unknown' }`. */
export interface SimReply {
  readonly code: number;
  readonly text: string;
}

export interface SimMtaOptions {
  /** A name for reports. */
  readonly name: string;
  /** Loopback address to listen on. */
  readonly host: string;
  /** Port; 0 picks one. */
  readonly port: number;
  /** The greeting text after `220 `. */
  readonly banner?: string;
  /** Delay of every reply after its command arrived (the greeting: after the connection), in ms. */
  readonly latencyMs?: number;
  /** Advertise PIPELINING. Default true. */
  readonly pipelining?: boolean;
  /** `null` accepts the recipient, a reply refuses it. Default: accept everything. */
  readonly recipient?: (address: string) => SimReply | null;
  /** RCPTs accepted per transaction; the next ones get `452 4.5.3 Error: too many recipients`. */
  readonly recipientLimit?: number;
  /**
   * Postfix's anti-harvest limits: from `soft` errors on every reply waits `sleepMs` more; the `hard`th
   * error is answered `421 4.7.0 … Error: too many errors` and the connection is closed.
   */
  readonly errorLimits?: { readonly soft: number; readonly hard: number; readonly sleepMs: number };
  /** Greylist new (client IP, MAIL FROM, RCPT) triplets for this long (postgrey: 300 s). */
  readonly greylistMs?: number;
}

export interface SimStats {
  connections: number;
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
  /** RCPTs answered late because of the soft error limit. */
  sleptReplies: number;
  /** Every verb received (DATA must never appear). */
  readonly verbs: Map<string, number>;
}

export interface SimMta {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly stats: SimStats;
  close(): Promise<void>;
}

const MAX_LINE = 4096;

/** Starts a simulated MTA. */
export async function startSimMta(options: SimMtaOptions): Promise<SimMta> {
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
    verbs: new Map(),
  };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const firstSeen = new Map<string, number>();
  const name = `mx.${options.name}`;

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    stats.connections += 1;
    stats.open += 1;
    stats.peak = Math.max(stats.peak, stats.open);
    stats.roundTrips += 1;
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const remote = socket.remoteAddress ?? '';
    let buffer = '';
    let pending = 0;
    let lastAt = 0;
    let closing = false;
    let hello = false;
    let mailFrom: string | null = null;
    let inTransaction = 0;
    let errors = 0;

    /** Replies owed, in command order; one timer for the head keeps them in order (RFC 2920). */
    const owed: { at: number; text: string; close: boolean }[] = [];
    let timer: NodeJS.Timeout | null = null;
    let counted = true;
    /** The session is over for the server once it said 221 or 421: the slot is free from then on. */
    const release = (): void => {
      if (!counted) return;
      counted = false;
      stats.open -= 1;
    };
    const flush = (): void => {
      if (timer !== null) timers.delete(timer);
      timer = null;
      const now = Date.now();
      while (owed.length > 0 && (owed[0]?.at ?? Infinity) <= now) {
        const next = owed.shift();
        if (next === undefined) break;
        pending -= 1;
        if (socket.destroyed) continue;
        socket.write(`${next.text}\r\n`);
        if (next.close) {
          release();
          socket.end();
        }
      }
      const head = owed[0];
      if (head !== undefined) {
        timer = setTimeout(flush, Math.max(0, head.at - Date.now()));
        timers.add(timer);
      }
    };
    const reply = (text: string, extraMs = 0, close = false): void => {
      const at = Math.max(Date.now() + latency, lastAt) + extraMs;
      lastAt = at;
      pending += 1;
      owed.push({ at, text, close });
      if (timer === null) {
        timer = setTimeout(flush, Math.max(0, at - Date.now()));
        timers.add(timer);
      }
    };

    const answer = (line: string): void => {
      stats.commands += 1;
      const verb = (line.split(' ', 1)[0] ?? '').toUpperCase();
      stats.verbs.set(verb, (stats.verbs.get(verb) ?? 0) + 1);
      const sleep =
        options.errorLimits !== undefined && errors >= options.errorLimits.soft
          ? options.errorLimits.sleepMs
          : 0;
      const refuse = (code: number, text: string): void => {
        errors += 1;
        stats.errors += 1;
        if (options.errorLimits !== undefined && errors >= options.errorLimits.hard) {
          stats.hardLimitHits += 1;
          closing = true;
          reply(`421 4.7.0 ${name} Error: too many errors`, sleep, true);
          return;
        }
        reply(`${code} ${text}`, sleep);
      };
      switch (verb) {
        case 'EHLO':
          hello = true;
          reply(
            [
              `250-${name}`,
              ...(options.pipelining === false ? [] : ['250-PIPELINING']),
              '250-SIZE 10240000',
              '250-ENHANCEDSTATUSCODES',
              '250-8BITMIME',
              '250 SMTPUTF8',
            ].join('\r\n'),
            sleep,
          );
          return;
        case 'HELO':
          hello = true;
          reply(`250 ${name}`, sleep);
          return;
        case 'MAIL': {
          if (!hello) {
            refuse(503, '5.5.1 Error: send HELO/EHLO first');
            return;
          }
          if (mailFrom !== null) {
            refuse(503, '5.5.1 Error: nested MAIL command');
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
          if (sleep > 0) stats.sleptReplies += 1;
          if (options.greylistMs !== undefined) {
            const key = `${remote}/${mailFrom}/${address}`;
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
          const refusal = options.recipient?.(address) ?? null;
          if (refusal !== null) {
            refuse(refusal.code, refusal.text);
            return;
          }
          inTransaction += 1;
          reply('250 2.1.5 Ok', sleep);
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
          reply('221 2.0.0 Bye', 0, true);
          return;
        case 'DATA': {
          refuse(554, '5.5.1 Error: this simulator never accepts mail');
          return;
        }
        default: {
          refuse(502, '5.5.2 Error: command not recognized');
          return;
        }
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
    socket.on('close', () => {
      sockets.delete(socket);
      if (timer !== null) {
        clearTimeout(timer);
        timers.delete(timer);
      }
      release();
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
    name: options.name,
    host: options.host,
    port,
    stats,
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
