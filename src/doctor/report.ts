/**
 * The shape of `runDoctor()`'s answer: one line per check, each pass / warn / fail with what was found
 * and what to do about it. JSON-stable like the verify result: every field always present.
 */

/** Every check the doctor runs, listed once. */
export const DOCTOR_CHECK_IDS = [
  /** With a SOCKS5 proxy: it answers and accepts the credentials (`--proxy`, docs/proxies.md). */
  'proxy',
  /** Outbound TCP to port 25 of well-known providers' MX hosts (greeting, then QUIT). */
  'port25',
  /** Which address the probes come from, and whether it is public. */
  'source_address',
  /** The probing address has a PTR record, and it does not look generic/dynamic. */
  'ptr',
  /** The PTR name resolves back to the address (forward-confirmed reverse DNS). */
  'fcrdns',
  /** The HELO name is not localhost, an address, a dotless name or a big provider's domain. */
  'helo_name',
  /** The HELO name resolves, ideally to the probing address, and is its PTR name. */
  'helo_dns',
  /** The MAIL FROM domain exists and can receive mail (MX or A), or `<>` is used. */
  'mail_from',
  /** The SPF policy of the MAIL FROM domain (or HELO name for `<>`) authorises the probing address. */
  'spf',
  /** The probing address is not listed on a DNS blocklist (one line per list). */
  'blocklist',
] as const;
export type DoctorCheckId = (typeof DOCTOR_CHECK_IDS)[number];

/** `pass`: fine. `warn`: works but costs reputation or results, or cannot tell. `fail`: fix before verifying. */
export type DoctorStatus = 'pass' | 'warn' | 'fail';

export interface DoctorCheck {
  readonly id: DoctorCheckId;
  /** What the line is about when a check has several lines: the blocklist zone; else `null`. */
  readonly subject: string | null;
  readonly status: DoctorStatus;
  /** One sentence: what was found. */
  readonly summary: string;
  /** What to do about it; `null` on pass. */
  readonly advice: string | null;
  /** The facts behind the summary (per-host outcomes, the SPF term that decided, answer codes). */
  readonly evidence: readonly string[];
}

/** Where a value came from: given as an option, or found on this machine. */
export type DoctorOrigin = 'option' | 'interface' | 'hostname' | 'default' | 'greeting';

export interface DoctorReport {
  /** The worst status of all checks. */
  readonly status: DoctorStatus;
  /** True when no check failed. */
  readonly ok: boolean;
  /** The address the checks are about, `null` when none was given or found. */
  readonly sourceIp: string | null;
  readonly sourceIpOrigin: DoctorOrigin | null;
  readonly helo: string;
  readonly heloOrigin: DoctorOrigin;
  /** `''` for the null reverse-path `<>`. */
  readonly mailFrom: string;
  readonly checks: readonly DoctorCheck[];
  /** Count of checks by status. */
  readonly counts: { readonly pass: number; readonly warn: number; readonly fail: number };
  readonly durationMs: number;
  readonly checkedAt: string;
}
