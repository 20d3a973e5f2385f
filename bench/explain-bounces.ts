/**
 * The bounce half of `npm run bench:explain`: explainBounce() on a folder of real bounce messages,
 * scored against per-recipient labels from an independent bounce analyser.
 *
 * The folder holds `*.eml` and `labels.jsonl` (one object per labelled recipient: `file`,
 * `recipient`, `reason` as Sisimai names reasons); `mapping.json` (Sisimai reason → reason group) is
 * read from the folder or from `../replies/` beside it. Printed: recipients found (by address), and
 * the share whose reason group is right. Groups: recipient_gone, recipient_disabled, mailbox_full,
 * domain_gone, protected (sender, policy, spam, rate), transient (expired, network, server), not_rcpt
 * (size, content, virus); `ambiguous` labels (filtered, onhold) count for "found" but not for the group;
 * `feedback`, `vacation` and `delivered` labels are right when the message's kind is
 * feedback_report, auto_reply and delivery_report.
 *
 * With `--mbox-memory`, also the peak RSS of `rcpt explain` on a 260 MB mbox of 10,000 bounces.
 *
 * Usage: node --import tsx bench/explain-bounces.ts [dir] [--misses] [--mbox-memory]
 */
import { spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { explainBounce, type BounceExplanation, type BounceRecipient } from '../src/index.js';

interface Label {
  readonly file: string;
  readonly recipient: string;
  readonly reason: string;
}

/**
 * explainReply's categories → the reason groups of mapping.json. `mailbox_unavailable` (RFC 5321's
 * ambiguous text), `unrecognised` and `not_a_reply` belong to no group: they never count as right. A
 * group is what the reply says about the address, not the verdict: `mailbox_unknown_temporary` (a 450
 * naming the recipient unknown) says the mailbox does not exist, though for now, so its verdict stays
 * unknown (scored in the replies' figure) and its group is the missing mailbox's.
 */
export const CATEGORY_GROUPS: Readonly<Record<string, string>> = {
  mailbox_unknown: 'recipient_gone',
  mailbox_unknown_temporary: 'recipient_gone',
  mailbox_moved: 'recipient_gone',
  recipient_syntax: 'recipient_gone',
  mailbox_disabled: 'recipient_disabled',
  mailbox_full: 'mailbox_full',
  domain_unknown: 'domain_gone',
  domain_no_mail: 'domain_gone',
  recipient_refused: 'protected',
  relay_denied: 'protected',
  sender_blocklisted: 'protected',
  sender_spf: 'protected',
  sender_dkim: 'protected',
  sender_dmarc: 'protected',
  sender_authentication: 'protected',
  sender_rdns: 'protected',
  sender_helo: 'protected',
  sender_reputation: 'protected',
  sender_address: 'protected',
  sender_policy: 'protected',
  content_spam: 'protected',
  rate_limited: 'protected',
  greylisted: 'transient',
  tls_required: 'transient',
  tls_failed: 'transient',
  server_error: 'transient',
  network_error: 'transient',
  expired: 'transient',
  protocol_error: 'transient',
  content_virus: 'not_rcpt',
  content_size: 'not_rcpt',
  content_rejected: 'not_rcpt',
};

/**
 * Why a miss stays a miss: the label, not rcpt, is arguably wrong (`label`); the corpus' reason groups
 * and rcpt's categories divide the same meaning differently (`taxonomy`); no public source documents
 * the wording, so rcpt does not guess (`unsourced`); a rule that cites a source reads it otherwise than
 * the label (`rule`). They stay misses in the figures; the bench prints them so a reader can judge.
 * Keyed by file (each has one labelled recipient).
 */
export const MISS_KINDS = ['label', 'taxonomy', 'unsourced', 'rule'] as const;
export type MissKind = (typeof MISS_KINDS)[number];

const UNSOURCED =
  "no public source found (providers' pages, MTA sources and docs searched); only bounce analysers' own tables name it";

export const MISS_NOTES: Readonly<Record<string, { readonly kind: MissKind; readonly note: string }>> = {
  'rhost-messagelabs-03.eml': { kind: 'unsourced', note: 'a bare "542 <x> Rejected" says nothing about why' },
  'lhost-postfix-46.eml': {
    kind: 'unsourced',
    note: 'KDDI\'s bare "Recipient address rejected." names no reason; no KDDI page says it means an unknown user',
  },
  'lhost-sendmail-13.eml': {
    kind: 'label',
    note: 'maildrop wrote "maildir over quota." above Sendmail\'s "Insufficient permission" (exit 77, EX_NOPERM, which the maildrop version of deliverquota uses over quota: deliverquota(8)); rcpt reads a full mailbox, the label a system error',
  },
  'rfc3464-35.eml': { kind: 'unsourced', note: `"is not a registered gateway user": ${UNSOURCED}` },
  'lhost-opensmtpd-12.eml': {
    kind: 'label',
    note: '"No MX found for domain" is a temporary failure in OpenSMTPD\'s own source (mta.c: DNS_ENOTFOUND is IMSG_DELIVERY_TEMPFAIL), and the report says "this is only a temporary failure" (status 4.0.0); labelled a domain that accepts no mail',
  },
  'lhost-postfix-47.eml': {
    kind: 'rule',
    note: 'RFC 5321 §4.2.2 "554 Transaction failed" to MAIL is a refusal of the transaction (sender side); labelled a system error',
  },
  'lhost-postfix-49.eml': {
    kind: 'rule',
    note: 'RFC 5321 §4.2.2 "421 Service not available, closing transmission channel" is temporary; labelled a block',
  },
  'lhost-postfix-50.eml': {
    kind: 'rule',
    note: 'RFC 5321 §4.2.2 "421 Service not available, closing transmission channel" is temporary; labelled a block',
  },
  'lhost-surfcontrol-02.eml': {
    kind: 'rule',
    note: '"554 Service currently unavailable" is what Postfix postscreen answers a blocked client; labelled a system error',
  },
  'lhost-surfcontrol-03.eml': {
    kind: 'rule',
    note: '"554 Service currently unavailable" is what Postfix postscreen answers a blocked client; labelled a system error',
  },
  'rhost-franceptt-08.eml': {
    kind: 'rule',
    note: "Orange's OFR codes refuse the sending IP (Orange postmaster); a 421 OFR005 is labelled a system error",
  },
  'rhost-nttdocomo-02.eml': {
    kind: 'rule',
    note: 'docomo answers "550 Unknown user" both for a missing address and for a sender the recipient refuses (NTT Communications support FAQ): rcpt reads it as ambiguous when docomo answered, but the redacted host here names no docomo MX, so the words decide; the label reads the refusal',
  },
  'rhost-nttdocomo-03.eml': {
    kind: 'rule',
    note: 'docomo answers "550 Unknown user" both for a missing address and for a sender the recipient refuses (NTT Communications support FAQ): rcpt reads it as ambiguous when docomo answered, but the redacted host here names no docomo MX, so the words decide; the label reads the refusal',
  },
  'lhost-exim-52.eml': {
    kind: 'taxonomy',
    note: "Exim's malformed-address notice (a display name written wrong): rcpt calls it the message header's fault, the corpus a syntax error of the session",
  },
  'rfc3464-01.eml': {
    kind: 'label',
    note: 'labelled a full mailbox; the reply is 5.1.1 User Unknown (the corpus README says this sample contradicts itself)',
  },
  'lhost-postfix-05.eml': {
    kind: 'label',
    note: 'a 450 is temporary (RFC 5321 §4.2.1): no address is gone on a 4xx',
  },
  'lhost-powermta-01.eml': {
    kind: 'label',
    note: 'code 5.2.1 (disabled) with the words "User Unknown": rcpt follows the words; the verdict (undeliverable) is the same',
  },
  'lhost-powermta-03.eml': {
    kind: 'label',
    note: 'code 5.2.1 (disabled) with the words "User Unknown": rcpt follows the words; the verdict (undeliverable) is the same',
  },
  'lhost-ezweb-02.eml': {
    kind: 'label',
    note: '"550 user unknown" labelled a suspended mailbox (the analyser knows the sending MTA); same verdict',
  },
  'rhost-apple-04.eml': {
    kind: 'label',
    note: 'Apple\'s "inactive email address" is a disabled account in rcpt\'s rules; labelled unknown; same verdict',
  },
  'lhost-postfix-17.eml': {
    kind: 'label',
    note: 'the same Postfix diagnostic (5.4.4, malformed name server reply) is labelled networkerror here and notaccept in rhost-aol-06',
  },
  'lhost-domino-03.eml': {
    kind: 'label',
    note: 'the label names kijitora@neko.example.com; the bounce names kijitora@neko.example.org',
  },
  'lhost-v5sendmail-01.eml': { kind: 'label', note: "the label's address is cut short (kijitora@exampl)" },
  'lhost-apachejames-01.eml': {
    kind: 'label',
    note: 'the label names 00000000000@… (11 digits); the bounce names 000000000000@… (12): the redaction changed it',
  },
  'lhost-office365-04.eml': {
    kind: 'label',
    note: "the label takes the address of the bounce's mailto: link, which the redaction made differ from the address it names",
  },
  'rfc3834-06.eml': {
    kind: 'label',
    note: 'an auto-reply ("this inbox is no longer in use") labelled as a disabled mailbox for its own sender',
  },
  'rhost-mimecast-02.eml': {
    kind: 'label',
    note: "Mimecast's MCSpamSignature is a spam signature, labelled a virus",
  },
  'lhost-sendmail-21.eml': {
    kind: 'label',
    note: '"Connection refused" after days of retries is a network failure, labelled a block',
  },
  'lhost-postfix-28.eml': {
    kind: 'taxonomy',
    note: "not RFC 5322 compliant: rcpt calls it a refusal of the message's format, the corpus a sender policy; neither is about the mailbox",
  },
  'lhost-postfix-29.eml': {
    kind: 'taxonomy',
    note: "not RFC 5322 compliant: rcpt calls it a refusal of the message's format, the corpus a sender policy; neither is about the mailbox",
  },
  'lhost-sendmail-43.eml': {
    kind: 'taxonomy',
    note: "not RFC 5322 compliant: rcpt calls it a refusal of the message's format, the corpus a sender policy; neither is about the mailbox",
  },
  'rhost-google-08.eml': {
    kind: 'taxonomy',
    note: "not RFC 5322 compliant: rcpt calls it a refusal of the message's format, the corpus a sender policy; neither is about the mailbox",
  },
  'lhost-receivingses-06.eml': {
    kind: 'taxonomy',
    note: '5.6.1 "Message content rejected" is RFC 3463\'s content status; the corpus calls it spam',
  },
};

const KIND_LABELS: Readonly<Record<string, BounceExplanation['kind']>> = {
  feedback: 'feedback_report',
  vacation: 'auto_reply',
  delivered: 'delivery_report',
};

export interface BounceFigures {
  readonly messages: number;
  readonly labelled: number;
  readonly found: number;
  readonly scored: number;
  readonly right: number;
  /** Scored and right on the samples numbered even and odd (`lhost-exim-NN.eml`). */
  readonly halves: {
    readonly even: { scored: number; right: number };
    readonly odd: { scored: number; right: number };
  };
  readonly misses: readonly Miss[];
  /** Scored misses by the kind of their note in MISS_NOTES (`none`: no note). */
  readonly noted: Readonly<Record<MissKind | 'none', number>>;
}

/** One miss as data: the reply (or diagnostic), the label and its group, rcpt's category, group and rule. */
export interface MissDetail {
  readonly recipient: string;
  readonly label: string;
  readonly labelGroup: string | null;
  /** rcpt's category, `null` when the recipient was not found or had nothing to explain. */
  readonly category: string | null;
  readonly group: string | null;
  readonly rule: string | null;
  readonly explainedFrom: string | null;
  readonly reply: string | null;
  readonly status: string | null;
  readonly diagnostic: string | null;
  /** The kind of message rcpt read (`bounce`, `auto_reply`, …) and the recipients it found. */
  readonly messageKind: string;
  readonly found: readonly string[];
}

export interface Miss {
  readonly file: string;
  /** The miss counts against the scored share (not an ambiguous label's recipient not found). */
  readonly scored: boolean;
  readonly text: string;
  /** The same as fields, for `--misses-out` (NDJSON). */
  readonly detail: MissDetail;
  readonly kind: MissKind | null;
  readonly note: string | null;
}

/** The rule that decided a recipient's explanation: the bounce rule that read its words, else the reply rule. */
function ruleOf(recipient: BounceRecipient): string {
  if (recipient.bounceRule !== null) return `bounce:${recipient.bounceRule}`;
  return recipient.explanation?.rule.id ?? '-';
}

function halfOfFile(file: string): 'even' | 'odd' {
  return Number(/-(\d+)\.eml$/.exec(file)?.[1] ?? '0') % 2 === 0 ? 'even' : 'odd';
}

export async function benchBounces(root: string): Promise<BounceFigures | null> {
  // The corpora folder (with bounces/ inside) or the bounces folder itself.
  const dir = existsSync(join(root, 'bounces', 'labels.jsonl')) ? join(root, 'bounces') : root;
  const labelsPath = join(dir, 'labels.jsonl');
  const mappingPath = [join(dir, 'mapping.json'), join(dir, '../replies/mapping.json')].find((p) =>
    existsSync(p),
  );
  if (!existsSync(dir) || !existsSync(labelsPath) || mappingPath === undefined) return null;
  const mapping = JSON.parse(readFileSync(mappingPath, 'utf8')) as Record<string, { group?: string }>;
  const labels = readFileSync(labelsPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Label);
  const byFile = new Map<string, Label[]>();
  for (const label of labels) byFile.set(label.file, [...(byFile.get(label.file) ?? []), label]);
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.eml'))
    .sort();
  let labelled = 0;
  let found = 0;
  let scored = 0;
  let right = 0;
  const halves = { even: { scored: 0, right: 0 }, odd: { scored: 0, right: 0 } };
  const misses: { file: string; scored: boolean; text: string; detail: MissDetail }[] = [];
  for (const file of files) {
    const explained = await explainBounce(readFileSync(join(dir, file)));
    const half = halves[halfOfFile(file)];
    const detail = (label: Label, recipient: BounceRecipient | undefined): MissDetail => {
      const category = recipient?.explanation?.category ?? null;
      return {
        recipient: label.recipient,
        label: label.reason,
        labelGroup: mapping[label.reason]?.group ?? null,
        category,
        group: category === null ? null : (CATEGORY_GROUPS[category] ?? 'none'),
        rule: recipient === undefined ? null : ruleOf(recipient),
        explainedFrom: recipient?.explainedFrom ?? null,
        reply: recipient?.reply ?? null,
        status: recipient?.status ?? null,
        diagnostic: recipient?.diagnostic ?? null,
        messageKind: explained.kind,
        found: explained.recipients.map((r) => r.address),
      };
    };
    for (const label of byFile.get(file) ?? []) {
      const group = mapping[label.reason]?.group ?? null;
      const kind = KIND_LABELS[label.reason];
      if (group === 'excluded' || (group === null && kind === undefined)) continue;
      labelled++;
      if (kind !== undefined) {
        found++;
        scored++;
        half.scored++;
        if (explained.kind === kind) {
          right++;
          half.right++;
        } else
          misses.push({
            file,
            scored: true,
            text: `${label.recipient}: labelled ${label.reason}, kind ${explained.kind}`,
            detail: detail(label, undefined),
          });
        continue;
      }
      const recipient = explained.recipients.find(
        (r) => r.address.toLowerCase() === label.recipient.toLowerCase(),
      );
      if (recipient === undefined) {
        if (group !== 'ambiguous') {
          scored++;
          half.scored++;
        }
        misses.push({
          file,
          scored: group !== 'ambiguous',
          text: `${label.recipient}: labelled ${label.reason} (${group ?? ''}), not found (kind ${explained.kind}; found ${explained.recipients.map((r) => r.address).join(', ')})`,
          detail: detail(label, undefined),
        });
        continue;
      }
      found++;
      if (group === 'ambiguous') continue;
      scored++;
      half.scored++;
      const ours = CATEGORY_GROUPS[recipient.explanation?.category ?? ''] ?? 'none';
      if (ours === group) {
        right++;
        half.right++;
      } else
        misses.push({
          file,
          scored: true,
          text: `${label.recipient}: labelled ${label.reason} (${group ?? ''}), got ${recipient.explanation?.category ?? 'no explanation'} (${ours}) by rule ${ruleOf(recipient)} from ${recipient.explainedFrom ?? '-'}: ${recipient.reply ?? recipient.status ?? ''} | ${recipient.diagnostic?.slice(0, 100) ?? ''}`,
          detail: detail(label, recipient),
        });
    }
  }
  const noted: Record<MissKind | 'none', number> = { label: 0, taxonomy: 0, unsourced: 0, rule: 0, none: 0 };
  const annotated = misses.map((miss): Miss => {
    const note = MISS_NOTES[miss.file];
    if (miss.scored) noted[note?.kind ?? 'none']++;
    return { ...miss, kind: note?.kind ?? null, note: note?.note ?? null };
  });
  return { messages: files.length, labelled, found, scored, right, halves, misses: annotated, noted };
}

const KIND_TITLES: Readonly<Record<MissKind | 'none', string>> = {
  label: 'the label is arguably wrong',
  taxonomy: 'the groups divide a meaning differently',
  unsourced: 'no public source for the wording',
  rule: 'a sourced rule reads it otherwise than the label',
  none: 'no note',
};

/** Every miss, grouped by the kind of its note (`--misses`), or in file order (`--verbose`). */
export function missLines(figures: BounceFigures, grouped: boolean): string[] {
  const line = (miss: Miss): string[] => [
    `  miss: ${miss.file} ${miss.text}${miss.scored ? '' : ' [not scored]'}`,
    ...(miss.note === null ? [] : [`      note (${miss.kind ?? ''}): ${miss.note}`]),
  ];
  if (!grouped) return figures.misses.flatMap(line);
  return (['none', ...MISS_KINDS] as const).flatMap((kind) => {
    const misses = figures.misses.filter((miss) => (miss.kind ?? 'none') === kind);
    if (misses.length === 0) return [];
    const scored = misses.filter((miss) => miss.scored).length;
    return [
      '',
      `  ${KIND_TITLES[kind]} (${scored} scored, ${misses.length - scored} not):`,
      ...misses.flatMap(line),
    ];
  });
}

export function bounceFigureLines(figures: BounceFigures, showMisses: boolean | 'grouped'): string[] {
  const pct = (n: number, d: number) => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)}%`);
  return [
    `bounces: ${figures.messages} messages, ${figures.labelled} labelled recipients`,
    `  recipients found:                       ${figures.found} of ${figures.labelled} (${pct(figures.found, figures.labelled)})`,
    `  found with the right reason group:      ${figures.right} of ${figures.scored} scored (${pct(figures.right, figures.scored)}; ambiguous labels not scored)`,
    `  by sample number, even / odd:           ${pct(figures.halves.even.right, figures.halves.even.scored)} (${figures.halves.even.right} of ${figures.halves.even.scored}) / ${pct(figures.halves.odd.right, figures.halves.odd.scored)} (${figures.halves.odd.right} of ${figures.halves.odd.scored})`,
    `  scored misses: ${figures.scored - figures.right}: ${figures.noted.label} where the label is arguably wrong, ${figures.noted.taxonomy} where the groups divide a meaning differently, ${figures.noted.unsourced} with no public source for the wording, ${figures.noted.rule} that a sourced rule reads otherwise, ${figures.noted.none} without a note (--misses lists them by kind)`,
    ...(showMisses === false ? [] : missLines(figures, showMisses === 'grouped')),
  ];
}

export function printBounceFigures(figures: BounceFigures, showMisses: boolean | 'grouped'): void {
  console.log(bounceFigureLines(figures, showMisses).join('\n'));
}

export interface MboxMemoryFigures {
  readonly messages: number;
  readonly mboxBytes: number;
  readonly peakRssMb: number;
  readonly startRssMb: number;
  readonly seconds: number;
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `rcpt explain` on an mbox of `messages` bounces (the Postfix fixture, each returning a 24 KiB
 * original message, as real bounces do): a child process run as bin/rcpt runs the CLI, its peak RSS
 * from getrusage. The mbox is larger than the peak, so the peak cannot hold it.
 */
export async function benchMboxMemory(messages = 10_000): Promise<MboxMemoryFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'rcpt-explain-bench-'));
  try {
    const postfix = readFileSync(join(REPO, 'test/fixtures/bounces/postfix.eml'), 'utf8').replace(
      /\r\n/g,
      '\n',
    );
    const cut = postfix.lastIndexOf('--A1B2C3');
    const padding = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n'.repeat(340);
    const mbox = join(dir, 'bounces.mbox');
    const out = createWriteStream(mbox);
    for (let index = 0; index < messages; index++) {
      const message = `${postfix.slice(0, cut).replace(/alice@example\.com/g, `user${index}@example.com`)}${padding}${postfix.slice(cut)}`;
      const chunk = `From MAILER-DAEMON Mon Nov 30 10:00:00 2026\n${message.replace(/^(>*From )/gm, '>$1')}\n`;
      if (!out.write(chunk))
        await new Promise<void>((done) =>
          out.once('drain', () => {
            done();
          }),
        );
    }
    await new Promise<void>((done) => out.end(done));
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [
        '--max-semi-space-size=8',
        '--import',
        'tsx',
        join(REPO, 'test/helpers/rcpt-max-rss.ts'),
        'explain',
        mbox,
        '-o',
        join(dir, 'list.csv'),
      ],
      { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    if (code !== 0) throw new Error(`rcpt explain exited ${String(code)}: ${stderr}`);
    return {
      messages,
      mboxBytes: statSync(mbox).size,
      peakRssMb: Number(/max-rss-kb (\d+)/.exec(stderr)?.[1] ?? NaN) / 1024,
      startRssMb: Number(/start-rss-kb (\d+)/.exec(stderr)?.[1] ?? NaN) / 1024,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printMboxMemory(figures: MboxMemoryFigures): void {
  console.log(
    `mbox: ${figures.messages.toLocaleString('en-US')} bounces, ${(figures.mboxBytes / 1024 / 1024).toFixed(0)} MB: peak RSS ${figures.peakRssMb.toFixed(0)} MB (${figures.startRssMb.toFixed(0)} MB at start), ${figures.seconds.toFixed(1)} s`,
  );
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const dir = resolve(args.find((a) => !a.startsWith('--')) ?? join(REPO, '../shared/corpora'));
  const figures = await benchBounces(dir);
  if (figures === null) {
    console.log(
      `bench:explain bounces: no corpus at ${dir} (needs *.eml, labels.jsonl and mapping.json); skipped`,
    );
  } else {
    printBounceFigures(figures, args.includes('--misses') ? 'grouped' : args.includes('--verbose'));
  }
  if (args.includes('--mbox-memory')) printMboxMemory(await benchMboxMemory());
}
