/**
 * A bounce's part pasted as its source shows it, still in its transfer encoding (RFC 2045 §6): text
 * still quoted-printable. Pure.
 */

/** A line cut by quoted-printable's soft line break (RFC 2045 §6.7 rule 5): `=` ends it, text follows. */
const SOFT_BREAK = /[^=\s]=\r?\n(?=\S)/g;

/**
 * The length of a line a quoted-printable encoder cut: RFC 2045 §6.7 rule 5 allows 76 characters with
 * the `=`, and encoders fill a line to it, ending it up to 3 characters early when an `=XX` escape
 * would not fit.
 */
const CUT_LINE_MIN = 73;
const CUT_LINE_MAX = 76;

/** A reply line (`550 …`, `550-…`): what follows a reply of its own ending in `=`, not a cut. */
const REPLY_LINE = /^[2-5]\d\d(?:[ -]|$)/;

/** Input looked at to decide; what a bounce's text holds is in its first KiB. */
const SAMPLE_CHARS = 65536;

/**
 * `input` with quoted-printable's soft line breaks joined and its printable ASCII `=XX` decoded, when
 * it reads as quoted-printable (`… <bob@example.o=` then `rg>: Recipient address rejected …`), so a
 * reply reads as sent; else `input` itself. Two soft breaks, or one that ends a line of the length an
 * encoder cuts at (73 to 76 characters) before a line that is no reply of its own: a reply may end a
 * line with a `=` of its own (`see https://example.com/?id=`).
 */
export function softBreaksJoined(input: string): string {
  const sample = input.slice(0, SAMPLE_CHARS);
  if (!sample.includes('=\n') && !sample.includes('=\r\n')) return input;
  if ((sample.match(SOFT_BREAK)?.length ?? 0) < 2 && !hasEncoderCut(sample)) return input;
  return input
    .replace(/=\r?\n/g, '')
    .replace(/=([2-7][0-9A-F])/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

function hasEncoderCut(sample: string): boolean {
  const lines = sample.split('\n').map((line) => line.replace(/\r$/, ''));
  return lines.some((line, at) => {
    const next = lines[at + 1] ?? '';
    return (
      line.length >= CUT_LINE_MIN &&
      line.length <= CUT_LINE_MAX &&
      /[^=]=$/.test(line) &&
      next.trim() !== '' &&
      !REPLY_LINE.test(next)
    );
  });
}
