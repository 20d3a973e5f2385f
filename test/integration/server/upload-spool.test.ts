/**
 * The spool an upload waits in (src/server/upload-spool.ts), on a real file system: rows come back as
 * they were added, whatever characters they hold, across the segments they were written in; each
 * segment is an unlinked file whose space is freed (its handle closed) once it has been read back, so
 * an accepted upload is not on disk twice while it is stored. Open handles are read from /proc/self/fd.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { InputRow } from '../../../src/jobs/index.js';
import { UploadSpool } from '../../../src/server/upload-spool.js';

let directory: string;

before(() => {
  directory = mkdtempSync(join(tmpdir(), 'rcpt-spool-'));
});

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** This process's open spool segments (unlinked files of `directory`). */
function openSegments(): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${directory}/.rcpt-upload-`)) count += 1;
    } catch {
      // A descriptor closed while it was listed.
    }
  }
  return count;
}

/** 1,000 rows, some with a line break, a Unicode line separator, quotes, fields or an error. */
const ROWS: InputRow[] = Array.from({ length: 1_000 }, (_, i) => ({
  row: i + 1,
  line: 2 * i + 3,
  input: i % 7 === 0 ? `"odd\nname ${i}"\u2028@acme.test` : `u${i}@acme.test`,
  fields: i % 3 === 0 ? [`u${i}@acme.test`, `Person, "${i}"`, ''] : null,
  error: i % 11 === 0 ? `row ${i}: unreadable` : null,
}));

async function spoolOf(rows: readonly InputRow[], segmentBytes: number): Promise<UploadSpool> {
  const spool = await UploadSpool.open(directory, segmentBytes);
  for (const row of rows) {
    spool.push(row);
    // Small writes, so that they fill many segments.
    if (row.row % 10 === 0) await spool.flush();
  }
  return spool;
}

describe('UploadSpool', () => {
  it('reads every row back as it was added, across segments, each freed once read', async () => {
    const spool = await spoolOf(ROWS, 4_096);
    try {
      await spool.flush();
      const written = openSegments();
      assert.ok(written >= 10, `${written} segments`);
      assert.deepEqual(readdirSync(directory), [], 'a spool file has a name');
      const read: InputRow[] = [];
      const open: number[] = [];
      for await (const row of spool.read()) {
        read.push(row);
        if (row.row % 100 === 0) open.push(openSegments());
      }
      assert.deepEqual(read, ROWS);
      // Fewer segments held as the rows are read, none once they all are.
      assert.deepEqual(
        open,
        [...open].sort((a, b) => b - a),
        `open segments while reading: ${open.join(', ')}`,
      );
      assert.ok((open.at(-1) ?? written) <= 1, `open segments while reading: ${open.join(', ')}`);
      assert.ok((open[0] ?? 0) < written, `open segments while reading: ${open.join(', ')}`);
      assert.equal(openSegments(), 0);
    } finally {
      await spool.close();
    }
  });

  it('keeps one segment for rows that fit in it, and close() frees a spool never read back', async () => {
    const small = await spoolOf(ROWS.slice(0, 50), 1024 * 1024);
    const large = await spoolOf(ROWS, 4_096);
    await small.flush();
    await large.flush();
    const both = openSegments();
    assert.ok(both >= 11, `${both} segments`);
    await large.close();
    assert.equal(openSegments(), 1);
    const read: InputRow[] = [];
    for await (const row of small.read()) read.push(row);
    assert.deepEqual(read, ROWS.slice(0, 50));
    await small.close();
    assert.equal(openSegments(), 0);
  });
});
