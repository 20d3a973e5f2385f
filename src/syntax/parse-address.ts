/**
 * `parseAddress()`: is a string an RFC 5321 `Mailbox` (with RFC 6531 UTF-8), and what are its parts?
 *
 * A hand-written single pass over UTF-16 code units with an ASCII fast path: a plain
 * `dot-string@ldh.domain` costs one scan, two slices and one object. IDNA (tr46) runs only for domains
 * with a non-ASCII character or an `xn--` label. Every rule and every choice where the RFCs leave room
 * is listed in `src/syntax/README.md`; the codes are `SYNTAX_ERROR_CODES` in `src/types.ts`.
 *
 * Total: never throws, whatever it is given (non-strings included).
 */
import type { SyntaxErrorCode, SyntaxResult } from '../types.js';
import { parseAddressLiteral } from './address-literal.js';
import { convertDomain } from './idna.js';

/** RFC 5321 §4.5.3.1.1: "The maximum total length of a user name or other local-part is 64 octets." */
export const MAX_LOCAL_PART_OCTETS = 64;
/** RFC 5321 §4.5.3.1.2: "The maximum total length of a domain name or number is 255 octets." */
export const MAX_DOMAIN_OCTETS = 255;
/** RFC 1035 §2.3.4 (kept by RFC 5321 §4.5.3.1.2 through DNS): labels are 63 octets or less. */
export const MAX_LABEL_OCTETS = 63;
/** RFC 5321 §4.5.3.1.3: a path, `<` address `>`, is at most 256 octets, so an address 254. */
export const MAX_PATH_OCTETS = 256;
/**
 * Longer inputs are refused unscanned. No mailbox comes near: 254 octets is at most 254 UTF-16 code
 * units, and a domain typed in decomposed Unicode that normalises (NFC) to a 255-octet A-label form
 * stays well under 2000. It bounds the work a hostile input can cause.
 */
export const MAX_INPUT_LENGTH = 4096;

const TAB = 0x09;
const SPACE = 0x20;
const DQUOTE = 0x22;
const LPAREN = 0x28;
const RPAREN = 0x29;
const HYPHEN = 0x2d;
const DOT = 0x2e;
const GT = 0x3e;
const AT = 0x40;
const LBRACKET = 0x5b;
const BACKSLASH = 0x5c;
const DEL = 0x7f;

/** RFC 5322 §3.2.3 `atext` (RFC 5321 §4.1.2 `Atom` uses it), ASCII part: 1 where allowed. */
const ATEXT = new Uint8Array(128);
for (const char of "!#$%&'*+-/=?^_`{|}~") ATEXT[char.charCodeAt(0)] = 1;
for (let code = 0x30; code <= 0x39; code++) ATEXT[code] = 1;
for (let code = 0x41; code <= 0x5a; code++) ATEXT[code] = 1;
for (let code = 0x61; code <= 0x7a; code++) ATEXT[code] = 1;

/** Character classes of a domain (RFC 5321 §4.1.2 `sub-domain`: Let-dig and Ldh-str). */
const D_INVALID = 0;
const D_DIGIT = 1;
const D_LOWER = 2;
const D_UPPER = 3;
const D_HYPHEN = 4;
const D_DOT = 5;
const DOMAIN_CLASS = new Uint8Array(128);
for (let code = 0x30; code <= 0x39; code++) DOMAIN_CLASS[code] = D_DIGIT;
for (let code = 0x61; code <= 0x7a; code++) DOMAIN_CLASS[code] = D_LOWER;
for (let code = 0x41; code <= 0x5a; code++) DOMAIN_CLASS[code] = D_UPPER;
DOMAIN_CLASS[HYPHEN] = D_HYPHEN;
DOMAIN_CLASS[DOT] = D_DOT;

const RFC_LOCAL = 'RFC 5321 §4.1.2';
const RFC_DOMAIN = 'RFC 5321 §4.1.2 sub-domain';

