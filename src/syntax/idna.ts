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
    // RFC 5891 §4.2.3.1: a U-label must not have "--" in its third and fourth positions.
    if (uLabel !== aLabel && uLabel.startsWith('--', 2)) {
      return { label: index, message: `the label "${uLabel}" has "--" in its 3rd and 4th positions` };
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
