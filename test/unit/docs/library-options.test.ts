/**
 * docs/library.md documents every option: the option tables list exactly the keys the library accepts
 * (VERIFY_OPTION_KEYS, VERIFY_MANY_OPTION_KEYS), with the default the code applies, and the `RCPT_*`
 * variable the CLI maps onto each (src/cli/common-options.ts). An option added, renamed or given a new
 * default without its row fails here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_BACKOFF_MS,
  DEFAULT_GREYLIST_RETRIES,
  DEFAULT_HOST_CONCURRENCY,
  DEFAULT_HOST_TRIES,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_VERIFY_MANY_CONCURRENCY,
  resolveOptions,
  VERIFY_OPTION_KEYS,
} from '../../../src/options.js';
import { VERIFY_CALL_OPTION_KEYS, VERIFY_MANY_OPTION_KEYS } from '../../../src/verifier.js';
import { DEFAULT_SLOW_START } from '../../../src/scheduler/reply-rate.js';
import { toVerifyOptions } from '../../../src/cli/common-options.js';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
const doc = read('docs/library.md');

interface Row {
  readonly option: string;
  readonly type: string;
  readonly fallback: string;
  readonly cli: string;
}

/** The rows of the table under the heading `### TITLE`. */
function table(title: string): Row[] {
  const section = doc.split(`\n### ${title}\n`)[1];
  assert.ok(section !== undefined, `docs/library.md has a "### ${title}" section`);
  const rows: Row[] = [];
  for (const line of (section.split(/\n#{2,3} /)[0] ?? '').split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const name = /^`(\w+)`$/.exec(cells[1] ?? '');
    if (name === null || cells.length < 6) continue;
    rows.push({ option: name[1] ?? '', type: cells[2] ?? '', fallback: cells[3] ?? '', cli: cells[4] ?? '' });
  }
  return rows;
}

const verifierRows = table('Verifier options');
const manyRows = table('`verifyMany()` options');
const callRows = table('Call options');

describe('docs/library.md options', () => {
  it('lists every verifier option once, and nothing else', () => {
    assert.deepEqual(verifierRows.map((r) => r.option).sort(), [...VERIFY_OPTION_KEYS].sort());
  });

  it('lists every verifyMany() option once, and nothing else', () => {
    assert.deepEqual(manyRows.map((r) => r.option).sort(), [...VERIFY_MANY_OPTION_KEYS].sort());
  });

  it("lists every call option of a verifier's verify() once, and nothing else", () => {
    assert.deepEqual(callRows.map((r) => r.option).sort(), [...VERIFY_CALL_OPTION_KEYS].sort());
  });

  it('gives each verifier option the default resolveOptions() applies', () => {
    const defaults = resolveOptions() as unknown as Record<string, unknown>;
    for (const row of verifierRows) {
      const value = defaults[row.option];
      if (typeof value === 'number' || typeof value === 'boolean') {
        assert.ok(
          row.fallback.startsWith(String(value)),
          `${row.option}: documented "${row.fallback}", code ${value}`,
        );
        assert.equal(row.type, `\`${typeof value}\``, row.option);
      } else if (value === '') {
        assert.ok(row.fallback.startsWith("`''`"), `${row.option}: documented "${row.fallback}", code ''`);
      }
    }
  });

  it('gives each verifyMany() option the default the scheduler applies', () => {
    const defaults: Record<string, number> = {
      concurrency: DEFAULT_VERIFY_MANY_CONCURRENCY,
      hostConcurrency: DEFAULT_HOST_CONCURRENCY,
      hostCommandsPerSecond: 0,
      slowStart: DEFAULT_SLOW_START,
      hostTries: DEFAULT_HOST_TRIES,
      backoffMs: DEFAULT_BACKOFF_MS,
      maxBackoffMs: DEFAULT_MAX_BACKOFF_MS,
      greylistRetries: DEFAULT_GREYLIST_RETRIES,
      maxSessions: DEFAULT_MAX_SESSIONS,
    };
    for (const row of manyRows) {
      if (row.option === 'signal') continue;
      assert.ok(row.fallback.startsWith(String(defaults[row.option])), `${row.option}: "${row.fallback}"`);
    }
  });

  it('names, for each option, the RCPT_* variable the CLI maps onto it, and every such variable', () => {
    const source = read('src/cli/common-options.ts');
    const variables = [...new Set(source.match(/RCPT_[A-Z_]+/g) ?? [])];
    assert.ok(variables.length >= 5, 'the CLI reads some variables');
    const samples = [
      '1',
      '127.0.0.1',
      'probe.example.net',
      'verify@example.net',
      'socks5://127.0.0.1:1080',
      'example.com=direct',
    ];
    for (const variable of variables) {
      const keys = new Set<string>();
      for (const sample of samples) {
        try {
          for (const key of Object.keys(toVerifyOptions({}, { [variable]: sample }))) keys.add(key);
        } catch {
          // A sample of the wrong kind for this variable: the next one fits.
        }
      }
      assert.equal(keys.size, 1, `${variable} sets one option (${[...keys].join(', ')})`);
      const option = [...keys][0] ?? '';
      const row = verifierRows.find((r) => r.option === option);
      assert.ok(row?.cli.includes(`\`${variable}\``), `${option}'s row names ${variable}`);
    }
    for (const row of verifierRows) {
      for (const variable of row.cli.match(/RCPT_[A-Z_]+/g) ?? []) {
        assert.ok(
          variables.includes(variable) || read('src/cli/worker.ts').includes(variable),
          `${row.option}: ${variable} is read by the CLI`,
        );
      }
    }
  });
});
