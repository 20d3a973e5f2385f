/**
 * IDNA 2008 conversion of a mail domain (RFC 5890–5893) through UTS #46 (`tr46`). Only reached for
 * domains with a non-ASCII character or an `xn--` label: plain LDH domains never pay for it.
 */
import { toASCII, toUnicode, type Tr46Options } from 'tr46';

/**
 * Non-transitional processing keeps `ß`, `ς`, ZWJ and ZWNJ as IDNA 2008 does (RFC 5892), instead of
 * mapping them away as IDNA 2003 did; STD3 rules refuse `_` and other non-LDH ASCII; Bidi (RFC 5893)
 * and ContextJ joiner rules (RFC 5892 Appendix A) are checked. CheckHyphens is off on purpose: it
 * would refuse ASCII labels with `--` in positions 3–4 (`r1---sn-abc`), which RFC 5321's `sub-domain`
 * allows; the rule RFC 5891 §4.2.3.1 sets for U-labels is checked in `convertDomain` instead. Lengths
 * are checked by the caller, on the A-label form, to report which limit was broken.
 */
const OPTIONS: Tr46Options = {
  checkBidi: true,
  checkHyphens: false,
  checkJoiners: true,
  useSTD3ASCIIRules: true,
  transitionalProcessing: false,
  verifyDNSLength: false,
  ignoreInvalidPunycode: false,
};

export interface ConvertedDomain {
  /** The domain with A-labels, lowercased: what DNS and a non-SMTPUTF8 `RCPT TO` use. */
  readonly ascii: string;
  /** The domain with U-labels, lowercased and NFC. */
  readonly unicode: string;
  /** Each label of `ascii`, in order (the caller checks their lengths). */
  readonly asciiLabels: readonly string[];
}

export interface DomainProblem {
  /** Index of the offending label among the domain's labels. */
  readonly label: number;
  readonly message: string;
}

function safeToAscii(domain: string): string | null {
  try {
    return toASCII(domain, OPTIONS);
  } catch {
    // tr46 catches punycode's own exceptions; this guards the promise that parseAddress never throws.
    return null;
  }
}

function safeToUnicode(domain: string): string | null {
  try {
    const result = toUnicode(domain, OPTIONS);
    return result.error ? null : result.domain;
  } catch {
    return null;
  }
}

/**
 * Converts a domain that has non-ASCII characters or `xn--` labels. The domain must already be in
 * IDNA 2008 form apart from letter case and Unicode normalisation: a character UTS #46 would map to
 * something else (fullwidth letters, the ideographic full stop, a soft hyphen that maps to nothing) is
 * refused, because an MTA given the address would not apply that mapping and the address would not
 * be the one the user typed. A-labels must decode to valid U-labels (RFC 5891 §5.4).
 */
export function convertDomain(domain: string): ConvertedDomain | DomainProblem {
  const cached = cache.get(domain);
  if (cached !== undefined) return cached;
  const result = convertUncached(domain);
  if (domain.length <= CACHEABLE_LENGTH) {
    if (cache.size >= CACHE_SIZE) cache.clear();
    cache.set(domain, result);
  }
  return result;
}

/**
 * tr46 takes 20-35 µs per call (UTS #46 mapping and Bidi regexes), 150 times the whole ASCII parse.
 * Bulk lists repeat the same few IDN domains, so conversions are memoised: the function is pure, so
 * the cache changes timing only. Bounded (cleared when full) so hostile input cannot grow it.
 */
const CACHE_SIZE = 1024;
/** Longer keys are never valid domains (255 octets as A-labels); not worth keeping. */
const CACHEABLE_LENGTH = 255;
const cache = new Map<string, ConvertedDomain | DomainProblem>();

function convertUncached(domain: string): ConvertedDomain | DomainProblem {
  const lowered = domain.toLowerCase().normalize('NFC');
  const loweredLabels = lowered.split('.');
  const ascii = safeToAscii(lowered);
  if (ascii === null) return locateProblem(loweredLabels);
  const unicode = safeToUnicode(ascii);
  const asciiLabels = ascii.split('.');
  const unicodeLabels = unicode === null ? [] : unicode.split('.');
  if (unicode === null || asciiLabels.length !== loweredLabels.length) {
    return { label: 0, message: 'the domain is not a valid IDNA 2008 name' };
  }
  for (let index = 0; index < loweredLabels.length; index++) {
    const typed = loweredLabels[index] ?? '';
    const aLabel = asciiLabels[index] ?? '';
    const uLabel = unicodeLabels[index] ?? '';
    if (typed !== aLabel && typed !== uLabel) {
      return {
        label: index,
        message: `the label "${typed}" is not in IDNA 2008 form (UTS #46 would change it to "${uLabel}")`,
      };
    }
    if (uLabel !== aLabel) {
      // RFC 5891 §4.2.3.1: a U-label must not have "--" in its third and fourth positions.
      if (uLabel.startsWith('--', 2)) {
        return { label: index, message: `the label "${uLabel}" has "--" in its 3rd and 4th positions` };
      }
      const problem = idna2008Problem(uLabel);
      if (problem !== null) return { label: index, message: `the label "${uLabel}" ${problem}` };
    }
  }
  return { ascii, unicode: unicode, asciiLabels };
}

