/**
 * The dates of a bounce's header fields (`Date`, RFC 3464's `Arrival-Date` and `Last-Attempt-Date`) as
 * the instant they name, or as written when the instant is not known: never a guess. Pure.
 *
 * JavaScript's `Date.parse` reads a date without a zone, or with a zone only in a comment (`10:00:00
 * (JST)`), in the zone of the machine running it, and most zone abbreviations (`JST`, `CET`) not at all;
 * RFC 5322 §4.3 tells a reader to take an unknown abbreviation, and a military letter, as `-0000` (UTC),
 * which for `JST` is nine hours off.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * Zone names and their offsets in minutes: RFC 5322 §4.3's (`UT`, `GMT` and the North American ones
 * but `CST`), `UTC` and `Z`, and abbreviations mailers write that name one offset only (the tz
 * database's). Left out, so their dates stay as written: `IST` (India, Israel or Ireland), `BST`
 * (British summer time or Bangladesh), `CST` (RFC 5322's US Central, -0600, but China Standard Time,
 * +0800, where Chinese mailers write it, and Cuba's, -0500), `AST`, `SST` and the other names of more
 * than one zone, and the single military letters (RFC 5322 §4.3: their signs were implemented both
 * ways).
 */
const ZONES: Readonly<Record<string, number>> = {
  UT: 0,
  UTC: 0,
  GMT: 0,
  Z: 0,
  EST: -300,
  EDT: -240,
  CDT: -300,
  MST: -420,
  MDT: -360,
  PST: -480,
  PDT: -420,
  AKST: -540,
  AKDT: -480,
  HST: -600,
  NST: -210,
  NDT: -150,
  WET: 0,
  WEST: 60,
  CET: 60,
  CEST: 120,
  MET: 60,
  MEST: 120,
  MEZ: 60,
  MESZ: 120,
  EET: 120,
  EEST: 180,
  MSK: 180,
  HKT: 480,
  SGT: 480,
  AWST: 480,
  JST: 540,
  KST: 540,
  ACST: 570,
  ACDT: 630,
  AEST: 600,
  AEDT: 660,
  NZST: 720,
  NZDT: 780,
};

/**
 * RFC 5322 §3.3's date-time with §4.3's obsolete forms (a two- or three-digit year, a zone name),
 * comments taken out: `[day-name ,] day month year hour:minute[:second] zone`.
 */
const DATE_TIME =
  /^(?:[a-z]{3}[a-z]*\s*,?\s*)?0*(\d{1,2})\s+([a-z]{3})[a-z]*\.?\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:([+-])(\d{2}):?(\d{2})|([a-z]{1,5}))?$/i;

/** ISO 8601 with its offset, as Amazon SES's `timestamp` is written. */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/**
 * `value` as ISO 8601 in UTC when it names an instant: an RFC 5322 date with a numeric zone or a zone
 * name of one offset (`Thu, 9 Apr 2006 23:34:45 JST` is `2006-04-09T14:34:45.000Z`), or ISO 8601 with
 * its offset. Any other (no zone, a zone in a comment only, a name of several zones, not a date) is
 * returned as written, trimmed; `null` when empty.
 *
 * @example
 * mailDate('Thu, 9 Apr 2006 23:34:45 JST');  // '2006-04-09T14:34:45.000Z'
 * mailDate('Thu, 9 Apr 2006 23:34:45 IST');  // 'Thu, 9 Apr 2006 23:34:45 IST'
 */
export function mailDate(value: string | null | undefined): string | null {
  if (value === undefined || value === null || value.trim() === '') return null;
  const written = value.trim();
  if (ISO_WITH_ZONE.test(written)) {
    const time = Date.parse(written);
    return Number.isNaN(time) ? written : new Date(time).toISOString();
  }
  const match = DATE_TIME.exec(withoutComments(written).replace(/\s+/g, ' ').trim());
  if (match === null) return written;
  const [, day, monthName, yearText, hour, minute, second, sign, offsetHours, offsetMinutes, zoneName] =
    match;
  const month = MONTHS.indexOf((monthName ?? '').toLowerCase());
  let offset: number | undefined;
  if (sign !== undefined) {
    offset = (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes));
  } else if (zoneName !== undefined) {
    offset = ZONES[zoneName.toUpperCase()];
  }
  if (month === -1 || offset === undefined) return written;
  // RFC 5322 §4.3: a two-digit year below 50 is 20xx, others 19xx; a three-digit one adds 1900.
  const yearNumber = Number(yearText);
  const year =
    (yearText ?? '').length === 2
      ? yearNumber + (yearNumber < 50 ? 2000 : 1900)
      : (yearText ?? '').length === 3
        ? yearNumber + 1900
        : yearNumber;
  const fields = [Number(day), Number(hour), Number(minute), Number(second ?? 0)] as const;
  const [dayNumber, hours, minutes, seconds] = fields;
  const utc = Date.UTC(year, month, dayNumber, hours, minutes, Math.min(seconds, 59));
  // A day the month does not have (31 Apr), or an hour, minute or second out of range, is no instant.
  const check = new Date(Date.UTC(year, month, dayNumber));
  if (check.getUTCDate() !== dayNumber || hours > 23 || minutes > 59 || seconds > 60) return written;
  return new Date(utc - offset * 60_000).toISOString();
}

/** `value` without its comments (RFC 5322 §3.2.2, nested), which name no zone a reader may trust. */
function withoutComments(value: string): string {
  let out = '';
  let depth = 0;
  for (const char of value) {
    if (char === '(') depth += 1;
    else if (char === ')' && depth > 0) depth -= 1;
    else if (depth === 0) out += char;
  }
  return out;
}
