/**
 * Feedback reports name who they are about (RFC 5965 `Original-Rcpt-To`, the reported message's `To`,
 * an Amazon SES complaint's `complainedRecipients`, the `From` of Apple Mail's unsubscribe request),
 * and become suppression rows (`complained`, `unsubscribed`); a redacted address never does.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { explainBounce } from '../../../src/explain/bounce.js';
import { isRedactedAddress } from '../../../src/explain/bounce-feedback.js';
import type { FeedbackRecipient } from '../../../src/explain/bounce-types.js';
import { formatBounce } from '../../../src/cli/explain-bounces.js';
import { feedbackReason, toSuppressionRows } from '../../../src/explain/suppression.js';

const fixture = (name: string): Buffer =>
  readFileSync(new URL(`../../fixtures/feedback/${name}`, import.meta.url));

interface Case {
  readonly file: string;
  readonly feedbackType: string | null;
  readonly recipients: readonly Pick<FeedbackRecipient, 'address' | 'source' | 'redacted'>[];
  /** The suppression rows as [address, reason, category, suppress, date]. */
  readonly rows: readonly (readonly [string, string, string, boolean, string])[];
}

const CASES: readonly Case[] = [
  {
    file: 'arf-original-rcpt-to.eml',
    feedbackType: 'abuse',
    // Original-Rcpt-To names the complainant; the reported message went to a list address.
    recipients: [{ address: 'olga@example.com', source: 'original-rcpt-to', redacted: false }],
    rows: [['olga@example.com', 'complained', 'abuse', true, '2026-12-01T08:30:00.000Z']],
  },
  {
    file: 'arf-original-to.eml',
    feedbackType: 'abuse',
    recipients: [{ address: 'paul@example.org', source: 'original-to', redacted: false }],
    rows: [['paul@example.org', 'complained', 'abuse', true, '2026-12-01T09:15:00.000Z']],
  },
  {
    file: 'arf-redacted.eml',
    feedbackType: 'abuse',
    recipients: [{ address: 'redacted@isp.example', source: 'original-rcpt-to', redacted: true }],
    rows: [],
  },
  {
    file: 'arf-removal-recipient.eml',
    feedbackType: 'opt-out-list',
    // A report written to the pre-RFC 5965 drafts: Original-Rcpt-To redacted, Removal-Recipient names
    // who asked to leave the list.
    recipients: [{ address: 'quentin@isp.example', source: 'removal-recipient', redacted: false }],
    rows: [['quentin@isp.example', 'unsubscribed', 'opt-out-list', true, '2026-12-02T14:00:00.000Z']],
  },
  {
    file: 'ses-complaint.eml',
    feedbackType: 'abuse',
    // Only the complained recipients, not every destination of the message (tom@ did not complain).
    recipients: [
      { address: 'rosa@example.com', source: 'ses', redacted: false },
      { address: 'sam@example.org', source: 'ses', redacted: false },
    ],
    // The complaint's own timestamp, not the mail object's nor the notification email's Date.
    rows: [
      ['rosa@example.com', 'complained', 'abuse', true, '2026-12-01T10:59:58.000Z'],
      ['sam@example.org', 'complained', 'abuse', true, '2026-12-01T10:59:58.000Z'],
    ],
  },
  {
    file: 'apple-unsubscribe.eml',
    feedbackType: 'unsubscribe',
    recipients: [{ address: 'uma@example.com', source: 'from', redacted: false }],
    rows: [['uma@example.com', 'unsubscribed', 'unsubscribe', true, '2026-12-01T12:00:00.000Z']],
  },
];

