/**
 * Records the reply lines rcpt relies on from the lab's real servers into
 * test/fixtures/lab/replies.json, for the classifier's unit tests (test/unit/classify/lab-replies.test.ts).
 * Captured, never typed: re-run it after changing a server or its configuration.
 *
 *   sudo bash test/lab/up.sh && node --import tsx test/lab/record-fixtures.ts && bash test/lab/down.sh
 *
 * Each conversation is one command at a time over rcpt's own SmtpConnection (no pipelining), so every
 * reply is the answer to the command written next to it; `wire` keeps the lines as received.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { format, resolveConfig } from 'prettier';

import { SmtpConnection } from '../../src/smtp/connection.js';
import type { SmtpReply } from '../../src/smtp/reply-parser.js';
import type { SmtpStage } from '../../src/types.js';
import { LAB_ADDR, LAB_HELO, LAB_MX } from './lab.js';

/** One recorded reply (the shape test/unit/classify/lab-replies.test.ts reads). */
export interface LabReply {
  /** Stable name, `<server>-<case>`. */
  readonly id: string;
  readonly server: string;
  /** The command the reply answered; `null` for the greeting. */
  readonly command: string | null;
  readonly stage: SmtpStage;
  /** The reply's lines as received, without line ends. */
  readonly wire: readonly string[];
}

export interface LabFixtures {
  readonly recordedBy: string;
  readonly recordedAt: string;
  /** Debian package versions of the servers that answered. */
  readonly versions: Readonly<Record<string, string>>;
  readonly replies: readonly LabReply[];
}

const OUTPUT = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/lab/replies.json');
const PKGS = process.env.RCPT_LAB_PKGS ?? '/var/cache/rcpt-lab';
/** A sender no earlier run used: postgrey greylists a new (client, sender, recipient) triplet. */
const SENDER = `record-${Date.now().toString(36)}@rcpt.test`;

const replies: LabReply[] = [];

interface Step {
  /** Case name; `null` to send the command without recording its reply. */
  readonly name: string | null;
  readonly command: string;
  readonly stage: SmtpStage;
}

function record(server: string, name: string, command: string | null, stage: SmtpStage, reply: SmtpReply) {
  replies.push({ id: `${server}-${name}`, server, command, stage, wire: reply.lines });
}

/** One session: greeting, EHLO, then `steps` one at a time; QUIT. */
async function converse(server: string, host: string, ip: string, steps: readonly Step[]): Promise<void> {
  const connection = await SmtpConnection.connect({
    host,
    ip,
    port: 25,
    localAddress: null,
    connectTimeoutMs: 2_000,
    greetingTimeoutMs: 5_000,
    // Postfix sleeps 1 s per reply past its soft error limit.
    commandTimeoutMs: 10_000,
    transcript: null,
    startedAt: performance.now(),
  });
  try {
    record(server, 'greeting', null, 'greeting', await connection.greeting());
    const ehlo = await connection.command(`EHLO ${LAB_HELO}`);
    if (ehlo.code !== 250) throw new Error(`${server}: EHLO refused: ${ehlo.lines.join(' / ')}`);
    for (const step of steps) {
      const reply = await connection.command(step.command);
      if (step.name !== null) record(server, step.name, step.command, step.stage, reply);
      if (reply.code === 421) break;
    }
    if (!connection.isClosed) await connection.command('QUIT').catch(() => undefined);
  } finally {
    connection.close();
  }
}

const mail = (): Step => ({ name: null, command: `MAIL FROM:<${SENDER}>`, stage: 'mail' });
const rcpt = (name: string | null, address: string): Step => ({
  name,
  command: `RCPT TO:<${address}>`,
  stage: 'rcpt',
});

function versions(): Record<string, string> {
  const version = (pkg: string) =>
    execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim();
  const unpacked = (pkg: string) =>
    readdirSync(join(PKGS, 'debs'))
      .find((file) => file.startsWith(`${pkg}_`))
      ?.split('_')[1] ?? 'unknown';
  return {
    postfix: version('postfix'),
    postgrey: version('postgrey'),
    knot: version('knot'),
    exim: unpacked('exim4-daemon-light'),
    opensmtpd: unpacked('opensmtpd'),
  };
}

await converse('postfix', LAB_MX.postfix, LAB_ADDR.postfix, [
  mail(),
  rcpt('rcpt-known', 'alice@pf.test'),
  rcpt('rcpt-role', 'info@pf.test'),
  rcpt('rcpt-unknown', 'bob@pf.test'),
  rcpt('rcpt-relay-denied', 'someone@elsewhere.test'),
  // Errors 3 to 6 (smtpd_hard_error_limit = 6 in the lab): the next command gets the 421.
  ...['u3', 'u4', 'u5', 'u6'].map((user) => rcpt(null, `${user}@pf.test`)),
  rcpt('too-many-errors', 'u7@pf.test'),
]);
await converse('postfix-catchall', LAB_MX.catchAll, LAB_ADDR.catchAll, [
  mail(),
  rcpt('rcpt-any', `r${Date.now().toString(36)}@catchall.test`),
]);
await converse('postgrey', LAB_MX.grey, LAB_ADDR.grey, [
  mail(),
  rcpt('rcpt-greylisted', 'alice@grey.test'),
  rcpt('rcpt-unknown', 'nobody@grey.test'),
]);
await converse('exim', LAB_MX.exim, LAB_ADDR.exim, [
  mail(),
  rcpt('rcpt-known', 'alice@exim.test'),
  rcpt('rcpt-role', 'info@exim.test'),
  rcpt('rcpt-unknown', 'bob@exim.test'),
]);
await converse('opensmtpd', LAB_MX.opensmtpd, LAB_ADDR.opensmtpd, [
  mail(),
  rcpt('rcpt-known', 'alice@opensmtpd.test'),
  rcpt('rcpt-role', 'info@opensmtpd.test'),
  rcpt('rcpt-unknown', 'bob@opensmtpd.test'),
]);

const fixtures: LabFixtures = {
  recordedBy: 'test/lab/record-fixtures.ts',
  recordedAt: new Date().toISOString(),
  versions: versions(),
  replies,
};
// Written as `prettier --check` wants it, so `npm test` stays green after a re-recording.
const prettierOptions = (await resolveConfig(OUTPUT)) ?? {};
writeFileSync(OUTPUT, await format(JSON.stringify(fixtures), { ...prettierOptions, parser: 'json' }));
console.log(`recorded ${replies.length} replies into ${OUTPUT}`);
