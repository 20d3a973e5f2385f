/**
 * The RFC 3463 enhanced status code of a reply, wherever the server put it. A pure module.
 */

/** RFC 3463 §2: `class "." subject "." detail`, subject and detail 1–3 digits. */
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})$/;

/**
 * An enhanced code inside the text, when the server did not put it first: Barracuda
 * `cuda_nsu 5.1.1 <x>... User unknown`, IronPort `#5.1.0 Address rejected.`, qmail
 * `no mailbox here by that name. (#5.1.1)`. Digits or dots around it (an IP address, `4.16.55.1` in
 * Yahoo's texts) disqualify it.
 */
const ENHANCED_IN_TEXT = /(?<![\d.])#?([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/;

/** An enhanced code split into its parts. */
export interface EnhancedCode {
  readonly class: 2 | 4 | 5;
  readonly subject: number;
  readonly detail: number;
  /** `subject.detail`, the form `ReplyRule.enhanced` is matched against (`1.1` for `5.1.1`). */
  readonly subjectDetail: string;
}

function build(match: RegExpExecArray | null, replyClass: number): EnhancedCode | null {
  if (match === null) return null;
  const [, classDigit = '', subject = '', detail = ''] = match;
  if (Number(classDigit) !== replyClass) return null;
  return {
    class: Number(classDigit) as 2 | 4 | 5,
    subject: Number(subject),
    detail: Number(detail),
    subjectDetail: `${Number(subject)}.${Number(detail)}`,
  };
}

/**
 * Enhanced fields parsed so far, by field: a run's replies carry a handful (`2.1.5`, `5.1.1`), parsed
 * once each instead of once per reply. Bounded: cleared when full; a field longer than any code (read
 * back from stored JSON) is parsed without being kept.
 */
const parsedFields = new Map<string, EnhancedCode | null>();
const MAX_PARSED_FIELDS = 1_024;
const MAX_FIELD_CHARS = 16;

/** The enhanced code a reply's `enhanced` field holds, of its own class (checked against the reply's by the caller). */
function parsedField(enhanced: string): EnhancedCode | null {
  if (enhanced.length > MAX_FIELD_CHARS) return parseField(enhanced);
  let parsed = parsedFields.get(enhanced);
  if (parsed === undefined) {
    parsed = parseField(enhanced);
    if (parsedFields.size >= MAX_PARSED_FIELDS) parsedFields.clear();
    parsedFields.set(enhanced, parsed);
  }
  return parsed;
}

function parseField(enhanced: string): EnhancedCode | null {
  const match = ENHANCED.exec(enhanced.trim());
  return match === null ? null : build(match, Number(match[1]));
}

/**
 * The enhanced code of a reply: the parsed `enhanced` field when it is well-formed, else the first code
 * found in the first line of the text. Either way its class must be the reply code's first digit
 * (RFC 3463 §2: "the class … MUST match the class of the reply code"); a code that disagrees is ignored,
 * so a 4xx can never borrow a 5.x.x meaning. Total: returns `null` rather than throwing.
 *
 * @example effectiveEnhancedCode({ code: 550, enhanced: null, text: 'cuda_nsu 5.1.1 <a@b>... User unknown' })
 * // { class: 5, subject: 1, detail: 1, subjectDetail: '1.1' }
 */
export function effectiveEnhancedCode(reply: {
  readonly code: number;
  readonly enhanced: string | null;
  readonly text: string;
}): EnhancedCode | null {
  const classDigit = Math.floor(reply.code / 100);
  const field = reply.enhanced === null ? null : parsedField(reply.enhanced);
  if (field !== null && field.class === classDigit) return field;
  const firstLine = (reply.text.split('\n', 1)[0] ?? '').slice(0, 512);
  return build(ENHANCED_IN_TEXT.exec(firstLine), classDigit);
}
