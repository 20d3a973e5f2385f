/**
 * `verify()` and `explainReply()` never disagree: for every rule of the reply table, a reply line that
 * the rule decides (from test/fixtures/replies) is answered by a real SMTP server on loopback at the
 * stage the line belongs to, `verify()` probes it end to end (DNS on the loopback server, the provider
 * matched from the MX host name as in production), and `explainReply()` reads the same line (or the
 * transcript of the same session); both must give the same verdict and reason.
 *
 * Rules whose stages `verify()` never reports (STARTTLS refusals, RSET/QUIT, replies after DATA) are
 * checked against the classifier call `verify()` makes, and listed, so a rule cannot drop out unseen.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { REPLY_RULES, classifyReply, type ClassifyContext } from '../../../src/classify/index.js';
import {
  startDnsServer,
  type DnsServer,
  type DnsZoneEntry,
  type DnsZones,
} from '../../../src/demo/dns-server.js';
import { PROVIDER_RULES, providerById, type ProviderRule } from '../../../src/providers/index.js';
import { ReplyParser } from '../../../src/smtp/reply-parser.js';
import {
  explainReply,
  verify,
  type ExplainCommand,
  type SmtpReplyInfo,
  type SmtpStage,
  type VerifyOptions,
} from '../../../src/index.js';
import { REPLY_LINES, SYNTHETIC_LINES, type ReplyLine } from '../../fixtures/replies/reply-lines.js';
import {
  startScriptedServer,
  type PersonaDefinition,
  type ScriptedServer,
} from '../../personas/scripted-smtp-server.js';

/** Stages whose replies `verify()` classifies into its result. */
const VERIFY_STAGES: readonly SmtpStage[] = ['greeting', 'ehlo', 'helo', 'mail', 'rcpt'];

const COMMAND_OF: Readonly<Record<SmtpStage, ExplainCommand | null>> = {
  connect: null,
  greeting: 'CONNECT',
  ehlo: 'EHLO',
  helo: 'HELO',
  starttls: 'STARTTLS',
  mail: 'MAIL',
  rcpt: 'RCPT',
  data: 'DATA',
  rset: 'RSET',
  quit: 'QUIT',
};

const TARGET = 'probe';

function toReply(stage: SmtpStage, wire: string): SmtpReplyInfo {
  const { replies } = new ReplyParser().write(
    new TextEncoder().encode(`${wire.split('\n').join('\r\n')}\r\n`),
  );
  const reply = replies[0];
  assert.ok(reply !== undefined, wire);
  return { stage, code: reply.code, enhanced: reply.enhanced, text: reply.text };
}

function contextOf(entry: ReplyLine): ClassifyContext {
  return {
    provider: entry.provider === undefined ? null : providerById(entry.provider),
    otherRecipientAccepted: entry.otherAccepted === true,
  };
}

/** Provider rules by id, each reached through a domain whose MX host carries the provider's suffix. */
function domainOf(provider: string | undefined): string {
  return provider === undefined ? 'walk.test' : `walk-${provider}.test`;
}

function mxHostOf(provider: ProviderRule | undefined): string {
  const suffix = provider?.mxSuffixes[0] ?? 'walk.test';
  return `mx-walk.${suffix.replace(/^\./, '')}`;
}

function zoneFor(provider: ProviderRule | undefined): [string, DnsZoneEntry][] {
  return [
    [domainOf(provider?.id), { MX: [{ priority: 10, exchange: mxHostOf(provider) }] }],
    [mxHostOf(provider), { A: ['127.0.0.1'] }],
  ];
}

const ZONES: DnsZones = Object.fromEntries([
  ...zoneFor(undefined),
  ...(PROVIDER_RULES as readonly ProviderRule[]).flatMap((provider) => zoneFor(provider)),
]);

/** The server for one example: it answers the line at the line's stage and accepts everything else. */
function personaFor(entry: ReplyLine): PersonaDefinition {
  const name = 'mx-walk.example';
  const accept = entry.otherAccepted === true;
  switch (entry.stage) {
    case 'greeting':
      return { name, greeting: entry.line };
    case 'ehlo':
      return { name, ehloReply: entry.line };
    case 'helo':
      // verify() says HELO after a 5xx to EHLO (RFC 5321 §4.1.4): a 5xx at HELO answers both.
      return entry.line.startsWith('5')
        ? { name, ehloReply: entry.line, heloReply: entry.line }
        : { name, ehloReply: entry.line };
    case 'mail':
      return { name, mail: () => entry.line };
    default:
      return {
        name,
        rcpt: (recipient) =>
          recipient.startsWith(`${TARGET}@`) ? entry.line : accept ? null : '550 5.1.1 not this one',
      };
  }
}

/** What `explainReply()` is given: the line with its command, or the session when another RCPT was accepted. */
function explainInput(entry: ReplyLine): string {
  if (entry.otherAccepted !== true) return entry.line;
  return [
    'MAIL FROM:<verify@rcpt.test>',
    '250 2.1.0 Ok',
    `RCPT TO:<someone@${domainOf(entry.provider)}>`,
    '250 2.1.5 Ok',
    `RCPT TO:<${TARGET}@${domainOf(entry.provider)}>`,
    entry.line,
  ].join('\n');
}

