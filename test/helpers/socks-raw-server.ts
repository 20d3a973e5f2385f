/**
 * A raw SOCKS5 server that misbehaves byte-exactly on purpose (RFC 1928/1929), for the failures a real
 * Dante cannot be made to produce on demand: every reply code 0x01–0x08, a refused password, no
 * acceptable method, a stall, a server that is no SOCKS server at all. It never connects anywhere; it
 * records what each client asked for (the address type tells whether a name was sent).
 */
import { createServer, type Server } from 'node:net';

import { AcceptedSockets } from './accepted-sockets.js';

export type RawSocksBehaviour =
  | { readonly kind: 'reply'; readonly code: number }
  | { readonly kind: 'auth_fail' }
  | { readonly kind: 'no_method' }
  | { readonly kind: 'stall' }
  | { readonly kind: 'stall_after_greeting' }
  | { readonly kind: 'not_socks' };

export interface RawSocksRequest {
  /** RFC 1928 §5 ATYP: 0x01 IPv4, 0x03 domain name, 0x04 IPv6. */
  readonly atyp: number;
  readonly address: string;
  readonly port: number;
}

export interface RawSocksServer {
  readonly url: string;
  readonly connections: number;
  readonly requests: readonly RawSocksRequest[];
  close(): Promise<void>;
}

function parseRequest(data: Buffer): RawSocksRequest | null {
  if (data.length < 7 || data[0] !== 5) return null;
  const atyp = data[3] ?? 0;
  if (atyp === 1 && data.length >= 10) {
    return { atyp, address: [...data.subarray(4, 8)].join('.'), port: data.readUInt16BE(8) };
  }
  if (atyp === 3) {
    const length = data[4] ?? 0;
    return {
      atyp,
      address: data.subarray(5, 5 + length).toString('latin1'),
      port: data.readUInt16BE(5 + length),
    };
  }
  if (atyp === 4 && data.length >= 22) {
    return { atyp, address: data.subarray(4, 20).toString('hex'), port: data.readUInt16BE(20) };
  }
  return null;
}

export async function startRawSocksServer(
  host: string,
  behaviour: RawSocksBehaviour,
): Promise<RawSocksServer> {
  const requests: RawSocksRequest[] = [];
  const sockets = new AcceptedSockets();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    if (behaviour.kind === 'stall') return;
    if (behaviour.kind === 'not_socks') {
      socket.write('220 mx.example.test ESMTP\r\n');
      return;
    }
    let stage: 'methods' | 'auth' | 'request' = 'methods';
    socket.on('data', (data: Buffer) => {
      if (stage === 'methods') {
        const methods = [...data.subarray(2, 2 + (data[1] ?? 0))];
        if (behaviour.kind === 'no_method') {
          socket.end(Buffer.from([5, 0xff]));
          return;
        }
        if (behaviour.kind === 'stall_after_greeting') {
          socket.write(Buffer.from([5, 0]));
          return;
        }
        if (behaviour.kind === 'auth_fail' || !methods.includes(0)) {
          stage = 'auth';
          socket.write(Buffer.from([5, 2]));
          return;
        }
        stage = 'request';
        socket.write(Buffer.from([5, 0]));
        return;
      }
      if (stage === 'auth') {
        if (behaviour.kind === 'auth_fail') {
          // RFC 1929 §2: a non-zero STATUS, then the server must close the connection.
          socket.end(Buffer.from([1, 1]));
          return;
        }
        stage = 'request';
        socket.write(Buffer.from([1, 0]));
        return;
      }
      const request = parseRequest(data);
      if (request !== null) requests.push(request);
      if (behaviour.kind === 'reply') {
        socket.end(Buffer.from([5, behaviour.code, 0, 1, 0, 0, 0, 0, 0, 0]));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `socks5://${host}:${port}`,
    get connections() {
      return connections;
    },
    requests,
    close: () => sockets.close(server),
  };
}
