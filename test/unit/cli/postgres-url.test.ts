/** shownPostgresUrl(): a postgres:// URL as rcpt bulk shows it, never with its password. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { shownPostgresUrl } from '../../../src/cli/postgres-reason.js';

describe('shownPostgresUrl', () => {
  it('shows the password as *** and keeps the rest', () => {
    assert.equal(
      shownPostgresUrl('postgres://rcpt:s3cret@db.internal:5433/jobs?sslmode=require'),
      'postgres://rcpt:***@db.internal:5433/jobs?sslmode=require',
    );
    assert.equal(shownPostgresUrl('postgresql://:pw@127.0.0.1/rcpt'), 'postgresql://:***@127.0.0.1/rcpt');
  });

  it('leaves a URL without a password as it is', () => {
    assert.equal(shownPostgresUrl('postgres://rcpt@db.internal/jobs'), 'postgres://rcpt@db.internal/jobs');
  });

  it('shows a URL that does not parse as "the --db URL", never its text', () => {
    const shown = shownPostgresUrl('postgres://rcpt:s3cret@[bad host/jobs');
    assert.equal(shown, 'the --db URL');
    assert.doesNotMatch(shown, /s3cret/);
  });
});
