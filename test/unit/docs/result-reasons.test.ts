/**
 * docs/result.md's reason table is the documentation of `REASONS` (src/types.ts): every code, with its
 * verdict, once. A reason added to the code without a row, a row without a code, or a verdict that
 * differs fails here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { REASONS, VERDICTS } from '../../../src/types.js';

const doc = readFileSync(new URL('../../../docs/result.md', import.meta.url), 'utf8');

/** The rows `| verdict | \`reason\` | meaning |` of the table under "Reasons and their verdicts". */
function documentedReasons(): [reason: string, verdict: string][] {
  const section = doc.split(/^## Reasons and their verdicts$/m)[1];
  assert.ok(section !== undefined, 'docs/result.md has a "Reasons and their verdicts" section');
  const table = section.split(/^## /m)[0] ?? '';
  const rows: [string, string][] = [];
  for (const line of table.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (cells.length < 4 || !/^`[a-z0-9_]+`$/.test(cells[2] ?? '')) continue;
    rows.push([(cells[2] ?? '').slice(1, -1), cells[1] ?? '']);
  }
  return rows;
}

describe('docs/result.md', () => {
  it('lists every reason code once, with the verdict REASONS gives it', () => {
    const rows = documentedReasons();
    assert.ok(rows.length > 0, 'the reason table has rows');
    const names = rows.map(([reason]) => reason);
    assert.deepEqual(
      names.filter((name, i) => names.indexOf(name) !== i),
      [],
      'no reason is listed twice',
    );
    assert.deepEqual(new Map(rows), new Map(Object.entries(REASONS)));
  });

  it('names only the four verdicts', () => {
    for (const [reason, verdict] of documentedReasons()) {
      assert.ok((VERDICTS as readonly string[]).includes(verdict), `${reason}: ${verdict}`);
    }
  });
});
