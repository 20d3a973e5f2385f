/**
 * `rcpt bulk` on the CSV exports people have (a real `rcpt` process against the demo world): the
 * address column found when its name is not one rcpt knows, but it is the only column of addresses;
 * Excel's `sep=` line.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
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
  dir = await mkdtemp(join(tmpdir(), 'rcpt-bulk-columns-'));
});
after(async () => {
  await world.close();
  await rm(dir, { recursive: true, force: true });
});

async function bulk(name: string, text: string) {
  const input = join(dir, name);
  await writeFile(input, text);
  return rcptProcess(['bulk', input, '--db', join(dir, `${name}.db`), ...loopbackFlags(world)]);
}

describe('rcpt bulk: the address column of common exports', () => {
  it("Google Contacts' export (E-mail 1 - Value): the one column of addresses is verified", async () => {
    const { code, stdout, stderr } = await bulk(
      'google.csv',
      [
        'Name,Given Name,E-mail 1 - Type,E-mail 1 - Value,Phone 1 - Value',
        'Alice Smith,Alice,* Home,alice@acme.test,+1 555 0100',
        'Nobody,No,* Work,nobody@acme.test,',
        'Carol,Carol,,,+1 555 0101',
        '',
      ].join('\n'),
    );
    // Before: exit 64, "no address column in the header (Name, Given Name, E-mail 1 - Type, …)".
    assert.equal(code, 0, stderr);
    const rows = parse<Record<string, string>>(stdout, { columns: true });
    assert.deepEqual(
      rows.map((row) => [row['E-mail 1 - Value'], row.verdict, row.reason, row.Name]),
      [
        ['alice@acme.test', 'deliverable', 'accepted', 'Alice Smith'],
        ['nobody@acme.test', 'undeliverable', 'mailbox_not_found', 'Nobody'],
        ['', 'unknown', 'no_address', 'Carol'],
      ],
    );
  });

  it('two columns of addresses, or none: the choice stays the user’s (--column), with the header named', async () => {
    for (const text of ['Contact,Manager\nalice@acme.test,info@acme.test\n', 'Name,Team\nAlice,red\n']) {
      const { code, stderr } = await bulk('ambiguous.csv', text);
      assert.equal(code, 64, stderr);
      assert.match(stderr, /no address column in the header \(\w+, \w+\); name it with --column/);
    }
  });

  it("Excel's delimiter hint (sep=; before the header) names the delimiter and is not read as the header", async () => {
    const { code, stdout, stderr } = await bulk(
      'excel.csv',
      '\uFEFFsep=;\r\nName;Email\r\nAlice;alice@acme.test\r\nNobody;nobody@acme.test\r\n',
    );
    // Before: exit 64, "no address column in the header (sep=, )".
    assert.equal(code, 0, stderr);
    const rows = parse<Record<string, string>>(stdout, { columns: true, delimiter: ';' });
    assert.deepEqual(
      rows.map((row) => [row.Name, row.Email, row.reason]),
      [
        ['Alice', 'alice@acme.test', 'accepted'],
        ['Nobody', 'nobody@acme.test', 'mailbox_not_found'],
      ],
    );
  });
});
