/**
 * The loopback world the documentation's examples run in: `example.com` (a Postfix-like server that
 * knows a few mailboxes and refuses the rest), `example.org` (a catch-all) and `example.net` (the
 * examples' sender domain), served by the repo's DNS server and SMTP personas on 127.0.15.x. The
 * examples name these RFC 2606 domains as a reader would; here they resolve to loopback only.
 */
import { startDnsServer, type DnsServer } from '../../../src/demo/dns-server.js';
import { mailboxes, startPersona, type RunningPersona } from '../../../src/demo/smtp-persona.js';

export interface DocsWorld {
  /** `HOST:PORT` of the world's DNS server. */
  readonly dnsServer: string;
  /** The port of every SMTP persona. */
  readonly smtpPort: number;
  close(): Promise<void>;
}

/** The mailboxes `example.com` has; every other local part is refused `550 5.1.1`. */
export const DOCS_MAILBOXES = ['alice', 'alice.smith', 'bob', 'carol', 'postmaster', 'info', 'verify'];

export async function startDocsWorld(): Promise<DocsWorld> {
  const personas: RunningPersona[] = [];
  let server: DnsServer;
  try {
    const first = await startPersona(
      { name: 'example.com', banner: 'mx1.example.com ESMTP Postfix', onRcptTo: mailboxes(DOCS_MAILBOXES) },
      '127.0.15.2',
      0,
    );
    personas.push(first);
    personas.push(
      await startPersona({ name: 'example.org', banner: 'mail.example.org ESMTP' }, '127.0.15.3', first.port),
    );
    server = await startDnsServer({
      host: '127.0.0.1',
      port: 0,
      zones: {
        'example.com': { MX: [{ priority: 10, exchange: 'mx1.example.com' }] },
        'mx1.example.com': { A: ['127.0.15.2'] },
        'example.org': { MX: [{ priority: 10, exchange: 'mail.example.org' }] },
        'mail.example.org': { A: ['127.0.15.3'] },
        'example.net': { MX: [{ priority: 10, exchange: 'mx1.example.com' }] },
        'probe.example.net': { A: ['127.0.15.1'] },
      },
    });
  } catch (error) {
    await Promise.all(personas.map((persona) => persona.close()));
    throw error;
  }
  return {
    dnsServer: server.address,
    smtpPort: personas[0]?.port ?? 0,
    async close() {
      await Promise.all([server.close(), ...personas.map((persona) => persona.close())]);
    },
  };
}
