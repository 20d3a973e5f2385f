/**
 * `rcpt explain <reply|->`: what an SMTP reply (or every reply of a pasted transcript) means, whose side
 * it is on and what to do, by the classifier `verify` uses. A thin wrapper over `explainReply()`: the
 * argument (or standard input with `-`) in, a readable report or one JSON object per reply out.
 *
 * Exit status (main.ts): 0 when at least one reply was explained, 1 when the input held none (empty,
 * binary, no reply code: the answer says which), 64 on a usage error.
 */
import { stat } from 'node:fs/promises';
import { styleText } from 'node:util';

import { Option, type Command } from 'commander';

import {
  EXPLAIN_COMMANDS,
  explainBounceText,
  explainReply,
  looksLikeMessage,
  type ExplainCommand,
  type ReplyExplanation,
} from '../index.js';
import {
  explainInput,
  explainMessageBytes,
  printBounce,
  refuseOutputForOne,
  type BounceFlags,
} from './explain-bounces.js';
import { useColour, type CliIo } from './run-verify.js';
import { UsageError, oneOf } from './common-options.js';
import { escapeControl, wrap } from './terminal-text.js';
import { errorCode } from './bulk-output.js';

export interface ExplainFlags extends BounceFlags {
  command?: string;
  provider?: string;
  json?: boolean;
}

const VERDICT_STYLE = {
  deliverable: 'green',
  undeliverable: 'red',
  risky: 'yellow',
  unknown: 'cyan',
} as const;

/** Adds the explain verb's flags to its command. */
export function addExplainOptions(command: Command): Command {
  return command
    .argument(
      '<reply>',
      'an SMTP reply or transcript (quote it), a file holding one, a bounce message (.eml), a directory of .eml files, an mbox, or - for stdin',
    )
    .description(
      'explain an SMTP reply or a bounce: what it says about the address, whose side it is on, what to do; a directory or an mbox becomes a suppression list',
    )
    .addOption(
      new Option(
        '--command <name>',
        'the command the reply answered, when the input does not say (default: RCPT)',
      )
        .choices(EXPLAIN_COMMANDS)
        .argParser(oneOf(EXPLAIN_COMMANDS)),
    )
    .addOption(
      new Option(
        '--provider <id|host>',
        'the provider or MX host that sent the reply (google, outlook, mx1.hotmail.com …)',
      ),
    )
    .option('--json', 'one JSON object per reply (or per bounce message)')
    .option('--format <format>', 'suppression list format for a directory or an mbox: csv or ndjson', 'csv')
    .option('-o, --output <file>', 'write the suppression list here instead of stdout (-)');
}

/**
 * True when a word that is no reply reads as a file name: one word with a path separator or a mail
 * file's extension (`bounces/`, `./bounce.eml`, `inbox.mbox`), not a reply's text.
 */
function looksLikeFileName(argument: string): boolean {
  return !/\s/.test(argument) && (argument.includes('/') || /\.(?:eml|mbox|msg|txt|log)$/i.test(argument));
}

/**
 * True when `argument` names an existing file or directory (and so is not a reply typed inline), or
 * a path that exists but cannot be looked at (EACCES), which the bounce side then reports.
 */
async function isPath(argument: string): Promise<boolean> {
  if (argument.includes('\n') || /^[2-5]\d\d(?:[ -]|$)/.test(argument)) return false;
  try {
    await stat(argument);
    return true;
  } catch (error) {
    return errorCode(error) === 'EACCES';
  }
}

function explainText(text: string, flags: ExplainFlags): ReplyExplanation[] {
  return explainReply(text, {
    command: (flags.command ?? null) as ExplainCommand | null,
    provider: flags.provider ?? null,
  });
}

function words(id: string): string {
  return id.replaceAll('_', ' ');
}