/** Code units `String.prototype.trim()` removes: what "leading or trailing whitespace" means here. */
function isTrimmable(code: number): boolean {
  return (
    code === SPACE ||
    (code >= TAB && code <= 0x0d) ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/** Unicode white space that is not a C0/C1 control (those are CONTROL_CHAR). */
function isUnicodeSpace(code: number): boolean {
  return code !== 0x85 && code > DEL && isTrimmable(code);
}

/** C0 controls, DEL and C1 controls: never part of a mailbox, quoted or not (RFC 5321 §4.1.2, RFC 6530 §10.1). */
function isControl(code: number): boolean {
  return code < SPACE || (code >= DEL && code <= 0x9f);
}

/** `U+XXXX "c"` for messages, readable for invisible characters. */
function describeChar(input: string, index: number): string {
  const codePoint = input.codePointAt(index) ?? 0;
  const hex = codePoint.toString(16).toUpperCase().padStart(4, '0');
  return codePoint > SPACE && !isControl(codePoint) && !isTrimmable(codePoint)
    ? `"${String.fromCodePoint(codePoint)}" (U+${hex})`
    : `U+${hex}`;
}

function invalid(code: SyntaxErrorCode, message: string, index: number): SyntaxResult {
  return {
    valid: false,
    localPart: null,
    domain: null,
    asciiDomain: null,
    smtputf8: false,
    error: { code, message: `${message} (at index ${index})`, index },
  };
}

/**
 * Checks a non-ASCII code unit at `index` (RFC 6531 `UTF8-non-ascii`). Returns the number of code
 * units it takes (1, or 2 for a surrogate pair), or an error result.
 */
function checkNonAscii(
  input: string,
  index: number,
  where: 'local' | 'quoted' | 'domain',
): number | SyntaxResult {
  const code = input.charCodeAt(index);
  if (code <= 0x9f) return invalid('CONTROL_CHAR', `control character ${describeChar(input, index)}`, index);
  if (code >= 0xd800 && code <= 0xdfff) {
    const next = input.charCodeAt(index + 1);
    if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) return 2;
    return invalid(
      'INVALID_UTF8',
      `unpaired surrogate U+${code.toString(16).toUpperCase()}: not encodable as UTF-8 (RFC 3629)`,
      index,
    );
  }
  // Inside a quoted string white space is text, as the ASCII space is (qtextSMTP %d32).
  if (where !== 'quoted' && isUnicodeSpace(code)) {
    return invalid(
      'WHITESPACE',
      `white space ${describeChar(input, index)} in the ${partName(where)}`,
      index,
    );
  }
  return 1;
}

function partName(where: 'local' | 'quoted' | 'domain'): string {
  return where === 'domain' ? 'domain' : 'local part';
}

/** The error for an ASCII character that is not allowed where it stands. */
function asciiError(input: string, index: number, where: 'local' | 'domain'): SyntaxResult {
  const code = input.charCodeAt(index);
  const char = describeChar(input, index);
  if (isControl(code)) return invalid('CONTROL_CHAR', `control character ${char}`, index);
  if (code === SPACE) {
    return invalid(
      'WHITESPACE',
      `white space in the ${partName(where)}; quote the local part if it is meant`,
      index,
    );
  }
  if (code === LPAREN || code === RPAREN) {
    return invalid(
      'COMMENT',
      `comments ${char} are RFC 5322 message syntax, not part of a mailbox (${RFC_LOCAL})`,
      index,
    );
  }
  if (where === 'domain') {
    const hint =
      code === AT
        ? 'a second "@"; quote the local part if it contains "@"'
        : `${char} is not allowed in a domain: letters, digits, hyphens and dots only (${RFC_DOMAIN})`;
    return invalid('DOMAIN_INVALID_CHAR', hint, index);
  }
  const hint =
    code === DQUOTE
      ? 'a quote inside an unquoted local part; quotes must enclose the whole local part'
      : `${char} must be inside a quoted local part`;
  return invalid('UNQUOTED_SPECIAL', `${hint} (${RFC_LOCAL})`, index);
}

/** UTF-8 octets of `input[start, end)`; valid UTF-16 is assumed (lone surrogates are refused earlier). */
function utf8Length(input: string, start: number, end: number): number {
  let octets = 0;
  for (let index = start; index < end; index++) {
    const code = input.charCodeAt(index);
    if (code < 0x80) octets += 1;
    else if (code < 0x800) octets += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      octets += 4;
      index++;
    } else octets += 3;
  }
  return octets;
}

