/**
 * A host with an error budget it does not announce, as the tests of learned host limits use it: a
 * sim-MTA on loopback with Postfix's soft and hard error limits (every reply from the `soft`th refusal
 * on is a second late, `421` at twice that) behind a greeting that does not say Postfix, so rcpt has to
 * learn them; and a DNS server on loopback pointing each of `domains` at it (its MX `mx.<first domain>`),
 * built by `startSimWorld()`.
 * `halfKnown()` makes the lists those tests verify, `isKnown()` says which of their mailboxes exist;
 * `startHiddenBudgetHosts()` starts one such host per limit a test file compares.
 */
import type { SimMta } from '../../bench/sim-mta.js';
import type { DnsServer } from '../../src/demo/dns-server.js';
import type { VerifyOptions } from '../../src/index.js';
import { startSimWorld, userUnknown } from './sim-world.js';

/**
 * How long a test waits, after a run, for the host to see every connection close (the last session's
 * QUIT may still be on its way) before it fails: polled (`SimMta.settled()`), so it costs what it takes.
 */
export const QUIT_WAIT_MS = 10_000;

/** Whether a mailbox of a `halfKnown()` list exists: its local part ends in `.ok`. */
export const isKnown = (address: string): boolean => address.includes('.ok@');

/**
 * `count` addresses at `domain`, every other one unknown, in the order a job reads them (by address):
 * `0000.ok`, `0001.no`, … after `prefix` (lists of several jobs kept distinct).
 */
export function halfKnown(domain: string, count: number, prefix = ''): string[] {
  return Array.from(
    { length: count },
    (_, i) => `${prefix}${String(i).padStart(4, '0')}.${i % 2 === 1 ? 'no' : 'ok'}@${domain}`,
  );
}

/**
 * Sessions in which the host delayed a reply for its soft error limit, by its own count: the tests'
 * measure of crossings (a catch-all probe's refusal counts toward the limit as an unknown address's).
 */
export const crossingSessions = (mta: SimMta): number =>
  mta.sessions.filter((session) => session.sleptReplies > 0).length;

export interface HiddenBudgetOptions {
  /** The MX host's loopback address (each test file its own). */
  readonly host: string;
  readonly soft: number;
  /** The domains it serves, the first naming it. */
  readonly domains: readonly [string, ...string[]];
  /** Whether a mailbox exists; the others are refused `550 5.1.1 … User unknown`. */
  readonly exists: (address: string) => boolean;
  /** A delay before every RCPT's reply (a run slow enough to stop part-way). */
  readonly rcptDelayMs?: number;
}

export interface HiddenBudgetHost {
  readonly mta: SimMta;
  readonly dns: DnsServer;
  /** The verify options that reach it (`SimWorld.options`). */
  readonly options: VerifyOptions;
  readonly close: () => Promise<void>;
}

export async function startHiddenBudgetHost(options: HiddenBudgetOptions): Promise<HiddenBudgetHost> {
  const world = await startSimWorld({
    hidden: {
      host: options.host,
      domains: options.domains,
      banner: `mx.${options.domains[0]} ESMTP ready`,
      recipient: (address) => (options.exists(address) ? null : userUnknown(address)),
      errorLimits: { soft: options.soft, hard: 2 * options.soft, sleepMs: 1_000 },
      ...(options.rcptDelayMs === undefined ? {} : { rcptDelayMs: options.rcptDelayMs }),
      record: true,
    },
  });
  return { mta: world.mtas.hidden, dns: world.dns, options: world.options, close: world.close };
}

/** Hidden-budget hosts started together, found by their loopback address. */
export interface HiddenBudgetHosts {
  /** The host started at `host` (an address not started is the test's own mistake: thrown). */
  readonly at: (host: string) => HiddenBudgetHost;
  readonly close: () => Promise<void>;
}

/**
 * One `startHiddenBudgetHost()` per spec, one after another (each its own DNS server and sim-MTA); if
 * one fails to start, those started already are closed before the error is thrown.
 */
export async function startHiddenBudgetHosts(
  specs: readonly HiddenBudgetOptions[],
): Promise<HiddenBudgetHosts> {
  const hosts = new Map<string, HiddenBudgetHost>();
  const close = async (): Promise<void> => {
    await Promise.all([...hosts.values()].map((host) => host.close()));
  };
  try {
    for (const spec of specs) hosts.set(spec.host, await startHiddenBudgetHost(spec));
  } catch (error) {
    await close();
    throw error;
  }
  return {
    at: (host) => {
      const started = hosts.get(host);
      if (started === undefined) throw new Error(`no hidden-budget host was started at ${host}`);
      return started;
    },
    close,
  };
}
