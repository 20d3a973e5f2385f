/**
 * `npm run bench:explain -- [dir]`: how well `explainReply()` (the classifier `verify` uses) reads real
 * server replies, on a labelled corpus. `dir` (default `../shared/corpora` beside the repository root)
 * holds `replies/cases.jsonl` (one labelled reply per line: `reply`, `command`, `sisimai_reason`) and
 * `replies/mapping.json` (what a verifier should conclude from each label, judged for replies to RCPT
 * TO). The corpus is a benchmark, not a fixture: nothing in src/ or test/ is derived from its lines.
 *
 * Figures, over the replies answered to RCPT or to an unstated command:
 * - agreement: the verdict equals the mapping's `primary` verdict (labels the mapping calls ambiguous
 *   or excluded are not scored);
 * - protected replies called undeliverable: sender, policy, spam, reputation, authentication and rate
 *   refusals (mapping group `protected`) that explain calls `undeliverable` (the goal is 0);
 * - the 4-way figure: the verdict is one of the mapping's `acceptable` verdicts.
 *
 * With `bounces/` beside `replies/` (629 real bounce messages and `bounces/labels.jsonl`, one label per
 * recipient), the bounce figures of explainBounce() too (bench/explain-bounces.ts): recipients found,
 * and the share whose reason group is right.
 *
 * Options: `--verbose` lists every disagreement and every bounce miss (the reply or diagnostic, the
 * label, rcpt's category, group and the rule that decided); `--misses` lists the bounce misses grouped
 * by why they stay misses (the notes of MISS_NOTES); `--misses-out <file>` writes every reply
 * disagreement and bounce miss to `file` as NDJSON; `--json` prints the figures as one JSON object; `--mbox-memory` also measures the peak RSS of `rcpt explain` on a 259 MB mbox of 10,000
 * bounces.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { explainReply, type ExplainCommand, type Verdict } from '../src/index.js';
import {
  MISS_NOTES,
  benchBounces,
  benchMboxMemory,
  bounceFigureLines,
  printMboxMemory,
} from './explain-bounces.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const misses = args.includes('--misses');
const asJson = args.includes('--json');
/** `--misses-out <file>`: every reply disagreement and bounce miss as NDJSON, one object a line. */
const missesOutAt = args.indexOf('--misses-out');
const missesOut = missesOutAt === -1 ? null : (args[missesOutAt + 1] ?? null);
/** `../shared/corpora` beside the checkout; from a worktree one level deeper, `../../shared/corpora`. */
const DEFAULT_CORPORA = ['../shared/corpora', '../../shared/corpora'].map((path) => resolve(root, path));
/** The folder: the first argument that is no flag and not the file name `--misses-out` takes. */
const given = args.find(
  (arg, index) => !arg.startsWith('--') && (missesOutAt === -1 || index !== missesOutAt + 1),
);
/**
 * A relative folder is read from the current directory, else (a worktree one level deeper than the
 * checkout it was made from, where `../shared/corpora` names the same folder) from the folder above.
 */
const dir =
  given === undefined
    ? (DEFAULT_CORPORA.find((path) => existsSync(join(path, 'replies'))) ??
      resolve(root, '../shared/corpora'))
    : ([resolve(given), resolve(root, '..', given)].find((path) => existsSync(join(path, 'replies'))) ??
      resolve(given));

interface Case {
  readonly reply: string;
  readonly command: string | null;
  readonly sisimai_reason: string;
  readonly source: string;
  readonly sources?: readonly { readonly source: string }[];
}

/**
 * The corpus names the answering provider of its `rhost-<provider>-NN.eml` samples (the remote side is
 * that provider). `verify` always knows which provider's MX it talks to; with `--provider` or a
 * bounce's Remote-MTA, `explain` does too. Corpus names → rcpt provider ids, where rcpt has the provider.
 */
const RHOST_PROVIDERS: Readonly<Record<string, string>> = {
  google: 'google',
  gsuite: 'google',
  microsoft: 'microsoft365',
  outlook: 'outlook',
  yahooinc: 'yahoo',
  apple: 'apple',
  mimecast: 'mimecast',
  zoho: 'zoho',
  yandex: 'yandex',
  gmx: 'gmx',
  nttdocomo: 'docomo',
};

function answeringProvider(entry: Case): string | null {
  for (const { source } of entry.sources ?? [{ source: entry.source }]) {
    const name = /rhost-([a-z0-9]+)-\d+\.eml$/.exec(source)?.[1];
    if (name !== undefined && RHOST_PROVIDERS[name] !== undefined) return RHOST_PROVIDERS[name];
  }
  return null;
}

