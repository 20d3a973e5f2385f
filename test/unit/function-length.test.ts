/**
 * No function in src/ runs over 150 lines: past that, a function is usually a class in disguise (state
 * shared by closures no test can reach) or several steps a reader cannot follow apart. Data tables are
 * constants, not functions, so they are not counted. There is no allow-list: the last function waiting
 * to be taken apart (openPgJobStore) was, so a long function fails here wherever it appears.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { longFunctions } from '../../scripts/long-functions.js';

const LIMIT = 150;

describe('function length', () => {
  it(`no function in src/ runs over ${LIMIT} lines`, () => {
    assert.deepEqual(
      longFunctions(LIMIT).map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`),
      [],
      'take the long function apart: a class with #private state, or named functions each doing one thing',
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
