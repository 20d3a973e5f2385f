/**
 * Hosts that refuse every RCPT of a session after its first unknown recipient (some anti-harvest
 * setups), often saying "user unknown" to each: a real address asked after an unknown one would be
 * answered like a missing mailbox, and a verifier cannot tell that reply from a true one. What the
 * session runner needs to tell such a host from one whose refusals mean what they say, with one RCPT
 * (docs/bulk.md, "How rcpt learns a host's limits"):
 *
 * - a host is trusted once it accepts an RCPT after refusing one in the same session (most hosts do in
 *   their first mixed batch): its refusals then mean what they say wherever they come;
 * - until then, a "no such mailbox" that came after another refusal of its session is a *suspect*. A
 *   later batch of the session with an RCPT accepted after a refusal settles it (the host is trusted);
 *   where the session cannot go on, one check RCPT in the same transaction does: an address the host
 *   has already accepted in this run where there is one (no host refuses everything *but* a mailbox
 *   after an unknown recipient, so the acceptance was true, and a host that answers after a refusal
 *   accepts it again), else `postmaster@<the first suspect's domain>` (RFC 5321 §4.5.1 requires every server that
 *   delivers mail to accept the reserved mailbox `postmaster`, but many domains lack it). Accepted, the
 *   host is trusted (the suspects' answers stand); refused, it refuses everything after a first
 *   unknown recipient (the suspects are asked again, each where nothing comes before it to spoil it).
 *   Any address the host accepted will do, whatever its domain: what a session does after a refusal
 *   is the server's, and what the check tells is kept per host, not per domain. The check is an RCPT
 *   like any other: counted against the host's RCPTs per minute, the harvest allowance and the
 *   session's error budget. What it told is kept with the host's learned limits
 *   (`HostLimitsRecord.afterRefusal`), shared through the job store;
 * - a host taken to poison on a refused `postmaster`'s word (or on another run's) that has since
 *   accepted an address is asked that address once after a refusal: accepted, it answers after all (a
 *   host without `postmaster`); refused, it poisons, and is not asked again in this run;
 * - at a host known to poison, a session draws one refusal at most (nothing after it has an answer),
 *   and whatever was asked after it is asked again.
 */
import { isPermanentNegativeReply, isPositiveReply } from '../smtp/reply-parser.js';

/** What the check RCPT after a refusal says about the host. */
export type AfterRefusal = 'answers' | 'poisons' | 'unknown';

/**
 * Times an address may be asked again for coming after a refusal at a host that poisons before it
 * ends `unknown` (each session answers its first RCPT truly, so this is a safety net, not a limit a
 * list reaches: an address is spoiled again only by an unknown one put back before it).
 */
export const MAX_POISONED_ASKS = 25;

/** The reserved mailbox (RFC 5321 §4.5.1) of the domain `recipient` is at. */
export function postmasterOf(recipient: string): string {
  return `postmaster@${recipient.slice(recipient.lastIndexOf('@') + 1)}`;
}

/**
 * Reads the reply to the check RCPT (an address the host accepted before, or `postmaster`) asked after
 * a refusal: accepted, the host answers after a refusal; refused for good (5xx), it refuses everything
 * after one (or, asked `postmaster`, breaks RFC 5321 §4.5.1, which costs only speed: its later
 * refusals are asked again where nothing comes before them, until an address it accepted tells);
 * anything else (a deferral, no reply) says neither.
 */
export function readCheckReply(code: number | null): AfterRefusal {
  if (code === null) return 'unknown';
  const reply = { code };
  if (isPositiveReply(reply)) return 'answers';
  return isPermanentNegativeReply(reply) ? 'poisons' : 'unknown';
}