/** Which half of the corpus a sample is in: its number `NN` (`lhost-postfix-NN.eml`), even or odd. */
export function halfOf(file: string): 'even' | 'odd' {
  const number = Number(/-(\d+)\.eml$/.exec(file)?.[1] ?? '0');
  return number % 2 === 0 ? 'even' : 'odd';
}

interface HalfFigures {
  scored: number;
  agreeing: number;
}

interface Mapping {
  readonly group: string;
  readonly primary: Verdict | null;
  readonly acceptable: readonly Verdict[];
}

export interface ReplyFigures {
  /** Replies answered to RCPT or an unstated command. */
  readonly replies: number;
  /** Of those, the ones the mapping scores (not ambiguous, not excluded). */
  readonly scored: number;
  readonly agreeing: number;
  readonly agreement: number;
  readonly acceptable: number;
  readonly protectedReplies: number;
  readonly protectedUndeliverable: number;
  /** The same agreement when the answering provider is known (the `rhost-*` samples name it). */
  readonly withProvider: { readonly agreeing: number; readonly protectedUndeliverable: number };
  /** Agreement on the samples numbered even and odd (a held-out check: see docs/explain.md). */
  readonly halves: { readonly even: HalfFigures; readonly odd: HalfFigures };
  readonly disagreements: readonly string[];
  /** The same disagreements as data, for `--misses-out`. */
  readonly replyMisses: readonly ReplyMiss[];
}

/** One reply whose verdict differs from the mapping's (or a protected reply called undeliverable). */
export interface ReplyMiss {
  readonly reply: string;
  readonly command: string | null;
  readonly label: string;
  readonly labelGroup: string;
  readonly expected: string;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly category: string;
  readonly rule: string;
  /** The answering provider the sample names, and the verdict with it known. */
  readonly provider: string | null;
  readonly verdictWithProvider: Verdict;
  readonly source: string;
}

function commandOf(command: string | null): ExplainCommand | null {
  return command === 'RCPT' ? 'RCPT' : null;
}

