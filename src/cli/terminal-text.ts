/**
 * Text for a terminal. Text from outside (addresses from a list, server replies, file names) made safe:
 * control characters would move the cursor, clear the screen or break a table's rows (a CR or LF in
 * an address), and bidirectional overrides would reorder what is shown (CVE-2021-42574's trick).
 * Each is shown as an escape instead: `\r`, `\n`, `\t`, `\x1b`, `\u202e`.
 */

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * C0 controls, DEL, C1 controls, the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
 * U+2066–U+2069), and lone surrogates.
 */
const UNSAFE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` with every control character escaped, so it is shown as one line and moves nothing.
 *
 * @example
 * escapeControl('bob@x.test\r\n\u001b[2J') // 'bob@x.test\\r\\n\\x1b[2J'
 */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const named = NAMED[char];
    if (named !== undefined) return named;
    const code = char.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * A multi-line message with each line made safe (for errors that are meant to span lines, such as
 * commander's hint after a usage error).
 */
export function escapeLines(text: string): string {
  return text.split('\n').map(escapeControl).join('\n');
}

/**
 * Greedy word wrap of `text` to `width` columns, continuation lines indented by `indent` (the first
 * line's indent is the caller's). Runs of white space between words become one space.
 *
 * @example
 * wrap('the quick brown fox', 12, '  ') // 'the quick\n  brown fox'
 */
export function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/)) {
    if (word === '') continue;
    if (current !== '' && indent.length + current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  if (current !== '') lines.push(current);
  return lines.join(`\n${indent}`);
}
