/**
 * A real Postfix whose greeting does not name it (issue 20): rcpt cannot know its error budget from
 * the banner and has to learn it from how the server answers. The instance keeps Postfix's default
 * limits (postfix/hidden.cf: from the 10th rejected RCPT of a session on, every reply waits 1 s; the
 * 20th ends the session with a 421), the limits most real hosts have. Learning them may cost one
 * session that crosses the soft limit once per run, never a 421, never a wrong verdict. Postfix's own
 * log is the witness: it names every rejected RCPT and every session's start and end.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';

import { subscribe, unsubscribe } from 'node:diagnostics_channel';

import { CHANNELS, createVerifier, type VerifyResult } from '../../src/index.js';
import { LAB_ADDR, LAB_OPTIONS, LAB_RUN, postfixSessions } from './lab.js';

const MAILLOG = `${LAB_RUN}/postfix-hidden/maillog`;
/** hidden.cf's smtpd_soft_error_limit: a session with this many rejected RCPTs was slowed down. */
const SOFT_LIMIT = 10;
const HOST_CONCURRENCY = 2;

describe('a Postfix that does not say so: its error budget learned, crossed at most once', () => {
  const verifier = createVerifier(LAB_OPTIONS);
  const greetings: string[] = [];
  const onLine = (message: unknown) => {
    const { ip, dir, line } = message as { ip: string; dir: string; line: string };
    if (ip === LAB_ADDR.hidden && dir === '<' && line.startsWith('220 ')) greetings.push(line);
  };
  subscribe(CHANNELS.smtpLine, onLine);
  after(async () => {
    unsubscribe(CHANNELS.smtpLine, onLine);
    await verifier.close();
  });

  it('120 known and 60 unknown mailboxes: every verdict right, one slowed session at most, no 421', async (t) => {
    const offset = statSync(MAILLOG).size;
    // Every third address is unknown, spread through the list as in a real one.
    const addresses = Array.from({ length: 180 }, (_, i) =>
      i % 3 === 2
        ? `gone${String((i - 2) / 3).padStart(3, '0')}@hidden.test`
        : `user${String(i - Math.floor(i / 3)).padStart(3, '0')}@hidden.test`,
    );
    const results: VerifyResult[] = [];
    for await (const result of verifier.verifyMany(addresses, { hostConcurrency: HOST_CONCURRENCY })) {
      results.push(result);
    }

    assert.deepEqual(results.map((r) => r.input).sort(), [...addresses].sort());
    for (const result of results) {
      const expected = result.input.startsWith('gone')
        ? ['undeliverable', 'mailbox_not_found']
        : ['deliverable', 'accepted'];
      assert.deepEqual(
        [result.verdict, result.reason],
        expected,
        `${result.input}: ${JSON.stringify(result.smtp?.reply)}`,
      );
      assert.equal(result.smtp?.host, 'mx.hidden.test');
    }

    // What makes this host's budget unannounced: its greeting does not say Postfix.
    assert.ok(greetings.length > 0);
    for (const greeting of greetings) assert.equal(greeting, '220 mx.hidden.test ESMTP ready');

    await new Promise((resolve) => setTimeout(resolve, 300)); // postlogd writes the last disconnects
    const seen = postfixSessions(readFileSync(MAILLOG, 'utf8').slice(offset).split('\n'));
    const slowed = seen.rejects.filter((n) => n >= SOFT_LIMIT).length;
    t.diagnostic(
      `${seen.rejects.length} sessions (at most ${seen.maxOpen} at once), rejected RCPTs per session: ${seen.rejects.join(' ')}`,
    );
    assert.equal(seen.tooManyErrors, 0, 'Postfix ended a session with "too many errors"');
    assert.ok(slowed <= 1, `${slowed} sessions reached Postfix's soft limit of ${SOFT_LIMIT}`);
    assert.ok(seen.maxOpen <= HOST_CONCURRENCY, `Postfix saw ${seen.maxOpen} sessions open at once`);
    // Learned, not merely avoided: sessions draw several refusals each (one a session would take 60).
    assert.ok(seen.rejects.length <= 20, `${seen.rejects.length} sessions for 61 refusals`);
    // Every unknown mailbox was refused once: none asked twice, none answered without asking.
    for (const address of addresses.filter((a) => a.startsWith('gone')))
      assert.equal(
        seen.refusedTimes.get(address),
        1,
        `${address} refused ${seen.refusedTimes.get(address) ?? 0} times`,
      );
  });
});
