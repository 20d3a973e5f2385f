/**
 * The library never logs: it publishes on `node:diagnostics_channel`, and the CLI and server subscribe
 * (the undici model). Channel names are listed once here.
 */
import { channel } from 'node:diagnostics_channel';

export const CHANNELS = {
  /** `{ message: string, code: string }`: something the operator should fix (e.g. a HELO that is not a FQDN). */
  warning: 'rcpt:warning',
  /** `{ host, ip, port }` when a connection attempt starts. */
  smtpConnect: 'rcpt:smtp:connect',
  /** `{ host, ip, dir, line }` for every line sent or received. */
  smtpLine: 'rcpt:smtp:line',
  /** `{ result }` when a verification ends. */
  verifyDone: 'rcpt:verify:done',
  /**
   * `{ ip, perMinute, waitMs }` when RCPTs for MX address `ip` wait for room under its ceiling on RCPTs
   * per minute (`hostRate`): none fits before `waitMs` has passed.
   */
  hostRate: 'rcpt:host-rate',
} as const;

export const warningChannel = channel(CHANNELS.warning);
export const smtpConnectChannel = channel(CHANNELS.smtpConnect);
export const smtpLineChannel = channel(CHANNELS.smtpLine);
export const verifyDoneChannel = channel(CHANNELS.verifyDone);
export const hostRateChannel = channel(CHANNELS.hostRate);

/** What `rcpt:host-rate` publishes. */
export interface HostRateWait {
  readonly ip: string;
  readonly perMinute: number;
  readonly waitMs: number;
}

/** Publishes that RCPTs for `ip` wait `waitMs` for room under the ceiling (`CHANNELS.hostRate`). */
export function publishHostRateWait(wait: HostRateWait): void {
  if (hostRateChannel.hasSubscribers) hostRateChannel.publish(wait);
}

export interface WarningMessage {
  readonly code: string;
  readonly message: string;
}

/** Publishes a warning once per code and text for the life of the process. */
const warned = new Set<string>();
export function warnOnce(warning: WarningMessage): void {
  const key = `${warning.code}\0${warning.message}`;
  if (warned.has(key) || !warningChannel.hasSubscribers) return;
  warned.add(key);
  warningChannel.publish(warning);
}