/** Index of the first code unit past `limit` UTF-8 octets, counting from `start`. */
function indexPastOctets(input: string, start: number, limit: number): number {
  let octets = 0;
  for (let index = start; index < input.length; index++) {
    const code = input.charCodeAt(index);
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdbff ? 4 : 3;
    if (octets + size > limit) return index;
    octets += size;
    if (size === 4) index++;
  }
  return input.length;
}

/**
 * Parses an address typed by a user or read from a list, as an RFC 5321 `Mailbox` extended by
 * RFC 6531 (UTF-8 local parts, IDNA 2008 domains).
 *
 * Valid results carry the local part exactly as typed (RFC 5321 §2.4: only the receiving host may
 * interpret it), the domain lowercased in U-label (NFC) and A-label forms, and `smtputf8` when the
 * local part is not ASCII. Invalid results carry one error: a stable code, a message, and the index
 * (UTF-16 code units) where the rule is broken. Input is not trimmed: leading or trailing white space
 * is the `WHITESPACE` error, so callers decide whether to trim.
 *
 * @example
 * parseAddress('Alice.Smith@Example.COM').domain // 'example.com'
 * parseAddress('bob@xn--bcher-kva.de').domain     // 'bücher.de'
 * parseAddress('Bob <bob@example.com>').error?.code // 'DISPLAY_NAME'
 */
export function parseAddress(input: string): SyntaxResult {
  const value: unknown = input;
  if (typeof value !== 'string') {
    return invalid('NOT_STRING', `expected a string, got ${value === null ? 'null' : typeof value}`, 0);
  }
  const length = input.length;
  if (length === 0) return invalid('EMPTY', 'the address is empty', 0);
  if (length > MAX_INPUT_LENGTH) {
    return invalid(
      'TOO_LONG',
      `the input is ${length} characters; no mailbox is longer than 254 octets`,
      MAX_INPUT_LENGTH,
    );
  }
  const first = input.charCodeAt(0);
  const last = input.charCodeAt(length - 1);
  if (isTrimmable(first)) return invalid('WHITESPACE', `leading white space ${describeChar(input, 0)}`, 0);
  if (isTrimmable(last)) {
    return invalid('WHITESPACE', `trailing white space ${describeChar(input, length - 1)}`, length - 1);
  }
  const result = scanAddress(input, first);
  if (result.valid || result.error === null) return result;
  // A mailbox ends in a letter, a digit or "]", so an input ending in ">" or ")" always fails the
  // scan; name the likely cause (RFC 5322 name-addr or a comment) rather than the first odd
  // character, unless that character is a control or broken UTF-16, which matter more.
  const code = result.error.code;
  if (code === 'CONTROL_CHAR' || code === 'INVALID_UTF8') return result;
  if (last === GT) {
    const open = input.lastIndexOf('<');
    if (open !== -1) {
      return invalid(
        'DISPLAY_NAME',
        'a display name or angle brackets ("Name <user@example.com>"): pass the bare address (RFC 5322 §3.4)',
        open,
      );
    }
  } else if (last === RPAREN) {
    const open = input.lastIndexOf('(');
    if (open !== -1 && code !== 'COMMENT') {
      return invalid(
        'COMMENT',
        `a trailing comment is RFC 5322 message syntax, not part of a mailbox (${RFC_LOCAL})`,
        open,
      );
    }
  }
  return result;
}

/** Where the local part ends (the index of its "@") and whether it holds non-ASCII characters. */
interface LocalPart {
  readonly at: number;
  readonly nonAscii: boolean;
}

/** The shape of a domain's labels, read in the one pass over them. */
interface DomainLabels {
  readonly labels: number;
  readonly hasUpper: boolean;
  /** A U-label or an A-label: the domain goes through IDNA (tr46). */
  readonly needsIdna: boolean;
  readonly lastLabelStart: number;
  readonly lastLabelDigitsOnly: boolean;
}

const isResult = (value: object): value is SyntaxResult => 'valid' in value;