describe('feedback reports: who they are about, and their suppression rows', () => {
  for (const testCase of CASES) {
    it(`${testCase.file}: ${testCase.recipients.map((r) => r.address).join(', ')}`, async () => {
      const explained = await explainBounce(fixture(testCase.file));
      assert.equal(explained.kind, 'feedback_report');
      assert.equal(explained.feedbackType, testCase.feedbackType);
      assert.deepEqual(explained.recipients, [], 'a feedback report reports no failed delivery');
      assert.deepEqual(
        explained.feedbackRecipients.map(({ address, source, redacted }) => ({ address, source, redacted })),
        testCase.recipients,
      );
      const rows = toSuppressionRows(explained, testCase.file);
      assert.deepEqual(
        rows.map((row) => [row.address, row.reason, row.category, row.suppress, row.date]),
        testCase.rows,
      );
      for (const row of rows) {
        assert.equal(row.action, 'remove_address');
        assert.equal(row.source, testCase.file);
      }
    });
  }

  it('an auto-reply names nobody and gives no row', async () => {
    const explained = await explainBounce(fixture('out-of-office.eml'));
    assert.equal(explained.kind, 'auto_reply');
    assert.deepEqual(explained.feedbackRecipients, []);
    assert.deepEqual(toSuppressionRows(explained, 'out-of-office.eml'), []);
  });

  it('bounces carry no feedback recipients', async () => {
    const bounce = await explainBounce(
      readFileSync(new URL('../../fixtures/bounces/postfix.eml', import.meta.url)),
    );
    assert.equal(bounce.kind, 'bounce');
    assert.deepEqual(bounce.feedbackRecipients, []);
    assert.equal(feedbackReason(bounce), null);
  });
});

