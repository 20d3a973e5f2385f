/**
 * The sockets a loopback test server accepted that are still open, for its `openSockets()`,
 * `settled()` and `close()`: the raw SMTP servers (smtp-raw-server.ts, the scripted personas), the
 * raw SOCKS server and the doctor's world count and close them the same way.
 */
import type { Server, Socket } from 'node:net';

export class AcceptedSockets {
  readonly #sockets = new Set<Socket>();

  /** Counts `socket` until it closes, with Nagle's delay off (a test server's writes go at once). */
  add(socket: Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.#sockets.delete(socket));
  }

  get size(): number {
    return this.#sockets.size;
  }

  /** Resolves once none is open; rejects after `timeoutMs`, the error naming `server` when given. */
  async settled(timeoutMs = 10_000, server?: string): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.#sockets.size > 0) {
      if (Date.now() > until) {
        const open = `${this.#sockets.size} connection(s) still open`;
        throw new Error(server === undefined ? open : `${server}: ${open}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Destroys every open socket and stops `server` listening. */
  close(server: Server): Promise<void> {
    return new Promise<void>((resolve) => {
      for (const socket of this.#sockets) socket.destroy();
      server.close(() => {
        resolve();
      });
    });
  }
}