/** The single pass over a string already checked for type, length and surrounding white space. */
function scanAddress(input: string, first: number): SyntaxResult {
  const local = first === DQUOTE ? scanQuotedLocal(input) : scanDotLocal(input);
  if (isResult(local)) return local;
  const { at } = local;
  const localOctets = local.nonAscii ? utf8Length(input, 0, at) : at;
  if (localOctets > MAX_LOCAL_PART_OCTETS) {
    return invalid(
      'LOCAL_TOO_LONG',
      `the local part is ${localOctets} octets; the limit is ${MAX_LOCAL_PART_OCTETS} (RFC 5321 §4.5.3.1.1)`,
      indexPastOctets(input, 0, MAX_LOCAL_PART_OCTETS),
    );
  }

  // ---- Domain: Domain / address-literal ----
  const start = at + 1;
  const length = input.length;
  if (start >= length) return invalid('DOMAIN_EMPTY', 'nothing after the "@"', start);
  if (input.charCodeAt(start) === LBRACKET) return parseLiteralDomain(input, at, local.nonAscii);
  const shape = scanDomainLabels(input, start);
  if (isResult(shape)) return shape;
  const { labels, needsIdna, lastLabelStart, lastLabelDigitsOnly } = shape;
  const domains = domainForms(input, start, shape);
  if (isResult(domains)) return domains;
  const { asciiDomain, domain } = domains;
  if (asciiDomain.length > MAX_DOMAIN_OCTETS) {
    return invalid(
      'DOMAIN_TOO_LONG',
      `the domain is ${asciiDomain.length} octets; the limit is ${MAX_DOMAIN_OCTETS} (RFC 5321 §4.5.3.1.2)`,
      needsIdna ? start : start + MAX_DOMAIN_OCTETS,
    );
  }
  if (labels === 1) {
    return invalid(
      'DOMAIN_DOTLESS',
      'the domain has a single label; public mail domains have at least two (e.g. "example.com")',
      start,
    );
  }
  if (lastLabelDigitsOnly) {
    return invalid(
      'NUMERIC_TLD',
      'the top-level label is all digits (RFC 3696 §2); write an IP address as a literal, e.g. "[192.0.2.1]"',
      lastLabelStart,
    );
  }
  const pathOctets = localOctets + 1 + asciiDomain.length + 2;
  if (pathOctets > MAX_PATH_OCTETS) {
    return invalid(
      'PATH_TOO_LONG',
      `"<address>" is ${pathOctets} octets; the limit is ${MAX_PATH_OCTETS} (RFC 5321 §4.5.3.1.3)`,
      needsIdna ? start : MAX_PATH_OCTETS - 2 - localOctets + at,
    );
  }
  return {
    valid: true,
    localPart: input.slice(0, at),
    domain,
    asciiDomain,
    smtputf8: local.nonAscii,
    error: null,
  };
}

/** A quoted local part (RFC 5321 §4.1.2 Quoted-string, RFC 6531 §3.3), from the opening quote to the "@". */
function scanQuotedLocal(input: string): LocalPart | SyntaxResult {
  const length = input.length;
  let localNonAscii = false;
  let index = 1;
  for (;;) {
    if (index >= length) {
      return invalid('UNTERMINATED_QUOTE', 'the quoted local part has no closing quote', 0);
    }
    const code = input.charCodeAt(index);
    if (code === DQUOTE) break;
    if (code === BACKSLASH) {
      // quoted-pairSMTP = %d92 %d32-126: a backslash escapes printable ASCII only.
      index++;
      if (index >= length)
        return invalid('UNTERMINATED_QUOTE', 'the quoted local part has no closing quote', 0);
      const escaped = input.charCodeAt(index);
      if (isControl(escaped)) {
        return invalid(
          'CONTROL_CHAR',
          `control character ${describeChar(input, index)} in a quoted string`,
          index,
        );
      }
      if (escaped > DEL) {
        return invalid(
          'QUOTED_INVALID_CHAR',
          `a backslash may escape only printable ASCII, not ${describeChar(input, index)} (RFC 5321 §4.1.2 quoted-pairSMTP)`,
          index,
        );
      }
      index++;
      continue;
    }
    if (code < 0x80) {
      // qtextSMTP = %d32-33 / %d35-91 / %d93-126: everything printable but '"' and '\' (handled above).
      if (isControl(code)) {
        return invalid(
          'CONTROL_CHAR',
          `control character ${describeChar(input, index)} in a quoted string`,
          index,
        );
      }
      index++;
      continue;
    }
    const step = checkNonAscii(input, index, 'quoted');
    if (typeof step !== 'number') return step;
    localNonAscii = true;
    index += step;
  }
  index++;
  if (index >= length) return invalid('NO_AT', 'no "@" after the quoted local part', length);
  if (input.charCodeAt(index) !== AT) {
    return invalid(
      'TEXT_AFTER_QUOTE',
      `${describeChar(input, index)} after the closing quote; a quoted local part must be followed by "@" (${RFC_LOCAL}; "a".b is obsolete RFC 5322 syntax)`,
      index,
    );
  }
  return { at: index, nonAscii: localNonAscii };
}

