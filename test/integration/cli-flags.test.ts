/**
 * The CLI's enumerated flag values, in the case people type them (in-process, no network), and its usage
 * errors as the real process prints them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parse } from 'csv-parse/sync';

import { rcptProcess } from '../helpers/rcpt-process.js';
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
      /^rcpt: --command: must be one of CONNECT, EHLO, HELO, STARTTLS, AUTH, MAIL, RCPT, DATA, RSET, QUIT \(got 'RCPT2'\)$/m,
    );
  });
});

describe('usage errors in the documented form (docs/cli.md), through the real process', () => {
  it("every kind is one 'rcpt: WHAT: why' line, then the verb's help hint, exit 64", async () => {
    // Before: commander's own "error: unknown option '--x'", "error: missing required argument
    // 'address'", "error: option '--timeout <ms>' argument 'abc' is invalid. …", "error: unknown
    // command 'verif'": each exit 64, none in the form the errors of rcpt itself have.
    const cases: [string[], string, string][] = [
      [['verify', '--x', 'a@b.test'], 'rcpt: --x: no such option', 'verify'],
      [
        ['verify'],
        'rcpt: verify: missing its address argument (rcpt verify [options] <address...>)',
        'verify',
      ],
      [['bulk'], 'rcpt: bulk: missing its input argument (rcpt bulk [options] <input>)', 'bulk'],
      [
        ['verify', '--timeout', 'abc', 'a@b.test'],
        "rcpt: --timeout: must be an integer from 1 to 86400000 (got 'abc')",
        'verify',
      ],
      [
        ['serve', '--port', '70000'],
        "rcpt: --port: must be an integer from 0 to 65535 (got '70000')",
        'serve',
      ],
      [['verify', '--helo'], 'rcpt: --helo: needs a value (--helo <name>)', 'verify'],
      [
        ['bulk', 'a.csv', 'b.csv'],
        'rcpt: bulk: too many arguments: it takes 1, got 2 (rcpt bulk [options] <input>)',
        'bulk',
      ],
      [['frobnicate'], 'rcpt: frobnicate: no such verb', ''],
      [['verif', 'a@b.test'], 'rcpt: verif: no such verb (did you mean verify?)', ''],
      [['--x'], 'rcpt: --x: no such option', ''],
    ];
    for (const [args, line, verb] of cases) {
      const { code, stdout, stderr } = await rcptProcess(args, { stdin: '' });
      assert.equal(code, 64, args.join(' '));
      assert.equal(stdout, '', args.join(' '));
      const hint =
        verb === ''
          ? "(rcpt --help lists the verbs; rcpt VERB --help a verb's options)"
          : `(rcpt ${verb} --help lists its options)`;
      assert.equal(stderr, `${line}\n${hint}\n`, args.join(' '));
    }
  });

  it('a proxy URL refused is not repeated (it may hold a password)', async () => {
    const { code, stderr } = await rcptProcess([
      'verify',
      '--proxy',
      'http://user:s3cret@h.test:1',
      'a@b.test',
    ]);
    assert.equal(code, 64);
    assert.match(stderr, /^rcpt: --proxy: /);
    assert.doesNotMatch(stderr, /s3cret/);
  });
});
