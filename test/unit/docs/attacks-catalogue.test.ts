/**
 * docs/attacks.md cannot rot: every row names a test that exists (the file, and a test or suite of
 * that exact title, as written in the source), and the counts it states are the table's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CATALOGUE = readFileSync(`${REPO}docs/attacks.md`, 'utf8');

interface Row {
  readonly number: number;
  readonly file: string;
  readonly title: string;
  readonly held: string;
}

function rows(): Row[] {
  const found: Row[] = [];
  for (const line of CATALOGUE.split('\n')) {
    const cells = /^\| (\d+) \|/.exec(line);
    if (cells === null) continue;
    const proof = /`([^`]+\.test\.ts)` › `([^`]+)`/.exec(line);
    assert.ok(proof !== null, `row ${cells[1]} names no test as \`FILE\` › \`TITLE\`: ${line}`);
    const held = line.trim().replace(/\|$/, '').split('|').at(-1)?.trim() ?? '';
    found.push({ number: Number(cells[1]), file: proof[1] ?? '', title: proof[2] ?? '', held });
  }
  return found;
}

/** The titles of `it(…)`, `test(…)` and `describe(…)` calls in a test file, as written. */
function titlesIn(source: string): Set<string> {
  const titles = new Set<string>();
  const call = /\b(?:it|test|describe)\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g;
  for (const match of source.matchAll(call)) titles.add((match[2] ?? '').replace(/\\(['"`])/g, '$1'));
  return titles;
}

describe('docs/attacks.md, the attack catalogue', () => {
  const table = rows();

  it('has rows numbered 1, 2, … each naming a test', () => {
    assert.ok(table.length > 0);
    assert.deepEqual(
      table.map((row) => row.number),
      table.map((_, index) => index + 1),
    );
  });

  it('every test it names exists: the file, and a test or suite of that exact title', () => {
    for (const row of table) {
      const path = `${REPO}${row.file}`;
      assert.ok(existsSync(path), `row ${row.number}: no file ${row.file}`);
      const titles = titlesIn(readFileSync(path, 'utf8'));
      assert.ok(titles.has(row.title), `row ${row.number}: no test "${row.title}" in ${row.file}`);
    }
  });

  it('states its own counts: attacks = rows, held = rows marked yes', () => {
    const counts = /\*\*(\d+) attacks, (\d+) held\.\*\*/.exec(CATALOGUE);
    assert.ok(counts !== null, 'the "**N attacks, M held.**" line');
    assert.equal(Number(counts[1]), table.length);
    assert.equal(Number(counts[2]), table.filter((row) => row.held === 'yes').length);
    for (const row of table) assert.match(row.held, /^(yes|no)$/, `row ${row.number}`);
  });
});