/** The explanations as a report: per reply, its verdict, what it means, what to do, and the rule. */
export function formatExplanations(
  explanations: readonly ReplyExplanation[],
  options: { readonly colour: boolean; readonly width: number },
): string {
  const paint = (style: Parameters<typeof styleText>[0], text: string) =>
    options.colour ? styleText(style, text) : text;
  const width = Math.max(60, Math.min(options.width, 120));
  const label = (name: string) => `  ${name.padEnd(10)}`;
  const indent = ' '.repeat(12);
  const out: string[] = [];
  const count = explanations.filter((e) => e.category !== 'not_a_reply').length;
  out.push(`rcpt explain: ${count} repl${count === 1 ? 'y' : 'ies'}`);
  for (const e of explanations) {
    out.push('');
    if (e.category === 'not_a_reply') {
      out.push(`${paint('red', 'NOT A REPLY')}  ${wrap(e.meaning, width, '             ')}`);
      if (e.reply.text !== '')
        out.push(`${label('input')}${wrap(JSON.stringify(e.reply.text), width, indent)}`);
      out.push(`${indent}${paint('bold', wrap(`→ ${e.action.advice}`, width, `${indent}  `))}`);
      continue;
    }
    const codes = [e.reply.code, e.reply.enhanced].filter((part) => part !== null).join(' ');
    const answered =
      e.reply.command === null ? 'command not stated (read as RCPT)' : `answer to ${e.reply.command}`;
    const verdict = paint(VERDICT_STYLE[e.verdict], e.verdict.toUpperCase());
    out.push(`${paint('bold', codes)}  ${answered}  ${verdict}  ${e.reason}`);
    const firstLines = e.reply.text.split('\n').slice(0, 4).join(' ');
    out.push(`${label('reply')}${paint('gray', wrap(firstLines.slice(0, 600), width, indent))}`);
    const side = e.side === null ? '' : `${e.side} side, `;
    out.push(`${label('category')}${words(e.category)} (${side}${e.permanence ?? 'no code'})`);
    out.push(`${label('means')}${wrap(e.meaning, width, indent)}`);
    out.push(`${indent}${paint('bold', wrap(`→ ${e.action.advice}`, width, `${indent}  `))}`);
    if (e.note !== null) out.push(`${label('note')}${wrap(e.note, width, indent)}`);
    if (e.action.url !== null && e.action.url !== e.rule.url) out.push(`${indent}  ${e.action.url}`);
    const provider = e.provider === null ? '' : ` · provider ${e.provider}`;
    out.push(
      `${label('rule')}${paint('gray', wrap(`${e.rule.id}${provider} · ${e.rule.source}`, width, indent))}`,
    );
    if (e.rule.url !== null) out.push(`${indent}${paint('gray', e.rule.url)}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * Runs the verb: reads the reply (inline, a file, or stdin), explains it and prints. Returns the
 * explanations, main.ts exiting 1 when none of them is a reply; or `message` when the input was a
 * bounce message, a directory or an mbox (`unreadable` for a message whose MIME could not be read).
 */
export async function runExplain(
  argument: string,
  flags: ExplainFlags,
  io: CliIo,
): Promise<readonly ReplyExplanation[] | 'message' | 'unreadable'> {
  let explanations: ReplyExplanation[];
  let text: string;
  let source: string;
  if (argument === '-' || (await isPath(argument))) {
    // The dispatch point: a bounce message, a directory of them or an mbox goes to the bounce side;
    // anything else comes back as text, a reply or a transcript.
    const outcome = await explainInput(argument, flags, io);
    if (outcome.handled) return outcome.readable ? 'message' : 'unreadable';
    text = outcome.text;
    source = argument === '-' ? 'stdin' : argument;
    explanations = explainText(text, flags);
  } else {
    text = argument;
    source = 'the argument';
    // A whole message pasted as the argument (`rcpt explain "$(cat bounce.eml)"`) is read as a file of
    // it would be: by the bounce side.
    if (looksLikeMessage(text)) {
      const explained = await explainMessageBytes(Buffer.from(text), source, flags, io);
      return explained.kind === 'unreadable' ? 'unreadable' : 'message';
    }
    explanations = explainText(text, flags);
    // A mistyped file name reads as text without a reply code: say that no such file exists instead.
    if (explanations.every((e) => e.category === 'not_a_reply') && looksLikeFileName(argument)) {
      throw new UsageError(`no such file: ${argument}`);
    }
  }
  if (explanations.every((e) => e.reply.code === null)) {
    // No reply starts a line: the text of a bounce copied from a mail client (Exchange's `Remote Server
    // returned '550 …'`, Gmail's `The error that the other server returned was: 550 …`) is read by the
    // bounce side's rules for bounce text, as the body of a message (before an enhanced code alone is
    // read by its class: the bounce names the recipient too).
    const bounce = await explainBounceText(text);
    if (bounce !== null) {
      refuseOutputForOne(flags);
      printBounce(bounce, source, flags, io);
      return 'message';
    }
  }
  refuseOutputForOne(flags);
  if (flags.provider !== undefined && explanations.every((e) => e.provider === null)) {
    // A provider rcpt does not know (`hotmail`, a typo) would silently change nothing: say so.
    io.stderr.write(
      `rcpt: warning: --provider ${escapeControl(flags.provider)} names no provider rcpt knows (an id such as google, outlook, microsoft365 or yahoo, or an MX host name such as mx1.hotmail.com): the reply is read without provider rules\n`,
    );
  }
  if (flags.json === true) {
    for (const explanation of explanations) io.stdout.write(`${JSON.stringify(explanation)}\n`);
  } else {
    io.stdout.write(
      formatExplanations(explanations, { colour: useColour(io), width: io.stdout.columns ?? 100 }),
    );
  }
  return explanations;
}
