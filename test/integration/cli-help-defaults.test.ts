/**
 * The defaults `--help` and the docs give are the library's: each verb's help prints the constant
 * (options.ts, doctor/), and docs/cli.md and docs/doctor.md give the same value, so a default changed in
 * its one home changes the help with it, and a doc left behind fails here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  DEFAULT_BLOCKLISTS,
  DEFAULT_DOCTOR_PROVIDERS,
  DEFAULT_GREYLIST_WAIT_MS,
  DEFAULT_SMTP_PORT,
  DEFAULT_TIMEOUT_MS,
  DOCTOR_GREETING_TIMEOUT_MS,
} from '../../src/index.js';
import { DOCTOR_CONNECT_TIMEOUT_MS } from '../../src/doctor/index.js';
import { runCli } from '../helpers/run-cli.js';

/** The description of `flag` in a commander help text, its wrapped lines joined by one space. */
function described(help: string, flag: string): string {
  const lines = help.split('\n');
  const start = lines.findIndex((line) => line.trimStart().startsWith(`${flag} `));
  assert.notEqual(start, -1, `${flag} in the help`);
  const parts = [lines[start] ?? ''];
  // Continuation lines are indented to the description column; the next option starts with `-`.
  for (const line of lines.slice(start + 1)) {
    if (!/^\s{3,}\S/.test(line) || /^\s*-/.test(line)) break;
    parts.push(line);
  }
  return parts.map((part) => part.trim()).join(' ');
}

/** The cell of column `column` in the row of a docs/*.md table whose first cell starts with `` `flag ``. */
function documented(path: string, flag: string, column: number): string {
  const text = readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
  const row = text.split('\n').find((line) => line.startsWith(`| \`${flag} `));
  assert.ok(row !== undefined, `${flag} in ${path}`);
  return row.split('|')[column + 1]?.trim() ?? '';
}

async function helpOf(verb: string): Promise<string> {
  const { code, stdout } = await runCli([verb, '--help']);
  assert.equal(code, 0);
  return stdout;
}

describe('--help and the docs print the library’s defaults', () => {
  it('rcpt verify: --smtp-port, --timeout and --greylist-wait (in seconds)', async () => {
    const help = await helpOf('verify');
    const greylistWait = DEFAULT_GREYLIST_WAIT_MS / 1000;
    assert.match(described(help, '--smtp-port'), new RegExp(`default ${DEFAULT_SMTP_PORT}\\)$`));
    assert.match(described(help, '--timeout'), new RegExp(`default ${DEFAULT_TIMEOUT_MS}\\)$`));
    assert.match(described(help, '--greylist-wait'), new RegExp(`default ${greylistWait}\\)$`));
    assert.equal(documented('docs/cli.md', '--smtp-port', 2), String(DEFAULT_SMTP_PORT));
    assert.equal(documented('docs/cli.md', '--timeout', 2), String(DEFAULT_TIMEOUT_MS));
    assert.equal(documented('docs/cli.md', '--greylist-wait', 2), String(greylistWait));
  });

  it('rcpt doctor: --greeting-timeout, --provider and --blocklist', async () => {
    const help = await helpOf('doctor');
    assert.match(
      described(help, '--greeting-timeout'),
      new RegExp(`default ${DOCTOR_GREETING_TIMEOUT_MS}\\)$`),
    );
    assert.ok(
      described(help, '--provider').endsWith(`(default: ${DEFAULT_DOCTOR_PROVIDERS.join(', ')})`),
      described(help, '--provider'),
    );
    assert.ok(
      described(help, '--blocklist').endsWith(`(default: ${DEFAULT_BLOCKLISTS.join(', ')})`),
      described(help, '--blocklist'),
    );
    assert.equal(
      documented('docs/doctor.md', '--greeting-timeout', 2),
      `${DOCTOR_GREETING_TIMEOUT_MS} (the TCP connect gets ${DOCTOR_CONNECT_TIMEOUT_MS})`,
    );
    assert.equal(
      documented('docs/doctor.md', '--provider', 2),
      DEFAULT_DOCTOR_PROVIDERS.map((domain) => `\`${domain}\``).join(', '),
    );
  });
});
