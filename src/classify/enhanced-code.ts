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
  const fromField = reply.enhanced === null ? null : build(ENHANCED.exec(reply.enhanced.trim()), classDigit);
  if (fromField !== null) return fromField;
  const firstLine = (reply.text.split('\n', 1)[0] ?? '').slice(0, 512);
  return build(ENHANCED_IN_TEXT.exec(firstLine), classDigit);
}
