/**
 * No function in src/ runs over 150 lines: past that, a function is usually a class in disguise (state
 * shared by closures no test can reach) or several steps a reader cannot follow apart. Data tables are
 * constants, not functions, so they are not counted. ALLOWED lists the functions still waiting to be
 * taken apart; a new long function fails here, and so does an entry that is no longer needed, so the
 * list only shrinks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { longFunctions } from '../../scripts/long-functions.js';

const LIMIT = 150;

/** `file: name` of each function allowed over the limit for now. */
const ALLOWED = new Set(['src/jobs/postgres/pg-job-store.ts: openPgJobStore']);

describe('function length', () => {
  const found = longFunctions(LIMIT);
  const keys = new Set(found.map((f) => `${f.file}: ${f.name}`));

  it(`no function in src/ runs over ${LIMIT} lines outside the allow-list`, () => {
    const fresh = found.filter((f) => !ALLOWED.has(`${f.file}: ${f.name}`));
    assert.deepEqual(
      fresh.map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`),
      [],
      'take the new long function apart: a class with #private state, or named functions each doing one thing',
    );
  });

  it('the allow-list names only functions still over the limit (remove an entry once it is split)', () => {
    assert.deepEqual(
      [...ALLOWED].filter((key) => !keys.has(key)),
      [],
    );
  });

  it('measures a function from its first line to its closing brace, inner functions included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rcpt-fnlen-'));
    try {
      const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
      writeFileSync(
        join(dir, 'a.ts'),
        [
          `export function outer() {\n${body(10)}\n  const inner = () => {\n${body(3)}\n  };\n}`,
          `export class Big {\n  method() {\n${body(4)}\n  }\n}`,
          `export const TABLE = [\n${body(30)}\n];`,
        ].join('\n'),
      );
      const got = longFunctions(4, dir).map((f) => `${f.name}:${f.line}:${f.lines}`);
      // outer: its line, 10 body lines, inner's 5 lines, its brace = 17; inner: 5; method: 6. TABLE is data.
      assert.deepEqual(got, ['outer:1:17', 'method:19:6', 'inner:12:5']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
