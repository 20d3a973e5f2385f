/**
 * The delay a deferral asks for, read from its text. A pure module.
 */

/** Longest delay believed: Mimecast greylisting can last 12 h (Mimecast's greylisting documentation); beyond a day is noise. */
export const MAX_RETRY_AFTER_MS = 86_400_000;

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * "for 5 minutes" (Barracuda), "Greylisted for 300 seconds" (postgrey's `--greylist-text`), "try again
 * in 2 minutes", "retry in 60 seconds", "wait 30s", "after 1 hour". The number must be introduced by one of
 * these words so that "550 5.7.1 … 5 messages" or a port number is never read as a delay.
 */
const AMOUNT =
  /\b(?:for|in|after|within|wait(?:ing)?)\s+(\d{1,6})\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b/i;

/** milter-greylist's default report: "Greylisting in action, please come back in 00:05:00". */
const CLOCK = /\b(?:in|for|after)\s+(\d{1,2}):([0-5]\d):([0-5]\d)\b/i;

/**
 * Milliseconds the text asks the client to wait, or `null` when it names no delay (or an absurd one:
 * zero, or more than `MAX_RETRY_AFTER_MS`). Total: never throws.
 *
 * @example parseRetryAfterMs('Recipient address rejected: Greylisted for 5 minutes') // 300000
 */
export function parseRetryAfterMs(text: string): number | null {
  const sample = text.slice(0, 2048);
  let ms: number | null = null;
  const clock = CLOCK.exec(sample);
  if (clock !== null) {
    ms = (Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3])) * 1000;
  } else {
    const amount = AMOUNT.exec(sample);
    if (amount !== null) {
      const unit = (amount[2] ?? 's').toLowerCase().charAt(0) as keyof typeof UNIT_MS;
      ms = Number(amount[1]) * UNIT_MS[unit];
    }
  }
  return ms !== null && ms > 0 && ms <= MAX_RETRY_AFTER_MS ? ms : null;
}
