/**
 * The reliability suite's MTAs: bench/sim-mta.ts (one simulated MTA for the benchmarks, the scheduler
 * tests and this suite) set up as this suite wants it: fast (no latency), `KIND.test` names with a
 * plain `mx.KIND.test ESMTP` greeting, every session kept (command lines, who closed first) for the
 * good-citizenship checks, and the hostile kinds of issue 9 (tarpit, trickle, 1 MB line, endless
 * continuation, reset, broken TLS, garbage).
 */
import {
  startSimMta,
  type MxKind,
  type SessionCounter,
  type SimMta,
  type SimSession,
} from '../../../bench/sim-mta.js';

export { HOSTILE_KINDS, MX_KINDS, type MxKind, type SessionCounter } from '../../../bench/sim-mta.js';
export type MxServer = SimMta;
export type MxSession = SimSession;

export interface MxServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly kind?: MxKind;
  /** Mailboxes (lower-case local parts) that exist; `null` accepts every recipient. Default null. */
  readonly users?: ReadonlySet<string> | null;
  /** Delay of each RCPT reply, after the reply before it, in milliseconds. Default 0. */
  readonly rcptDelayMs?: number;
  /** A counter shared by several servers: SMTP sessions live over all of them, and its peak. */
  readonly shared?: SessionCounter;
}

/** Starts one server. */
export function startMxServer(options: MxServerOptions): Promise<MxServer> {
  const kind = options.kind ?? 'smtp';
  return startSimMta({
    name: `${kind}.test`,
    banner: `mx.${kind}.test ESMTP`,
    host: options.host,
    port: options.port,
    kind,
    users: options.users ?? null,
    record: true,
    ...(options.rcptDelayMs === undefined ? {} : { rcptDelayMs: options.rcptDelayMs }),
    ...(options.shared === undefined ? {} : { shared: options.shared }),
  });
}
