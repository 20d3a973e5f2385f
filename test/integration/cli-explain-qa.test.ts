/**
 * `rcpt explain` on bounces as users paste and save them, through the real `rcpt` process: what it
 * prints is what they read.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { rcptProcess } from '../helpers/rcpt-process.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-explain-qa-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Office 365's non-delivery report as plain text (no delivery-status part), quoted-printable. */
const EXCHANGE_TEXT_NDR = [
  'From: postmaster@outlook.example',
  'To: sender@example.com',
  'Subject: Undeliverable: hello',
  'Date: Mon, 7 Dec 2026 09:00:00 +0000',
  'Message-ID: <ndr1@outlook.example>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset="us-ascii"',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Delivery has failed to these recipients or groups:',
  '',
  'carol@contoso.example',
  "The email address you entered couldn't be found.",
  '',
  'Diagnostic information for administrators:',
  '',
  'Generating server: BN6PR01MB1234.prod.exchangelabs.com',
  '',
  'carol@contoso.example',
  "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipie=",
  "nt carol@contoso.example not found by SMTP address lookup'",
  '',
].join('\r\n');

describe('rcpt explain: bounces as users have them', () => {
  it("Exchange's quoted reply (Remote Server returned '550 …') is shown without its closing quote", async () => {
    const file = join(dir, 'ndr.eml');
    await writeFile(file, EXCHANGE_TEXT_NDR);
    const { code, stdout, stderr } = await rcptProcess(['explain', file, '--json']);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as {
      recipients: { address: string; explanation: { reason: string; reply: { text: string } } }[];
    };
    const [recipient] = report.recipients;
    assert.equal(recipient?.address, 'carol@contoso.example');
    assert.equal(recipient.explanation.reason, 'mailbox_not_found');
    // Before: "… not found by SMTP address lookup'", the quote Exchange closes the reply with.
    assert.equal(
      recipient.explanation.reply.text,
      'RESOLVER.ADR.RecipientNotFound; Recipient carol@contoso.example not found by SMTP address lookup',
    );
  });
});