/** An ARF report of the given feedback type and report fields, with a reported message sent `to`. */
function arf(type: string, fields: readonly string[], to: string): string {
  return [
    'From: fbl@mail.example.com',
    'To: reports@example.net',
    'Subject: report',
    'Date: Tue, 01 Dec 2026 08:30:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    '',
    'A report.',
    '',
    '--b',
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${type}`,
    'User-Agent: Test/1.0',
    'Version: 1',
    ...fields,
    '',
    '--b',
    'Content-Type: message/rfc822',
    '',
    'From: news@example.net',
    `To: ${to}`,
    'Subject: hello',
    '',
    'Hello.',
    '--b--',
    '',
  ].join('\r\n');
}

describe('feedback reports: the edges', () => {
  it('several Original-Rcpt-To fields name several complainants, each once', async () => {
    const explained = await explainBounce(
      arf(
        'abuse',
        [
          'Original-Rcpt-To: <wanda@example.com>',
          'Original-Rcpt-To: xavier@example.org',
          'Original-Rcpt-To: <Wanda@example.com>',
        ],
        'list@example.net',
      ),
    );
    assert.deepEqual(
      explained.feedbackRecipients.map((r) => r.address),
      ['wanda@example.com', 'xavier@example.org'],
    );
    assert.equal(toSuppressionRows(explained, 'x').length, 2);
  });

  it('a reported message sent to several people does not say who complained: no row', async () => {
    const explained = await explainBounce(arf('abuse', [], 'a@example.com, b@example.com'));
    assert.equal(explained.kind, 'feedback_report');
    assert.deepEqual(explained.feedbackRecipients, []);
    assert.deepEqual(toSuppressionRows(explained, 'x'), []);
  });

  it('a redacted To (no Original-Rcpt-To) is marked and gives no row', async () => {
    const explained = await explainBounce(arf('abuse', [], 'xxxxxxxx@isp.example'));
    assert.deepEqual(
      explained.feedbackRecipients.map((r) => [r.address, r.source, r.redacted]),
      [['xxxxxxxx@isp.example', 'original-to', true]],
    );
    assert.deepEqual(toSuppressionRows(explained, 'x'), []);
  });

  it('an Original-Rcpt-To that is no address at all (`redacted`) is a redaction, not a row', async () => {
    const explained = await explainBounce(arf('abuse', ['Original-Rcpt-To: [redacted]'], 'list@example.net'));
    assert.deepEqual(
      explained.feedbackRecipients.map((r) => [r.address, r.redacted]),
      [['[redacted]', true]],
    );
    assert.deepEqual(toSuppressionRows(explained, 'x'), []);
  });

  it('a fraud report suppresses; not-spam, auth-failure and virus reports do not', async () => {
    const rowsOf = async (type: string) =>
      toSuppressionRows(
        await explainBounce(arf(type, ['Original-Rcpt-To: <yara@example.com>'], 'yara@example.com')),
        'x',
      ).map((row) => [row.address, row.reason, row.category]);
    assert.deepEqual(await rowsOf('fraud'), [['yara@example.com', 'complained', 'fraud']]);
    for (const type of ['not-spam', 'auth-failure', 'virus', 'other']) {
      const explained = await explainBounce(
        arf(type, ['Original-Rcpt-To: <yara@example.com>'], 'x@example.com'),
      );
      assert.equal(explained.feedbackType, type);
      assert.deepEqual(
        explained.feedbackRecipients.map((r) => r.address),
        ['yara@example.com'],
        `${type}: who the report is about is still said`,
      );
      assert.deepEqual(await rowsOf(type), [], `${type} is no request to stop mailing`);
    }
  });

  it('Removal-Recipient (pre-RFC 5965 drafts) names who to remove when Original-Rcpt-To does not', async () => {
    const who = async (fields: readonly string[], to = 'list@example.net') =>
      (await explainBounce(arf('opt-out', fields, to))).feedbackRecipients.map((r) => [
        r.address,
        r.source,
        r.redacted,
      ]);
    // Alone, and more than once (each address once).
    assert.deepEqual(
      await who([
        'Removal-Recipient: <rita@example.com>',
        'Removal-Recipient: steve@example.org',
        'Removal-Recipient: Rita@example.com',
      ]),
      [
        ['rita@example.com', 'removal-recipient', false],
        ['steve@example.org', 'removal-recipient', false],
      ],
    );
    // An Original-Rcpt-To that names someone comes first.
    assert.deepEqual(
      await who(['Original-Rcpt-To: <tina@example.com>', 'Removal-Recipient: <tina.alias@example.com>']),
      [['tina@example.com', 'original-rcpt-to', false]],
    );
    // Both redacted: the redaction is shown (Original-Rcpt-To's), no row.
    const hidden = await explainBounce(
      arf('opt-out', ['Original-Rcpt-To: xxxxx@isp.example', 'Removal-Recipient: [redacted]'], 'a@b.example'),
    );
    assert.deepEqual(
      hidden.feedbackRecipients.map((r) => [r.address, r.source, r.redacted]),
      [['xxxxx@isp.example', 'original-rcpt-to', true]],
    );
    assert.deepEqual(toSuppressionRows(hidden, 'x'), []);
    // Removal-Recipient comes before the reported message's To.
    assert.deepEqual(await who(['Removal-Recipient: <uwe@example.com>'], 'vera@example.com'), [
      ['uwe@example.com', 'removal-recipient', false],
    ]);
  });

  it("the drafts' opt-out and opt-out-list types unsubscribe; miscategorized does not", async () => {
    for (const type of ['opt-out', 'opt-out-list']) {
      const explained = await explainBounce(
        arf(type, ['Removal-Recipient: <wes@example.com>'], 'x@example.com'),
      );
      assert.equal(feedbackReason(explained), 'unsubscribed', type);
      assert.deepEqual(
        toSuppressionRows(explained, 'x').map((row) => [row.address, row.reason, row.suppress]),
        [['wes@example.com', 'unsubscribed', true]],
      );
    }
    const miscategorized = await explainBounce(
      arf('miscategorized', ['Removal-Recipient: <wes@example.com>'], 'x@example.com'),
    );
    assert.equal(feedbackReason(miscategorized), null);
    assert.deepEqual(toSuppressionRows(miscategorized, 'x'), []);
  });

  it('an SES complaint inside an SNS envelope, without complaintFeedbackType, still names its complainant', async () => {
    const notification = JSON.stringify({
      notificationType: 'Complaint',
      mail: { timestamp: '2026-12-01T10:00:00.000Z', destination: ['zoe@example.com'] },
      complaint: {
        complainedRecipients: [{ emailAddress: 'zoe@example.com' }],
        timestamp: '2026-12-01T10:05:00.000Z',
        feedbackId: 'f-1',
      },
    });
    const envelope = JSON.stringify({ Type: 'Notification', MessageId: 'm-1', Message: notification });
    const explained = await explainBounce(
      [
        'From: no-reply@sns.amazonaws.com',
        'To: a@example.net',
        'Subject: AWS Notification Message',
        '',
        envelope,
        '',
      ].join('\r\n'),
    );
    assert.equal(explained.feedbackType, 'abuse');
    assert.deepEqual(
      toSuppressionRows(explained, 'x').map((row) => [row.address, row.reason, row.date]),
      [['zoe@example.com', 'complained', '2026-12-01T10:05:00.000Z']],
    );
  });

  it('Microsoft JMRP names the complainant in X-HmXmrOriginalRecipient', async () => {
    const explained = await explainBounce(
      [
        'From: staff@hotmail.com',
        'To: fbl@example.org',
        'Subject: complaint',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="J"',
        '',
        '--J',
        'Content-Type: message/rfc822',
        '',
        'X-HmXmrOriginalRecipient: <ann@example.com>',
        'From: news@example.org',
        'To: ann@example.com',
        'Subject: offers',
        '',
        'Hello',
        '--J--',
        '',
      ].join('\r\n'),
    );
    assert.deepEqual(
      explained.feedbackRecipients.map((r) => [r.address, r.source]),
      [['ann@example.com', 'jmrp']],
    );
    assert.equal(toSuppressionRows(explained, 'x')[0]?.reason, 'complained');
  });
});

describe('isRedactedAddress', () => {
  it('knows the obvious redaction forms', () => {
    for (const address of [
      'redacted@example.com',
      'REDACTED@example.com',
      'user-redacted@example.com',
      'xxxxx@example.com',
      'XXX@example.com',
      '***@example.com',
      'j*****n@example.com',
      'someone@redacted.example',
      'someone@xxxx.xxx',
      '[redacted]',
      'xxxxx',
      '9e107d9d372bb6826bd81d3542a419d6@example.com',
      '@example.com',
    ]) {
      assert.equal(isRedactedAddress(address), true, address);
    }
  });

  it('leaves real addresses alone', () => {
    for (const address of [
      'alex@example.com',
      'max.xu@example.com',
      'rex@example.com',
      'x@example.com',
      'xy@example.com',
      'private@example.com',
      'deadbeef@example.com',
      'someone@xerox.example',
    ]) {
      assert.equal(isRedactedAddress(address), false, address);
    }
  });
});

describe('the readable layout of a feedback report', () => {
  it('says when a report names nobody, and when its type asks for no suppression', async () => {
    const nobody = formatBounce(
      await explainBounce(arf('abuse', [], 'a@example.com, b@example.com')),
      'r.eml',
    );
    assert.match(nobody, /the report does not say who complained/);
    const notSpam = formatBounce(
      await explainBounce(arf('not-spam', ['Original-Rcpt-To: <yara@example.com>'], 'x@example.com')),
      'r.eml',
    );
    assert.match(
      notSpam,
      /about {5}yara@example\.com {2}\(the report's Original-Rcpt-To; a not-spam report asks for no suppression: no row\)/,
    );
  });

  it('names an opt-out report of the pre-RFC 5965 drafts, and who asked to leave', async () => {
    const text = formatBounce(await explainBounce(fixture('arf-removal-recipient.eml')), 'r.eml');
    assert.match(
      text,
      /^r\.eml: an opt-out request \(a feedback report of type opt-out-list, from the ARF drafts before RFC 5965\), not a bounce$/m,
    );
    assert.match(text, /unsubscribed {2}quentin@isp\.example {2}\(the report's Removal-Recipient\)/);
    assert.doesNotMatch(text, /redacted@isp\.example/);
  });
});
