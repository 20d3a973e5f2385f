/**
 * Reads the machine-readable part of a delivery status notification: RFC 3464 §2
 * (`message/delivery-status`) and its internationalised form, RFC 6533 §6
 * (`message/global-delivery-status`, UTF-8 fields and `utf-8` address types). Total: any text gives
 * a (possibly empty) result.
 */

/** One group of DSN fields, names lower-cased, values unfolded (RFC 3464 §2.1, RFC 5322 §2.2.3). */
export type DsnFields = ReadonlyMap<string, string>;

export interface DeliveryStatus {
  /** Per-message fields (`Reporting-MTA`, `Arrival-Date`, …). */
  readonly message: DsnFields;
  /** One group per recipient (`Final-Recipient`, `Action`, `Status`, `Diagnostic-Code`, …). */
  readonly recipients: readonly DsnFields[];
}

/** A field line: `Name: value`. RFC 3464 field names are RFC 5322 field names. */
const FIELD = /^([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s?(.*)$/;

/** Per-recipient fields (RFC 3464 §2.3, and the X- fields MTAs add to a recipient's group). */
const RECIPIENT_FIELDS = new Set([
  'final-recipient',
  'original-recipient',
  'action',
  'status',
  'remote-mta',
  'diagnostic-code',
  'last-attempt-date',
  'final-log-id',
  'will-retry-until',
  'x-actual-recipient',
]);

/**
 * Folded lines joined; groups split on blank lines, or where a field repeats (a report written without
 * blank lines). A recipient's fields may come in any order (Facebook writes `Diagnostic-Code` and
 * `Status` before `Final-Recipient`, AOL `Original-Recipient` after it).
 */
export function parseDeliveryStatus(text: string): DeliveryStatus {
  const message = new Map<string, string>();
  const recipients: Map<string, string>[] = [];
  let current: Map<string, string> | null = null;
  let last: { fields: Map<string, string>; name: string } | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      current = null;
      last = null;
      continue;
    }
    if (/^[ \t]/.test(line) && last !== null) {
      last.fields.set(last.name, `${last.fields.get(last.name) ?? ''} ${line.trim()}`);
      continue;
    }
    const match = FIELD.exec(line);
    if (match === null) continue;
    const name = (match[1] ?? '').toLowerCase();
    const value = (match[2] ?? '').trim();
    let target: Map<string, string> | null;
    if (RECIPIENT_FIELDS.has(name)) {
      if (current === null || current.has(name)) {
        current = new Map();
        recipients.push(current);
      }
      target = current;
    } else {
      target = current ?? (recipients.length === 0 ? message : null);
    }
    if (target === null) continue;
    if (!target.has(name)) target.set(name, value);
    last = { fields: target, name };
  }
  return {
    message,
    recipients: recipients.filter(
      (fields) => fields.has('final-recipient') || fields.has('original-recipient'),
    ),
  };
}

/**
 * The value of a typed field without its type: `rfc822; a@example.com` → `a@example.com`,
 * `smtp; 550 …` → `550 …` (RFC 3464 §2.1.2). `null` for an absent or empty field.
 */
export function untyped(value: string | undefined): string | null {
  if (value === undefined) return null;
  const semicolon = value.indexOf(';');
  const rest = (semicolon >= 0 && semicolon < 40 ? value.slice(semicolon + 1) : value).trim();
  return rest === '' ? null : rest;
}

/** The type of a typed field, lower-cased: `smtp`, `rfc822`, `utf-8`, `x-postfix`, `dns`. */
export function typeOf(value: string | undefined): string | null {
  if (value === undefined) return null;
  const semicolon = value.indexOf(';');
  return semicolon > 0 && semicolon < 40 ? value.slice(0, semicolon).trim().toLowerCase() : null;
}

/**
 * An address field as an address: angle brackets dropped, RFC 3461 §4 xtext (`+2B`) and RFC 6533 §3
 * embedded Unicode (`\x{E9}`) decoded.
 */
export function addressOf(value: string | undefined): string | null {
  const raw = untyped(value);
  if (raw === null) return null;
  const decoded = raw
    .replace(/\\x\{([0-9A-Fa-f]{1,6})\}/g, (_, hex: string) => safeCodePoint(Number.parseInt(hex, 16)))
    .replace(/\+([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  const address = decoded.replace(/^<|>$/g, '').trim();
  return address === '' ? null : address;
}

function safeCodePoint(code: number): string {
  return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
}

/** RFC 3464 §2.3.4 status: `class.subject.detail` with class 2, 4 or 5. */
export function statusOf(value: string | undefined): string | null {
  const match = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(value ?? '');
  return match?.[1] ?? null;
}