/** A dot-atom local part (RFC 5321 §4.1.2 Dot-string, RFC 6531 §3.3), up to the "@". */
function scanDotLocal(input: string): LocalPart | SyntaxResult {
  const length = input.length;
  let localNonAscii = false;
  let index = 0;
  let afterDot = true;
  for (; index < length; index++) {
    const code = input.charCodeAt(index);
    if (code < 0x80) {
      if (ATEXT[code] === 1) {
        afterDot = false;
        continue;
      }
      if (code === AT) break;
      if (code === DOT) {
        if (index === 0) {
          return invalid('LEADING_DOT', `the local part starts with a dot (${RFC_LOCAL} Dot-string)`, 0);
        }
        if (afterDot) {
          return invalid(
            'CONSECUTIVE_DOTS',
            `two dots in a row in the local part (${RFC_LOCAL} Dot-string)`,
            index,
          );
        }
        afterDot = true;
        continue;
      }
      return asciiError(input, index, 'local');
    }
    const step = checkNonAscii(input, index, 'local');
    if (typeof step !== 'number') return step;
    localNonAscii = true;
    afterDot = false;
    index += step - 1;
  }
  if (index >= length) return invalid('NO_AT', 'no "@" in the address', length);
  if (index === 0) return invalid('LOCAL_EMPTY', 'nothing before the "@"', 0);
  if (afterDot) {
    return invalid('TRAILING_DOT', `the local part ends with a dot (${RFC_LOCAL} Dot-string)`, index - 1);
  }
  return { at: index, nonAscii: localNonAscii };
}

/** The labels of a domain name (RFC 5321 §4.1.2 sub-domain), from `start` to the end of the input. */
function scanDomainLabels(input: string, start: number): DomainLabels | SyntaxResult {
  const length = input.length;
  let labelStart = start;
  let labels = 0;
  let hasUpper = false;
  let needsIdna = false;
  let labelNonAscii = false;
  let labelDigitsOnly = true;
  let lastLabelStart = start;
  let lastLabelDigitsOnly = false;
  for (let index = start; index <= length; index++) {
    const code = index < length ? input.charCodeAt(index) : DOT;
    if (code < 0x80) {
      const kind = DOMAIN_CLASS[code] ?? D_INVALID;
      if (kind === D_LOWER || kind === D_HYPHEN) {
        labelDigitsOnly = false;
        continue;
      }
      if (kind === D_DIGIT) continue;
      if (kind === D_UPPER) {
        hasUpper = true;
        labelDigitsOnly = false;
        continue;
      }
      if (kind === D_INVALID) return asciiError(input, index, 'domain');
      // A dot, or the end of the input: one label is complete.
      if (index === labelStart) {
        if (index === length) {
          return invalid(
            'DOMAIN_TRAILING_DOT',
            `the domain ends with a dot; a mail domain has no root dot (${RFC_DOMAIN})`,
            index - 1,
          );
        }
        return invalid('LABEL_EMPTY', `an empty label in the domain (${RFC_DOMAIN})`, index);
      }
      if (input.charCodeAt(labelStart) === HYPHEN) {
        return invalid(
          'LABEL_HYPHEN',
          `a domain label starts with a hyphen (${RFC_DOMAIN}: Let-dig)`,
          labelStart,
        );
      }
      if (input.charCodeAt(index - 1) === HYPHEN) {
        return invalid(
          'LABEL_HYPHEN',
          `a domain label ends with a hyphen (${RFC_DOMAIN}: Let-dig)`,
          index - 1,
        );
      }
      if (labelNonAscii) {
        needsIdna = true;
      } else {
        if (index - labelStart > MAX_LABEL_OCTETS) {
          return invalid(
            'LABEL_TOO_LONG',
            `a domain label is ${index - labelStart} octets; the limit is ${MAX_LABEL_OCTETS} (RFC 1035 §2.3.4)`,
            labelStart + MAX_LABEL_OCTETS,
          );
        }
        // An A-label ("xn--" in any case, RFC 5890 §2.3.2.1) must decode to a valid U-label.
        if (
          index - labelStart >= 4 &&
          (input.charCodeAt(labelStart) | 0x20) === 0x78 &&
          (input.charCodeAt(labelStart + 1) | 0x20) === 0x6e &&
          input.charCodeAt(labelStart + 2) === HYPHEN &&
          input.charCodeAt(labelStart + 3) === HYPHEN
        ) {
          needsIdna = true;
        }
      }
      labels++;
      lastLabelStart = labelStart;
      lastLabelDigitsOnly = labelDigitsOnly;
      labelStart = index + 1;
      labelNonAscii = false;
      labelDigitsOnly = true;
      continue;
    }
    const step = checkNonAscii(input, index, 'domain');
    if (typeof step !== 'number') return step;
    labelNonAscii = true;
    labelDigitsOnly = false;
    index += step - 1;
  }
  return { labels, hasUpper, needsIdna, lastLabelStart, lastLabelDigitsOnly };
}

