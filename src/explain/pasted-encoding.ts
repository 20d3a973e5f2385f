/**
 * A bounce's part pasted as its source shows it, still in its transfer encoding (RFC 2045 §6): text
 * still quoted-printable, or a base64 body part copied without its header. Pure.
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

/** A line of base64 (RFC 2045 §6.8): its alphabet, `=` padding only at the end. */
const BASE64_LINE = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Shortest base64 read as such: a word of letters (`Undeliverable`) is valid base64 too, so a paste is
 * base64 when it is longer than a word and mixes cases with digits, `+`, `/` or padding.
 */
const BASE64_MIN_CHARS = 24;

/** What binary data decoded from base64 is, by its first bytes (the files bounces carry). */
const MAGIC: readonly { readonly bytes: readonly number[]; readonly what: string }[] = [
  { bytes: [0x89, 0x50, 0x4e, 0x47], what: 'a PNG image' },
  { bytes: [0xff, 0xd8, 0xff], what: 'a JPEG image' },
  { bytes: [0x47, 0x49, 0x46, 0x38], what: 'a GIF image' },
  { bytes: [0x25, 0x50, 0x44, 0x46], what: 'a PDF document' },
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'a ZIP archive (or an Office document)' },
  { bytes: [0x1f, 0x8b], what: 'gzip-compressed data' },
  { bytes: [0xd0, 0xcf, 0x11, 0xe0], what: 'an Outlook .msg or old Office file' },
];

/** Characters that do not occur in text: C0 controls but tab, line ends and escape (ISO-2022-JP). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001a\u001c-\u001f\u007f]/g;

/** Share of control characters above which decoded bytes are data, not text. */
const BINARY_SHARE = 0.05;

export type Base64Paste =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'binary'; readonly bytes: number; readonly what: string | null };

/**
 * What `input` holds when it is base64 alone (a bounce's body part pasted without its header: its
 * lines of the base64 alphabet, every one but the last of the same length): its text, decoded as
 * UTF-8, or that it is binary data (with what kind when its first bytes say); `null` when it is not
 * base64.
 */
export function base64Paste(input: string): Base64Paste | null {
  const lines = input.trim().split(/\r?\n/);
  if (!lines.every((line) => BASE64_LINE.test(line))) return null;
  const width = lines[0]?.length ?? 0;
  if (!lines.every((line, at) => (at === lines.length - 1 ? line.length <= width : line.length === width))) {
    return null;
  }
  const joined = lines.join('');
  if (joined.length < BASE64_MIN_CHARS || joined.length % 4 !== 0 || /=[^=]/.test(joined)) return null;
  if (!/[a-z]/.test(joined) || !/[A-Z]/.test(joined) || !/[0-9+/=]/.test(joined)) return null;
  const bytes = Buffer.from(joined, 'base64');
  const magic = MAGIC.find((candidate) => candidate.bytes.every((byte, at) => bytes[at] === byte));
  if (magic !== undefined) return { kind: 'binary', bytes: bytes.length, what: magic.what };
  const text = bytes.toString('utf8');
  const sample = text.slice(0, 4096);
  const controls = sample.match(CONTROL)?.length ?? 0;
  if (sample.includes('\u0000') || controls > sample.length * BINARY_SHARE) {
    return { kind: 'binary', bytes: bytes.length, what: null };
  }
  return { kind: 'text', text };
}
