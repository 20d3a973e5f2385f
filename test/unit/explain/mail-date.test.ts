/**
 * mailDate (src/explain/mail-date.ts): a bounce's dates as the instant they name, read the same on any
 * machine, or as written when the instant is not known (a zone name of several zones, no zone): never a
 * guessed time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { mailDate } from '../../../src/explain/mail-date.js';

describe('mailDate', () => {
  it('reads zone names of one offset that JavaScript does not (JST, KST, CET, CEST, MSK, AEST, …)', () => {
    for (const [value, iso] of [
      // Before: as written (Date.parse gives NaN for each).
      ['Thu, 9 Apr 2006 23:34:45 JST', '2006-04-09T14:34:45.000Z'],
      ['Thu, 9 Apr 2006 23:34:45 jst', '2006-04-09T14:34:45.000Z'],
      ['Mon, 7 Dec 2026 10:00:00 KST', '2026-12-07T01:00:00.000Z'],
      ['Mon, 7 Dec 2026 10:00:00 CET', '2026-12-07T09:00:00.000Z'],
      ['Mon, 6 Jul 2026 10:00:00 CEST', '2026-07-06T08:00:00.000Z'],
      ['Mon, 6 Jul 2026 10:00:00 MESZ', '2026-07-06T08:00:00.000Z'],
      ['Mon, 7 Dec 2026 10:00:00 MSK', '2026-12-07T07:00:00.000Z'],
      ['Mon, 7 Dec 2026 10:00:00 AEST', '2026-12-07T00:00:00.000Z'],
      ['Mon, 7 Dec 2026 10:00:00 ACST', '2026-12-07T00:30:00.000Z'],
      ['Mon, 7 Dec 2026 10:00:00 NZDT', '2026-12-06T21:00:00.000Z'],
    ] as const)
      assert.equal(mailDate(value), iso, value);
  });

  it("reads RFC 5322's forms: numeric zones, its zone names, two-digit years, comments, a zero-padded day", () => {
    for (const [value, iso] of [
      ['Thu, 29 Apr 2013 23:34:45 -0800 (PST)', '2013-04-30T07:34:45.000Z'],
      ['Thu, 09 Apr 2006 23:34:45 +0900 (JST)', '2006-04-09T14:34:45.000Z'],
      ['Thu, 9 Apr 2006 23:34:45 +0530', '2006-04-09T18:04:45.000Z'],
      ['9 Apr 2006 23:34 -0000', '2006-04-09T23:34:00.000Z'],
      ['Thu, 20 Apr 2008 23:34:45 UT', '2008-04-20T23:34:45.000Z'],
      ['Thu, 29 Apr 2013 23:34:45 GMT', '2013-04-29T23:34:45.000Z'],
      ['Mon, 7 Dec 2026 10:00:00 EST', '2026-12-07T15:00:00.000Z'],
      ['Mon, 6 Jul 2026 10:00:00 PDT', '2026-07-06T17:00:00.000Z'],
      ['Mon, 7 Dec 2026 10:00:00 +0800 (CST)', '2026-12-07T02:00:00.000Z'],
      ['Tue, 23 Nov 21 07:04:16 UTC', '2021-11-23T07:04:16.000Z'],
      ['Fri, 01 Oct 99 13:48:54 Z', '1999-10-01T13:48:54.000Z'],
      ['Tue, 029 Apr 2019 23:34:45 -0800 (PST)', '2019-04-30T07:34:45.000Z'],
      ['Thursday, 9 April 2006 23:34:45 +0900', '2006-04-09T14:34:45.000Z'],
      ['  Thu, 9 Apr 2006\r\n 23:34:45 +0900  ', '2006-04-09T14:34:45.000Z'],
      ['2015-10-01T22:48:54+09:00', '2015-10-01T13:48:54.000Z'],
      ['2015-10-01T13:48:54.123Z', '2015-10-01T13:48:54.123Z'],
    ] as const)
      assert.equal(mailDate(value), iso, value);
  });

  it('keeps a date as written when its instant is not known: no zone, a zone in a comment only, a name of several zones, a military letter', () => {
    for (const value of [
      // Before: read in this machine's zone, as if it were UTC here ('2007-05-03T23:34:45.000Z').
      'Wed, 3 May 2007 23:34:45',
      'Wed, 3 May 2007 23:34:45 (JST)',
      'Thursday, April 09, 2003 9:00 AM',
      // India (+0530), Israel (+0200) or Ireland (+0100); British summer time or Bangladesh.
      'Mon, 7 Dec 2026 10:00:00 IST',
      'Mon, 6 Jul 2026 10:00:00 BST',
      // US Central (RFC 5322's -0600), China (+0800, as Chinese mailers write it) or Cuba (-0500). Before:
      // read as US Central ('2026-12-07T16:00:00.000Z'), fourteen hours off for a Chinese mailer's date.
      'Mon, 7 Dec 2026 10:00:00 CST',
      'Mon, 7 Dec 2026 10:00:00 A',
      'Mon, 7 Dec 2026 10:00:00 EST5EDT',
      '2012-10-31 04-46-42',
      '<23:34:45 qui, 29 Abril 2015>',
      'Mon, 31 Apr 2026 10:00:00 +0000',
      'Mon, 7 Dec 2026 25:00:00 +0000',
      'yesterday',
    ])
      assert.equal(mailDate(value), value, value);
    assert.equal(mailDate('  Wed, 3 May 2007 23:34:45 \n'), 'Wed, 3 May 2007 23:34:45');
    for (const empty of ['', '  ', null, undefined]) assert.equal(mailDate(empty), null);
  });
});