/** The reply figures of the corpus in `corpora` (see the header). */
export function runReplyBench(corpora: string): ReplyFigures {
  const folder = join(corpora, 'replies');
  const mapping = JSON.parse(readFileSync(join(folder, 'mapping.json'), 'utf8')) as Record<string, Mapping>;
  const cases = readFileSync(join(folder, 'cases.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Case);
  let replies = 0;
  let scored = 0;
  let agreeing = 0;
  let acceptable = 0;
  let protectedReplies = 0;
  let protectedUndeliverable = 0;
  let providerAgreeing = 0;
  let providerProtectedUndeliverable = 0;
  const halves = { even: { scored: 0, agreeing: 0 }, odd: { scored: 0, agreeing: 0 } };
  const disagreements: string[] = [];
  const replyMisses: ReplyMiss[] = [];
  for (const entry of cases) {
    if (entry.command !== null && entry.command !== 'RCPT') continue;
    const expected = mapping[entry.sisimai_reason];
    if (expected === undefined) throw new Error(`mapping.json has no entry for ${entry.sisimai_reason}`);
    replies += 1;
    const [explanation] = explainReply(entry.reply, { command: commandOf(entry.command) });
    if (explanation === undefined) throw new Error(`no explanation for ${entry.reply}`);
    const verdict = explanation.verdict;
    const provider = answeringProvider(entry);
    const withProvider =
      provider === null
        ? verdict
        : (explainReply(entry.reply, { command: commandOf(entry.command), provider })[0]?.verdict ?? verdict);
    if (expected.group === 'protected' && withProvider === 'undeliverable')
      providerProtectedUndeliverable += 1;
    if (expected.primary !== null && withProvider === expected.primary) providerAgreeing += 1;
    if (expected.primary !== null) {
      const half = halves[halfOf(entry.source)];
      half.scored += 1;
      if (verdict === expected.primary) half.agreeing += 1;
    }
    const miss: ReplyMiss = {
      reply: entry.reply,
      command: entry.command,
      label: entry.sisimai_reason,
      labelGroup: expected.group,
      expected: expected.primary ?? expected.acceptable.join('|'),
      verdict,
      reason: explanation.reason,
      category: explanation.category,
      rule: explanation.rule.id,
      provider,
      verdictWithProvider: withProvider,
      source: entry.source,
    };
    const line = `${entry.sisimai_reason} → expected ${expected.primary ?? expected.acceptable.join('|')}, got ${verdict}/${explanation.reason} (${explanation.rule.id}): ${entry.reply.slice(0, 160)}`;
    if (expected.group === 'protected') {
      protectedReplies += 1;
      if (verdict === 'undeliverable') {
        protectedUndeliverable += 1;
        disagreements.push(`PROTECTED ${line}`);
        replyMisses.push(miss);
      }
    }
    if (expected.primary === null) continue;
    scored += 1;
    if (expected.acceptable.includes(verdict)) acceptable += 1;
    if (verdict === expected.primary) agreeing += 1;
    else if (expected.group !== 'protected' || verdict !== 'undeliverable') {
      replyMisses.push(miss);
      const note = MISS_NOTES[entry.source.split('/').pop() ?? ''];
      const context =
        provider !== null && withProvider === expected.primary
          ? `\n      note: with the answering provider known (${provider}), ${withProvider}`
          : '';
      disagreements.push(
        `${line}${note === undefined ? '' : `\n      note (${note.kind}): ${note.note}`}${context}`,
      );
    }
  }
  return {
    replies,
    scored,
    agreeing,
    agreement: scored === 0 ? 0 : agreeing / scored,
    acceptable,
    protectedReplies,
    protectedUndeliverable,
    withProvider: { agreeing: providerAgreeing, protectedUndeliverable: providerProtectedUndeliverable },
    halves,
    disagreements,
    replyMisses,
  };
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

function halfLine(half: { readonly scored: number; readonly agreeing: number }): string {
  return `${percent(half.scored === 0 ? 0 : half.agreeing / half.scored)} (${half.agreeing} of ${half.scored})`;
}

async function main(): Promise<void> {
  if (!existsSync(join(dir, 'replies', 'cases.jsonl'))) {
    process.stderr.write(
      `bench:explain: no corpus at ${dir} (expected replies/cases.jsonl and replies/mapping.json); pass its folder as the argument.\n`,
    );
    process.exitCode = 2;
    return;
  }
  const date = new Date().toISOString().slice(0, 10);
  const replies = runReplyBench(dir);
  const bounces = await benchBounces(dir);
  if (missesOutAt !== -1) {
    if (missesOut === null) throw new Error('--misses-out needs a file name');
    const lines = [
      ...replies.replyMisses.map((miss) => ({ kind: 'reply', ...miss })),
      ...(bounces?.misses ?? []).map((miss) => ({
        kind: 'bounce',
        file: miss.file,
        scored: miss.scored,
        ...miss.detail,
        noteKind: miss.kind,
        note: miss.note,
      })),
    ];
    writeFileSync(missesOut, lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    process.stderr.write(`bench:explain: ${lines.length} misses written to ${missesOut}\n`);
  }
  if (asJson) {
    const figures = Object.fromEntries(
      Object.entries(replies).filter(([key]) => key !== 'disagreements' && key !== 'replyMisses'),
    );
    const bounceFigures =
      bounces === null
        ? null
        : Object.fromEntries(Object.entries(bounces).filter(([key]) => key !== 'misses'));
    process.stdout.write(
      `${JSON.stringify({ date, commit: commit(), corpus: dir, replies: figures, bounces: bounceFigures })}\n`,
    );
    return;
  }
  const out = [
    `bench:explain  ${date}  commit ${commit()}  corpus ${dir}`,
    '',
    `replies answered to RCPT or an unstated command: ${replies.replies}`,
    `  agreement with mapping.json:            ${percent(replies.agreement)} (${replies.agreeing} of ${replies.scored} scored)`,
    `  verdict among the acceptable ones:      ${percent(replies.scored === 0 ? 0 : replies.acceptable / replies.scored)} (${replies.acceptable} of ${replies.scored})`,
    `  protected replies called undeliverable: ${replies.protectedUndeliverable} of ${replies.protectedReplies}`,
    `  with the answering provider known:     ${percent(replies.scored === 0 ? 0 : replies.withProvider.agreeing / replies.scored)} (${replies.withProvider.agreeing} of ${replies.scored}; ${replies.withProvider.protectedUndeliverable} protected called undeliverable)`,
    `  by sample number, even / odd:           ${halfLine(replies.halves.even)} / ${halfLine(replies.halves.odd)}`,
  ];
  if (verbose && replies.disagreements.length > 0)
    out.push('', ...replies.disagreements.map((d) => `  ${d}`));
  out.push(
    '',
    ...(bounces === null
      ? [`bounces: no ${join(dir, 'bounces', 'labels.jsonl')}; skipped`]
      : bounceFigureLines(bounces, misses ? 'grouped' : verbose)),
  );
  process.stdout.write(`${out.join('\n')}\n`);
  if (args.includes('--mbox-memory')) printMboxMemory(await benchMboxMemory());
}

await main();
