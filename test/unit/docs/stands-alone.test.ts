/**
 * The repository stands alone: README.md, docs/ and src/ cite RFCs, public sources and the repo's own
 * docs/, never planning notes kept outside it. This is the check `grep -rn "../shared\|DESIGN.md\|STYLE.md"
 * README.md docs src` makes (its `.` matches any character, so `'./shared-options.js'` would match too:
 * no file here may be named so), plus the research notes by name.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
/** The research note on Reacher is `reacher.md` too: the repository's own docs/reacher.md is allowed. */
const FORBIDDEN =
  /..\/shared|DESIGN\.md|STYLE\.md|research\/|providers\.md|lab-notes\.md|(?<!docs\/|[([])reacher\.md/;

function files(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => files(join(path, name)));
}

describe('the repository stands alone', () => {
  it('README.md, docs/ and src/ never point outside the repository', () => {
    const found: string[] = [];
    for (const file of ['README.md', 'docs', 'src'].flatMap((p) => files(join(root, p)))) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (FORBIDDEN.test(line)) found.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(found, []);
  });

  it('every relative link in README.md and docs/ names a file of the repository', () => {
    const broken: string[] = [];
    for (const file of ['README.md', 'docs'].flatMap((p) => files(join(root, p)))) {
      if (!file.endsWith('.md')) continue;
      for (const match of readFileSync(file, 'utf8').matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (match[1] ?? '').split('#')[0] ?? '';
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(dirname(file), target))) broken.push(`${relative(root, file)}: ${match[1]}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('the check finds what it looks for', () => {
    for (const line of [
      'see ../shared/DESIGN.md',
      'DESIGN.md §2',
      'STYLE.md',
      "from './shared-options.js'",
    ]) {
      assert.match(line, FORBIDDEN);
    }
    assert.doesNotMatch('see docs/result.md and RFC 5321 §4.5.3.2', FORBIDDEN);
    assert.match('as listed in reacher.md §1', FORBIDDEN);
    assert.doesNotMatch('see docs/reacher.md, or [reacher.md](reacher.md)', FORBIDDEN);
  });
});
