/** `CatchAllReads` (src/decide/decide.ts): `catchAllAnswer()` once per reply object, with the same answers. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { CatchAllReads, catchAllAnswer } from '../../../src/decide/index.js';
import { PROVIDER_RULES, providerById, type ProviderRule } from '../../../src/providers/index.js';
import type { SmtpReplyInfo } from '../../../src/types.js';

const replies: SmtpReplyInfo[] = [
  { stage: 'rcpt', code: 250, enhanced: '2.1.5', text: '2.1.5 Ok' },
  { stage: 'rcpt', code: 550, enhanced: '5.1.1', text: '5.1.1 <r0a1@example.test>: User unknown' },
  { stage: 'rcpt', code: 550, enhanced: '5.7.1', text: '5.7.1 Client host blocked using zen.spamhaus.org' },
  {
    stage: 'rcpt',
    code: 450,
    enhanced: '4.2.0',
    text: '4.2.0 Greylisted, see http://postgrey.schweikert.ch',
  },
  { stage: 'rcpt', code: 421, enhanced: null, text: 'Too many errors' },
  { stage: 'rcpt', code: 554, enhanced: '5.7.1', text: '5.7.1 Relay access denied' },
  {
    stage: 'rcpt',
    code: 553,
    enhanced: null,
    text: 'sorry, that domain isn\u2019t in my list of allowed rcpthosts',
  },
];
const providers: (ProviderRule | null)[] = [null, ...(PROVIDER_RULES as readonly ProviderRule[])];

describe('CatchAllReads', () => {
  it('answers as catchAllAnswer() for every reply and provider, read first and read again', () => {
    for (const provider of providers) {
      const reads = new CatchAllReads();
      for (const reply of replies) {
        const expected = catchAllAnswer(reply, provider);
        const where = `${reply.code} ${reply.text} at ${provider?.id ?? 'no provider'}`;
        assert.equal(reads.answer(reply, provider), expected, where);
        assert.equal(reads.answer(reply, provider), expected, `${where}, again`);
      }
    }
    assert.equal(new CatchAllReads().answer(null, null), null);
  });

  it('reads a reply again for another provider: the answer is kept per reply and provider', () => {
    // Outlook's "550 5.5.0 mailbox unavailable" is its word for an unknown mailbox; elsewhere it
    // proves nothing.
    const reply: SmtpReplyInfo = {
      stage: 'rcpt',
      code: 550,
      enhanced: '5.5.0',
      text: '5.5.0 Requested action not taken: mailbox unavailable. [BN8NAM11FT015.eop-nam11.prod.protection.outlook.com]',
    };
    const outlook = providerById('outlook');
    assert.ok(outlook !== null);
    const reads = new CatchAllReads();
    assert.equal(reads.answer(reply, null), null);
    assert.equal(reads.answer(reply, outlook), false);
    assert.equal(reads.answer(reply, null), null);
  });
});