/** Finds which label makes the whole domain fail, for the error index. */
function locateProblem(labels: readonly string[]): DomainProblem {
  for (let index = 0; index < labels.length; index++) {
    const label = labels[index] ?? '';
    if (safeToAscii(label) === null) {
      return label.startsWith('xn--')
        ? { label: index, message: `the label "${label}" is not a valid A-label (bad Punycode or content)` }
        : { label: index, message: `the label "${label}" has characters IDNA 2008 does not allow` };
    }
  }
  // Every label passes alone, so a rule across labels failed: the Bidi rule (RFC 5893 §2).
  return { label: 0, message: 'the domain breaks the IDNA Bidi rule (RFC 5893)' };
}

/**
 * RFC 5892 §2.1 LetterDigits: the general categories whose code points are PVALID (unless listed
 * below). UTS #46 also accepts symbols and punctuation that IDNA 2008 disallows (its "NV8" code
 * points: `☃`, `€`, emoji, U+2044 FRACTION SLASH, which looks like "/"), so tr46 alone is not enough.
 */
const LETTER_DIGIT = /^[\p{Ll}\p{Lu}\p{Lo}\p{Lm}\p{Mn}\p{Mc}\p{Nd}]$/u;
/** RFC 5892 §2.6 Exceptions, PVALID: ß, final sigma, Arabic 06FD/06FE, Tibetan tsheg, ideographic zero. */
const PVALID_EXCEPTIONS: ReadonlySet<number> = new Set([0xdf, 0x3c2, 0x6fd, 0x6fe, 0xf0b, 0x3007]);
/** RFC 5892 §2.6 Exceptions, DISALLOWED although in LetterDigits (tatweel, vertical kana repeat marks…). */
const DISALLOWED_EXCEPTIONS: ReadonlySet<number> = new Set([
  0x640, 0x7fa, 0x302e, 0x302f, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303b,
]);
const GREEK = /^\p{Script=Greek}$/u;
const HEBREW = /^\p{Script=Hebrew}$/u;
const KANA_OR_HAN = /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u;
const ARABIC_INDIC_DIGITS = /[\u0660-\u0669]/u;
const EXTENDED_ARABIC_INDIC_DIGITS = /[\u06f0-\u06f9]/u;

/** RFC 5892 §2.4 IgnorableBlocks and §2.9 OldHangulJamo: DISALLOWED whole blocks. */
function isInDisallowedBlock(codePoint: number): boolean {
  return (
    (codePoint >= 0x20d0 && codePoint <= 0x20ff) ||
    (codePoint >= 0x1d100 && codePoint <= 0x1d24f) ||
    (codePoint >= 0x1100 && codePoint <= 0x11ff) ||
    (codePoint >= 0xa960 && codePoint <= 0xa97f) ||
    (codePoint >= 0xd7b0 && codePoint <= 0xd7ff)
  );
}

function hex(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Checks a U-label against the IDNA 2008 derived property (RFC 5892 §2-3) and the CONTEXTO rules of
 * RFC 5892 Appendix A.3–A.9; the CONTEXTJ rules (ZWJ, ZWNJ) are tr46's `checkJoiners`. Code points
 * that NFKC would change never get here: the round trip through UTS #46 mapping refuses them.
 * Returns what is wrong, or `null`.
 */
function idna2008Problem(label: string): string | null {
  const chars = Array.from(label);
  for (let index = 0; index < chars.length; index++) {
    const char = chars[index] ?? '';
    const codePoint = char.codePointAt(0) ?? 0;
    if (char === '-' || PVALID_EXCEPTIONS.has(codePoint) || codePoint === 0x200c || codePoint === 0x200d) {
      continue;
    }
    const disallowed = `has ${hex(codePoint)} "${char}", which IDNA 2008 does not allow (RFC 5892)`;
    let context: boolean | null = null;
    switch (codePoint) {
      case 0xb7: // A.3 MIDDLE DOT: only between two "l" (Catalan "l·l").
        context = chars[index - 1] === 'l' && chars[index + 1] === 'l';
        break;
      case 0x375: // A.4 GREEK LOWER NUMERAL SIGN: followed by Greek.
        context = GREEK.test(chars[index + 1] ?? '');
        break;
      case 0x5f3: // A.5, A.6 HEBREW GERESH, GERSHAYIM: preceded by Hebrew.
      case 0x5f4:
        context = HEBREW.test(chars[index - 1] ?? '');
        break;
      case 0x30fb: // A.7 KATAKANA MIDDLE DOT: the label has Hiragana, Katakana or Han.
        context = KANA_OR_HAN.test(label.replace(/\u30fb/gu, ''));
        break;
      default:
        break;
    }
    if (context === false)
      return `has ${hex(codePoint)} "${char}" outside the context RFC 5892 Appendix A allows`;
    if (context === true) continue;
    if (DISALLOWED_EXCEPTIONS.has(codePoint) || isInDisallowedBlock(codePoint) || !LETTER_DIGIT.test(char)) {
      return disallowed;
    }
  }
  // A.8, A.9: Arabic-Indic and Extended Arabic-Indic digits must not be mixed in one label.
  if (ARABIC_INDIC_DIGITS.test(label) && EXTENDED_ARABIC_INDIC_DIGITS.test(label)) {
    return 'mixes Arabic-Indic and Extended Arabic-Indic digits (RFC 5892 Appendix A.8-A.9)';
  }
  return null;
}
