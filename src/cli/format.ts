/** Human-readable output for results: a table that fits a terminal, and a summary line. */
import { styleText } from 'node:util';

import { VERDICTS, type Verdict, type VerifyResult } from '../index.js';
import { escapeControl } from './terminal-text.js';

const VERDICT_COLOURS = {
  deliverable: 'green',
  undeliverable: 'red',
  risky: 'yellow',
  unknown: 'gray',
} as const satisfies Record<Verdict, string>;

export interface FormatOptions {
  readonly colour: boolean;
}

/** `count` and the word for it: '1 row', '2 rows', '1,000 distinct addresses'. */
export function plural(count: number, word: string, words = `${word}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? word : words}`;
}

function paint(colour: boolean, style: Parameters<typeof styleText>[0], text: string): string {
  return colour ? styleText(style, text) : text;
}

/** One line of evidence: the server's reply, the DNS fact, the syntax error or the typo suggestion. */
export function describeEvidence(result: VerifyResult): string {
  const parts: string[] = [];
  if (result.syntax.error !== null) parts.push(result.syntax.error.message);
  if (result.smtp?.reply) {
    const { code, enhanced, text } = result.smtp.reply;
    const firstLine = text.split('\n')[0] ?? '';
    parts.push(`${result.smtp.host ?? '?'}: ${code}${enhanced ? ` ${enhanced}` : ''} ${firstLine}`.trim());
  } else if (result.dns?.error) {
    parts.push(`DNS ${result.dns.error}`);
  } else if (result.dns?.nullMx) {
    parts.push('null MX (RFC 7505)');
  } else {
    const unreplied = withoutReply(result);
    if (unreplied !== null) parts.push(unreplied);
  }
  if (result.smtp?.proxy != null) parts.push(`via ${result.smtp.proxy}`);
  if (result.flags.role) parts.push('role address');
  if (result.retryAt !== null) parts.push(`retry after ${result.retryAt}`);
  if (result.suggestion !== null) parts.push(`did you mean ${result.suggestion}?`);
  return parts.join('; ');
}

/**
 * What a verdict reached without a server's reply rests on, with what to do where a flag decides it;
 * `null` for the others (their reason says it all, or their evidence is above).
 */
function withoutReply(result: VerifyResult): string | null {
  const hosts = result.dns?.mx?.map((mx) => mx.exchange).join(', ') || (result.syntax.domain ?? '?');
  switch (result.reason) {
    case 'target_not_allowed':
      // Loopback, private and reserved ranges alike: short, so the flag fits a table's width.
      return `${hosts}: a private address; --allow-private-targets probes it`;
    case 'connection_failed':
      return `no connection to ${hosts}${result.smtp === null ? '' : ` on port ${result.smtp.port}`}`;
    case 'no_mail_server':
      return 'no MX, A or AAAA record';
    default:
      return null;
  }
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Formats results as an aligned table. */
export function formatTable(results: readonly VerifyResult[], options: FormatOptions, width = 120): string {
  // Addresses and replies come from outside: a CR, LF or escape sequence in one must not break the
  // table or reach the terminal.
  const rows = results.map(
    (result) =>
      [
        escapeControl(result.input),
        result.verdict,
        result.reason,
        escapeControl(describeEvidence(result)),
      ] as const,
  );
  const headers = ['ADDRESS', 'VERDICT', 'REASON', 'EVIDENCE'] as const;
  const widths = [0, 1, 2].map((column) =>
    Math.min(40, Math.max(headers[column]?.length ?? 0, ...rows.map((row) => row[column]?.length ?? 0))),
  );
  const [w0 = 0, w1 = 0, w2 = 0] = widths;
  const evidenceWidth = Math.max(20, width - w0 - w1 - w2 - 6);
  const lines = [
    paint(
      options.colour,
      'bold',
      `${headers[0].padEnd(w0)}  ${headers[1].padEnd(w1)}  ${headers[2].padEnd(w2)}  ${headers[3]}`,
    ),
  ];
  for (const [row, result] of rows.map((row, index) => [row, results[index]] as const)) {
    if (result === undefined) continue;
    const verdict = paint(options.colour, VERDICT_COLOURS[result.verdict], row[1].padEnd(w1));
    lines.push(
      `${truncate(row[0], w0).padEnd(w0)}  ${verdict}  ${row[2].padEnd(w2)}  ${truncate(row[3], evidenceWidth)}`.trimEnd(),
    );
  }
  return lines.join('\n');
}

/** "20 addresses: 5 deliverable, 6 undeliverable, 4 risky, 5 unknown". */
export function formatSummary(results: readonly VerifyResult[]): string {
  const counts = VERDICTS.map(
    (verdict) => `${results.filter((r) => r.verdict === verdict).length} ${verdict}`,
  );
  return `${results.length} address${results.length === 1 ? '' : 'es'}: ${counts.join(', ')}`;
}

/**
 * The SMTP transcripts kept (`--transcript`), one block per address that has one, each line as sent
 * (`>`) or received (`<`) with its time; `''` when none was kept.
 */
export function formatTranscripts(results: readonly VerifyResult[]): string {
  const blocks: string[] = [];
  for (const result of results) {
    const transcript = result.smtp?.transcript;
    if (transcript === null || transcript === undefined || transcript.length === 0) continue;
    const where = [result.smtp?.host, result.smtp?.ip].filter((part) => part != null).join(' ');
    blocks.push(
      [
        `Transcript of ${escapeControl(result.input)}${where === '' ? '' : ` (${escapeControl(where)})`}:`,
        ...transcript.map(
          (entry) =>
            `  ${String(Math.round(entry.ms)).padStart(6)} ms ${entry.dir} ${escapeControl(entry.line)}`,
        ),
      ].join('\n'),
    );
  }
  return blocks.join('\n\n');
}
