/** The CLI's enumerated flag values, in the case people type them (in-process, no network). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parse } from 'csv-parse/sync';

import { runCli } from '../helpers/run-cli.js';

describe('enumerated flag values in any case', () => {
  it('verify --format CSV --fail-on Never, explain --command mail --json', async () => {
    // Before: "error: option '--format <format>' argument 'CSV' is invalid. Allowed choices are …", exit 64.
    const verify = await runCli(['verify', '--format', 'CSV', '--fail-on', 'Never', 'alice@@example.com']);
    assert.equal(verify.code, 0, verify.stderr);
    const rows = parse<Record<string, string>>(verify.stdout, { columns: true });
    assert.deepEqual(
      rows.map((row) => [row.email, row.reason]),
      [['alice@@example.com', 'invalid_syntax']],
    );
    const explain = await runCli(['explain', '--command', 'mail', '--json', '550 5.1.1 user unknown']);
    assert.equal(explain.code, 0, explain.stderr);
    assert.equal((JSON.parse(explain.stdout) as { readAs: string }).readAs, 'mail');
  });

  it('a value that is none of the choices is still refused, naming them', async () => {
    const { code, stderr } = await runCli(['explain', '--command', 'RCPT2', '550 x']);
    assert.equal(code, 64);
    assert.match(
      stderr,
      /Allowed choices are CONNECT, EHLO, HELO, STARTTLS, AUTH, MAIL, RCPT, DATA, RSET, QUIT\./,
    );
  });
});
