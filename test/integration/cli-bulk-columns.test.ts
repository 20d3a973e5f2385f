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

  it("Outlook's export (E-mail Address, E-mail 2 Address, E-mail 3 Address): says which column is verified, and how to choose", async () => {
    const text = [
      'First Name,Last Name,E-mail Address,E-mail 2 Address,E-mail 3 Address,Mobile Phone',
      'Alice,Smith,alice@acme.test,alice.smith@acme.test,,',
      'Bob,Jones,,nobody@acme.test,,06 12 34 56 78',
      '',
    ].join('\n');
    const { code, stdout, stderr } = await bulk('outlook.csv', text);
    assert.equal(code, 0, stderr);
    // Before: nothing said; only the first column was verified, the others silently passed over.
    assert.match(
      stderr,
      /outlook\.csv: the column "E-mail Address" is verified; "E-mail 2 Address" and "E-mail 3 Address" also hold addresses and are not; choose another with --column NAME\n/,
    );
    const rows = parse<Record<string, string>>(stdout, { columns: true });
    assert.deepEqual(
      rows.map((row) => [row['First Name'], row.reason]),
      [
        ['Alice', 'accepted'],
        ['Bob', 'no_address'],
      ],
    );
    // Chosen: verified, and nothing more said.
    const input = join(dir, 'outlook.csv');
    const chosen = await rcptProcess([
      'bulk',
      input,
      '--column',
      'E-mail 2 Address',
      '--db',
      join(dir, 'outlook-2.db'),
      ...loopbackFlags(world),
    ]);
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.doesNotMatch(chosen.stderr, /is verified/);
    assert.deepEqual(
      parse<Record<string, string>>(chosen.stdout, { columns: true }).map((row) => [
        row['First Name'],
        row.reason,
      ]),
      [
        ['Alice', 'mailbox_not_found'],
        ['Bob', 'mailbox_not_found'],
      ],
    );
    // One address column: nothing said.
    const single = await bulk('single.csv', 'Name,Email,Phone\nAlice,alice@acme.test,1\n');
    assert.equal(single.code, 0, single.stderr);
    assert.doesNotMatch(single.stderr, /is verified/);
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