/**
 * True when `verify()` ends on this line: a reply at a stage it reports that does not let the session go
 * on. A positive reply before RCPT lets it continue; a 500/502 to EHLO makes it fall back to HELO
 * (RFC 5321 §4.1.4).
 */
function isVerifiable(entry: ReplyLine): boolean {
  if (!VERIFY_STAGES.includes(entry.stage)) return false;
  const code = Number(entry.line.slice(0, 3));
  if (entry.stage !== 'rcpt' && code < 400) return false;
  return !(entry.stage === 'ehlo' && (code === 500 || code === 502));
}

/** For each rule, the first fixture line it decides, preferring one `verify()` ends on. */
function examples(): Map<string, ReplyLine> {
  const chosen = new Map<string, ReplyLine>();
  const lines = [...REPLY_LINES, ...SYNTHETIC_LINES];
  // A rule that holds at any stage, shown by a line after DATA, is put to verify() at RCPT.
  const atRcpt = lines
    .filter((entry) => entry.stage === 'data')
    .map((entry) => ({ ...entry, stage: 'rcpt' as const }));
  const candidates = [...lines, ...atRcpt].filter(
    // An accept-all provider turns verify's "accepted" into accept_all_provider: the reply alone cannot know.
    (entry) =>
      entry.provider === undefined ||
      !entry.line.startsWith('2') ||
      providerById(entry.provider)?.acceptAll !== true,
  );
  for (const preferVerify of [true, false]) {
    for (const entry of candidates) {
      if (preferVerify !== isVerifiable(entry)) continue;
      const rule = classifyReply(toReply(entry.stage, entry.line), contextOf(entry)).rule;
      if (!chosen.has(rule)) chosen.set(rule, entry);
    }
  }
  return chosen;
}

let dns: DnsServer;
let base: VerifyOptions;
before(async () => {
  dns = await startDnsServer({ host: '127.0.0.1', port: 0, zones: ZONES });
  base = {
    dnsServers: [dns.address],
    allowPrivateTargets: true,
    helo: 'probe.rcpt.test',
    mailFrom: 'verify@rcpt.test',
    timeoutMs: 5_000,
    connectTimeoutMs: 1_000,
    greetingTimeoutMs: 1_000,
    commandTimeoutMs: 1_000,
    dnsTimeoutMs: 1_000,
    greylistWaitMs: 0,
  };
});
after(async () => {
  await dns.close();
});

describe('verify() and explainReply() agree on every rule of the reply table', () => {
  const chosen = examples();

  it('has an example line for every rule', () => {
    const missing = REPLY_RULES.map((rule) => rule.id).filter((id) => !chosen.has(id));
    assert.deepEqual(missing, []);
  });

  it('lists the rules verify() never ends on, and only those', () => {
    const unreachable = REPLY_RULES.map((rule) => rule.id).filter((id) => {
      const entry = chosen.get(id);
      return entry !== undefined && !isVerifiable(entry);
    });
    assert.deepEqual(unreachable, [
      'data-accepted',
      'positive-outside-rcpt',
      'starttls-refused',
      'outside-transaction',
      // Replies to DATA only: verify never sends DATA.
      'data-line-too-long',
      'data-policy-refused',
    ]);
  });

  for (const rule of REPLY_RULES) {
    it(rule.id, async () => {
      const entry = chosen.get(rule.id);
      assert.ok(entry !== undefined, `no example for ${rule.id}`);
      const command = COMMAND_OF[entry.stage];
      const [explained, ...others] = explainReply(explainInput(entry), {
        command,
        provider: entry.provider ?? null,
      }).slice(entry.otherAccepted === true ? -1 : 0);
      assert.ok(explained !== undefined && others.length === 0);
      assert.equal(explained.rule.id, rule.id, entry.line);
      if (!isVerifiable(entry)) {
        const classified = classifyReply(toReply(entry.stage, entry.line), contextOf(entry));
        assert.deepEqual([explained.verdict, explained.reason], [classified.verdict, classified.reason]);
        return;
      }
      let server: ScriptedServer | null = null;
      try {
        server = await startScriptedServer(personaFor(entry), '127.0.0.1', 0);
        const result = await verify(`${TARGET}@${domainOf(entry.provider)}`, {
          ...base,
          smtpPort: server.port,
          catchAll: entry.otherAccepted === true,
        });
        assert.deepEqual(
          [result.verdict, result.reason],
          [explained.verdict, explained.reason],
          `${entry.stage} ${entry.line} (verify's reply: ${JSON.stringify(result.smtp?.reply ?? null)})`,
        );
        assert.equal(result.smtp?.provider ?? null, explained.provider);
        // verify() decided on this very reply, at this stage.
        assert.deepEqual(
          [result.smtp?.reply?.code, result.smtp?.reply?.stage],
          // The persona answers EHLO with a line recorded at HELO: verify() says EHLO first, and HELO
          // after a 5xx.
          [
            explained.reply.code,
            entry.stage === 'helo' && !entry.line.startsWith('5') ? 'ehlo' : entry.stage,
          ],
        );
      } finally {
        await server?.close();
      }
    });
  }
});
