/**
 * `rcpt bulk` on the files people really give it and the ways they ask for output (a real `rcpt`
 * process against the demo world on loopback): `-o -`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parse } from 'csv-parse/sync';

import { startDemoWorld, type DemoWorld } from '../../src/demo/world.js';
import { rcptProcess } from '../helpers/rcpt-process.js';
import { loopbackFlags } from '../helpers/world-options.js';

let world: DemoWorld;
let dir: string;
before(async () => {
  world = await startDemoWorld();
  dir = await mkdtemp(join(tmpdir(), 'rcpt-bulk-files-'));
});
after(async () => {
  await world.close();
  await rm(dir, { recursive: true, force: true });
});

describe('rcpt bulk: output', () => {
  it('-o - writes to standard output, as - reads standard input, not to a file named "-"', async () => {
    const work = await mkdtemp(join(dir, 'dash-'));
    await writeFile(join(work, 'list.csv'), 'email\nalice@acme.test\n');
    const dash = join(process.cwd(), '-');
    try {
      const { code, stdout, stderr } = await rcptProcess([
        'bulk',
        join(work, 'list.csv'),
        '-o',
        '-',
        '--db',
        join(work, 'jobs.db'),
        ...loopbackFlags(world),
      ]);
      assert.equal(code, 0, stderr);
      const rows = parse<Record<string, string>>(stdout, { columns: true });
      assert.deepEqual(
        rows.map((row) => [row.email, row.reason]),
        [['alice@acme.test', 'accepted']],
      );
      // Before: the CSV went to a file named "-" ("output: - (csv)"); standard output stayed empty.
      assert.match(stderr, /output: stdout \(csv\)/);
      assert.equal(existsSync(dash), false);
    } finally {
      await rm(dash, { force: true });
    }
  });

  it('an empty or header-only list says it had nothing to verify (exit 0: an empty list piped in is no failure)', async () => {
    for (const [name, text] of [
      ['empty.csv', ''],
      ['header.csv', 'email,name\r\n'],
      ['bom.csv', '\uFEFF'],
    ] as const) {
      const input = join(dir, name);
      await writeFile(input, text);
      const { code, stderr } = await rcptProcess([
        'bulk',
        input,
        '--db',
        join(dir, `${name}.db`),
        ...loopbackFlags(world),
      ]);
      assert.equal(code, 0, stderr);
      // Before: only "0 rows (0 distinct addresses)" in the summary.
      assert.match(
        stderr,
        new RegExp(
          `rcpt bulk: warning: .*${name} has no rows with an address \\(an empty file, or a header only\\): nothing was verified`,
        ),
      );
    }
  });
});