/** The domain as A-labels (for DNS) and as typed or U-labels (for people), through IDNA when needed. */
function domainForms(
  input: string,
  start: number,
  { hasUpper, needsIdna }: DomainLabels,
): { asciiDomain: string; domain: string } | SyntaxResult {
  if (needsIdna) {
    const converted = convertDomain(input.slice(start));
    if ('label' in converted) {
      return invalid('IDNA_INVALID', converted.message, labelIndex(input, start, converted.label));
    }
    for (let label = 0; label < converted.asciiLabels.length; label++) {
      const octets = converted.asciiLabels[label]?.length ?? 0;
      if (octets > MAX_LABEL_OCTETS) {
        return invalid(
          'LABEL_TOO_LONG',
          `a domain label is ${octets} octets as an A-label; the limit is ${MAX_LABEL_OCTETS} (RFC 1035 §2.3.4)`,
          labelIndex(input, start, label),
        );
      }
    }
    return { asciiDomain: converted.ascii, domain: converted.unicode };
  }
  const typed = input.slice(start);
  const asciiDomain = hasUpper ? typed.toLowerCase() : typed;
  return { asciiDomain, domain: asciiDomain };
}

/** Index in `input` of label number `label` of the domain starting at `start`. */
function labelIndex(input: string, start: number, label: number): number {
  let index = start;
  for (let count = 0; count < label; count++) {
    const dot = input.indexOf('.', index);
    if (dot === -1) break;
    index = dot + 1;
  }
  return index;
}

function parseLiteralDomain(input: string, at: number, smtputf8: boolean): SyntaxResult {
  const start = at + 1;
  const length = input.length;
  const close = input.indexOf(']', start);
  if (close === -1)
    return invalid('ADDRESS_LITERAL_INVALID', 'the address literal has no closing "]"', length);
  if (close !== length - 1) {
    return invalid('ADDRESS_LITERAL_INVALID', `text after the address literal's closing "]"`, close + 1);
  }
  for (let index = start + 1; index < close; index++) {
    const code = input.charCodeAt(index);
    if (isControl(code))
      return invalid('CONTROL_CHAR', `control character ${describeChar(input, index)}`, index);
    if (code === SPACE || isUnicodeSpace(code)) {
      return invalid('WHITESPACE', 'white space in the address literal', index);
    }
  }
  const literal = parseAddressLiteral(input.slice(start + 1, close));
  if (!literal.ok) return invalid('ADDRESS_LITERAL_INVALID', literal.message, start + 1 + literal.offset);
  // No path check: 64 octets of local part and the longest literal (53) stay far below 256.
  return {
    valid: true,
    localPart: input.slice(0, at),
    domain: literal.normalized,
    asciiDomain: literal.normalized,
    smtputf8,
    error: null,
  };
}
