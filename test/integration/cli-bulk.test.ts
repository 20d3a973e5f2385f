/**
 * `rcpt bulk` end to end: in-process through `run()` against the demo world, and as a real child
 * process killed with SIGKILL mid-run, then resumed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';

import { startDnsServer, type DnsServer } from '../../src/demo/dns-server.js';
import { mailboxes, startPersona, type RunningPersona } from '../../src/demo/smtp-persona.js';
import { startDemoWorld, type DemoWorld } from '../../src/demo/world.js';
import { run } from '../../src/cli/main.js';
import { CHANNELS } from '../../src/index.js';
import { runCli, type Captured } from '../helpers/run-cli.js';
import { runBulk, startBulk } from '../reliability/helpers/disk-run.js';
import { storedResults } from '../helpers/stored-results.js';
import { loopbackFlags } from '../helpers/world-options.js';

function rcpt(args: string[], stdin?: string): Promise<Captured> {
  return runCli(args, stdin === undefined ? {} : { stdin });
}

let world: DemoWorld;
let dir: string;
before(async () => {
  world = await startDemoWorld();
  dir = await mkdtemp(join(tmpdir(), 'rcpt-bulk-'));
});
after(async () => {
  await world.close();
  await rm(dir, { recursive: true, force: true });
});

const worldFlags = () => [...loopbackFlags(world), '--greylist-wait', '0'];

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const csvRows = (text: string): Record<string, string>[] => parse(text, { columns: true });

describe('rcpt bulk', () => {
  it('reads a ; CSV with quoted fields and keeps its columns, then appends the results', async () => {
    const input = await file(
      'people.csv',
      'Name;E-mail;Company\r\n"Smith; Alice";alice@acme.test;"Acme ""East"""\r\nNobody;nobody@acme.test;\r\nAlice again;alice@ACME.test;x\r\n',
    );
    const output = join(dir, 'people.out.csv');
    const { code, stderr } = await rcpt(['bulk', input, '-o', output, ...worldFlags()]);
    assert.equal(code, 0, stderr);
    // Written with the input's own delimiter.
    const text = await readFile(output, 'utf8');
    assert.ok(text.startsWith('Name;E-mail;Company;verdict;reason;'), text.slice(0, 80));
    const rows: Record<string, string>[] = parse(text, { columns: true, delimiter: ';' });
    assert.deepEqual(
      rows.map((row) => [row.Name, row['E-mail'], row.Company, row.verdict, row.reason, row.smtp_code]),
      [
        ['Smith; Alice', 'alice@acme.test', 'Acme "East"', 'deliverable', 'accepted', '250'],
        ['Nobody', 'nobody@acme.test', '', 'undeliverable', 'mailbox_not_found', '550'],
        ['Alice again', 'alice@ACME.test', 'x', 'deliverable', 'accepted', '250'],
      ],
    );
    assert.equal(rows[1]?.smtp_enhanced, '5.1.1');
    assert.equal(rows[0]?.mx_host, 'mx1.acme.test');
    assert.match(stderr, /3 rows \(2 distinct addresses, 1 duplicate\)/);
    assert.match(stderr, /deliverable 2, undeliverable 1, risky 0, unknown 0/);
    assert.match(stderr, /top reasons: accepted 2, mailbox_not_found 1/);
    // Written to a temporary file and renamed: nothing else is left beside the output.
    const left = (await readdir(dir)).filter((name) => name.startsWith('people.out.csv'));
    assert.deepEqual(
      left.sort(),
      [
        'people.out.csv',
        'people.out.csv.rcpt.db',
        'people.out.csv.rcpt.db-shm',
        'people.out.csv.rcpt.db-wal',
      ].filter((name) => left.includes(name)),
    );
    assert.ok(!left.some((name) => name.includes('.tmp-')));
    // Not a terminal: no progress bar.
    assert.doesNotMatch(stderr, /█|░|ETA/);
  });

  it('--demo verifies against its own world, whatever RCPT_DNS_SERVER and RCPT_SMTP_PORT say', async () => {
    // Before, the environment's DNS server replaced the world's: every domain came out domain_not_found.
    const input = await file('demo-list.txt', 'alice@acme.test\nnobody@acme.test\n');
    const output = join(dir, 'demo.ndjson');
    const env = { RCPT_DNS_SERVER: '127.0.0.1:9', RCPT_SMTP_PORT: '9', RCPT_HELO: 'probe.rcpt.test' };
    const { code, stderr } = await runCli(['bulk', input, '--demo', '-o', output], { env });
    assert.equal(code, 0, stderr);
    const reasons = (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { reason: string }).reason);
    assert.deepEqual(reasons, ['accepted', 'mailbox_not_found']);
  });

  it('reads a plain list and writes NDJSON (chosen from the output name) with row numbers', async () => {
    const input = await file('list.txt', 'user@nullmx.test\n\nnot an address\nhello@implicit.test\n');
    const output = join(dir, 'list.ndjson');
    const { code, stderr } = await rcpt(['bulk', input, '-o', output, ...worldFlags()]);
    assert.equal(code, 0, stderr);
    const records = (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { row: number; line: number; input: string; reason: string; error: null },
      );
    assert.deepEqual(
      records.map((r) => [r.row, r.line, r.input, r.reason, r.error]),
      [
        [1, 1, 'user@nullmx.test', 'null_mx', null],
        [2, 3, 'not an address', 'invalid_syntax', null],
        [3, 4, 'hello@implicit.test', 'accepted', null],
      ],
    );
  });

  it('reads standard input (-) and writes one JSON array to standard output', async () => {
    const db = join(dir, 'stdin.db');
    const { code, stdout, stderr } = await rcpt(
      ['bulk', '-', '--format', 'json', '--db', db, ...worldFlags()],
      'email\nalice@acme.test\nuser@nowhere.test\n',
    );
    assert.equal(code, 0, stderr);
    const records = JSON.parse(stdout) as { row: number; input: string; reason: string }[];
    assert.deepEqual(
      records.map((r) => [r.row, r.input, r.reason]),
      [
        [1, 'alice@acme.test', 'accepted'],
        [2, 'user@nowhere.test', 'domain_not_found'],
      ],
    );
  });

  it('a Latin-1 address is unknown/unreadable_row, not refused by the server as a mangled address', async () => {
    // Windows-1252 from an older Excel: jérôme's é and ô are bytes UTF-8 cannot read. Verified as
    // j\ufffdr\ufffdme@acme.test, the server refused it: undeliverable/mailbox_not_found.
    const path = join(dir, 'latin1.csv');
    await writeFile(path, Buffer.from('email\nj\xe9r\xf4me@acme.test\nalice@acme.test\n', 'latin1'));
    const output = join(dir, 'latin1.out.csv');
    const { code, stderr } = await rcpt(['bulk', path, '-o', output, ...worldFlags()]);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /latin1\.csv: line 2: the address is not UTF-8 .*; row 1 kept as written/);
    assert.deepEqual(
      csvRows(await readFile(output, 'utf8')).map((row) => [row.verdict, row.reason]),
      [
        ['unknown', 'unreadable_row'],
        ['deliverable', 'accepted'],
      ],
    );
  });

  it('a Latin-1 CSV: its other columns are said once to be not UTF-8 (a real process), the rows verified', async () => {
    // Windows-1252 names and cities beside UTF-8-clean addresses: the address column reads, the other
    // columns get U+FFFD in the output for each byte UTF-8 cannot hold; the run says so once.
    const path = join(dir, 'latin1-names.csv');
    await writeFile(
      path,
      Buffer.from(
        'name,email,city\nJ\xe9r\xf4me,alice@acme.test,Z\xfcrich\nBob,nobody@acme.test,K\xf6ln\n',
        'latin1',
      ),
    );
    const output = join(dir, 'latin1-names.out.csv');
    const run = await runBulk([path, '-o', output, ...worldFlags()]);
    assert.equal(run.code, 0, run.stderr);
    const warned = run.stderr.split('\n').filter((line) => line.includes('not UTF-8'));
    assert.deepEqual(warned, [
      `rcpt bulk: ${path}: warning: the input is not UTF-8 (line 2: a byte shown as \ufffd): columns other than the address are written with \ufffd in its place; save the file as CSV UTF-8 (Excel: "CSV UTF-8"), or convert it (iconv -f windows-1252 -t utf-8)`,
    ]);
    assert.deepEqual(
      csvRows(await readFile(output, 'utf8')).map((row) => [row.name, row.city, row.reason]),
      [
        ['J\ufffdr\ufffdme', 'Z\ufffdrich', 'accepted'],
        ['Bob', 'K\ufffdln', 'mailbox_not_found'],
      ],
    );
    // A UTF-8 file with the same names: no warning.
    const clean = join(dir, 'utf8-names.csv');
    await writeFile(clean, 'name,email,city\nJérôme,alice@acme.test,Zürich\n');
    const quiet = await rcpt(['bulk', clean, '-o', join(dir, 'utf8-names.out.csv'), ...worldFlags()]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /not UTF-8/);
  });

  it('keeps an unreadable row as written, unknown/unreadable_row, counted apart; verifies the rest', async () => {
    const input = await file(
      'broken.csv',
      `id,email,notes\n1,alice@acme.test,A\n2,"bob@x.test"junk,precious notes\n3,nobody@acme.test,C\n4,"open,never closed\n5,${'y'.repeat(70_000)}@acme.test,E\n`,
    );
    // An over-long line keeps its first 4,096 characters, marked cut.
    const cut = `5,${'y'.repeat(4_094)}…[cut]`;
    const output = join(dir, 'broken.out.csv');
    const { code, stderr } = await rcpt(['bulk', input, '-o', output, ...worldFlags()]);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /broken\.csv: line 3: .*row 2 kept as written, not verified \(unreadable_row\)/);
    const rows = csvRows(await readFile(output, 'utf8'));
    assert.deepEqual(
      rows.map((row) => [
        row.id,
        row.email,
        row.notes,
        row.verdict,
        row.reason,
        (row.error ?? '').slice(0, 7),
      ]),
      [
        ['1', 'alice@acme.test', 'A', 'deliverable', 'accepted', ''],
        // The user's columns as far as they split.
        ['2', '"bob@x.test"junk', 'precious notes', 'unknown', 'unreadable_row', 'line 3:'],
        ['3', 'nobody@acme.test', 'C', 'undeliverable', 'mailbox_not_found', ''],
        // They do not: the raw line in one column.
        ['', '4,"open,never closed', '', 'unknown', 'unreadable_row', 'line 5:'],
        ['', cut, '', 'unknown', 'unreadable_row', 'line 6:'],
      ],
    );
    assert.match(
      stderr,
      /line 6: 70,014 characters, longer than 65,536; its first 4,096 are kept; row 5 kept as written/,
    );
    assert.equal(rows[4]?.error, 'line 6: 70,014 characters, longer than 65,536; its first 4,096 are kept');
    // Counted apart: not distinct addresses, and not in the verdict counts.
    assert.match(stderr, /5 rows \(2 distinct addresses, 3 unreadable rows kept as written/);
    assert.match(stderr, /deliverable 1, undeliverable 1, risky 0, unknown 0/);

    const ndjson = join(dir, 'broken.out.ndjson');
    const again = await rcpt(['bulk', input, '-o', ndjson, ...worldFlags()]);
    assert.equal(again.code, 0, again.stderr);
    const records = (await readFile(ndjson, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { input: string; verdict: string; reason: string });
    assert.deepEqual(
      records.map((record) => [record.input, record.verdict, record.reason]),
      [
        ['alice@acme.test', 'deliverable', 'accepted'],
        ['"bob@x.test"junk', 'unknown', 'unreadable_row'],
        ['nobody@acme.test', 'undeliverable', 'mailbox_not_found'],
        ['4,"open,never closed', 'unknown', 'unreadable_row'],
        [cut, 'unknown', 'unreadable_row'],
      ],
    );
  });

  it('a row with an empty address cell is unknown/no_address, never undeliverable, counted apart', async () => {
    // Outlook's export: a phone-only contact, and one whose address is only in "E-mail 2 Address".
    // Verified as '', such rows were undeliverable/invalid_syntax: a list filtered on it lost them.
    const input = await file(
      'outlook-empty.csv',
      'First Name,E-mail Address,Mobile Phone\nAlice,alice@acme.test,\nPhone Only,,06 12 34 56 78\nBob,  ,\nNobody,nobody@acme.test,\n',
    );
    const output = join(dir, 'outlook-empty.out.csv');
    const { code, stderr } = await rcpt(['bulk', input, '-o', output, ...worldFlags()]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(
      csvRows(await readFile(output, 'utf8')).map((row) => [
        row['First Name'],
        row['Mobile Phone'],
        row.verdict,
        row.reason,
        row.error,
      ]),
      [
        ['Alice', '', 'deliverable', 'accepted', ''],
        ['Phone Only', '06 12 34 56 78', 'unknown', 'no_address', ''],
        ['Bob', '', 'unknown', 'no_address', ''],
        ['Nobody', '', 'undeliverable', 'mailbox_not_found', ''],
      ],
    );
    assert.match(
      stderr,
      /4 rows \(2 distinct addresses, 2 rows without an address, verdict unknown \(no_address\)\)/,
    );
    assert.match(stderr, /deliverable 1, undeliverable 1, risky 0, unknown 2/);
  });

  it('records a --proxy without its password; --resume needs it again, and compares it like the other settings', async () => {
    const input = await file('proxied.txt', 'alice@acme.test\nbob@acme.test\n');
    const output = join(dir, 'proxied.csv');
    const db = `${output}.rcpt.db`;
    // Nothing listens there: the addresses end unknown (the proxy named), and the job is done, at once:
    // a proxy that cannot be reached is said once and not retried (before: 4 sessions for acme's MX
    // address, 2 + 4 + 8 s of backoff between them, the same verdicts 14 s later).
    const proxy = 'socks5://probe:s3cret@127.0.0.1:9';
    let connects = 0;
    const onConnect = (message: unknown): void => {
      if ((message as { ip: string }).ip === '127.0.0.2') connects += 1; // mx1.acme.test
    };
    subscribe(CHANNELS.smtpConnect, onConnect);
    const first = await rcpt(['bulk', input, '-o', output, '--proxy', proxy, ...worldFlags()]).finally(() =>
      unsubscribe(CHANNELS.smtpConnect, onConnect),
    );
    assert.equal(first.code, 0, first.stderr);
    assert.equal(connects, 1, 'one session attempt for the MX address');
    assert.deepEqual(
      csvRows(await readFile(output, 'utf8')).map((row) => [row.verdict, row.reason]),
      [
        ['unknown', 'proxy_unreachable'],
        ['unknown', 'proxy_unreachable'],
      ],
    );
    const warnings = first.stderr.match(/warning: cannot connect to proxy socks5:\/\/probe@127\.0\.0\.1:9/g);
    assert.equal(warnings?.length, 1, first.stderr);
    assert.match(first.stderr, /end unknown \(proxy_unreachable\) at once, not retried while it fails/);
    const reader = new Database(db, { readonly: true, fileMustExist: true });
    const stored = (reader.prepare('SELECT options FROM jobs').get() as { options: string }).options;
    reader.close();
    assert.deepEqual((JSON.parse(stored) as { settings: Record<string, unknown> }).settings['--proxy'], [
      'socks5://probe:***@127.0.0.1:9',
    ]);
    assert.ok(!stored.includes('s3cret'), stored);

    const without = await rcpt(['bulk', input, '-o', output, '--resume', ...worldFlags()]);
    assert.equal(without.code, 64, without.stderr);
    assert.match(
      without.stderr,
      /job \S+ began through --proxy socks5:\/\/probe:\*\*\*@127\.0\.0\.1:9, whose password is not recorded: give --proxy again/,
    );
    const other = await rcpt([
      'bulk',
      input,
      '-o',
      output,
      '--resume',
      '--proxy',
      'socks5://probe:s3cret@127.0.0.1:10',
      ...worldFlags(),
    ]);
    assert.equal(other.code, 64, other.stderr);
    assert.match(
      other.stderr,
      /--proxy: the job used socks5:\/\/probe:\*\*\*@127\.0\.0\.1:9, now socks5:\/\/probe:\*\*\*@127\.0\.0\.1:10/,
    );
    assert.ok(!other.stderr.includes('s3cret'));
    const same = await rcpt(['bulk', input, '-o', output, '--resume', '--proxy', proxy, ...worldFlags()]);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(csvRows(await readFile(output, 'utf8'))[0]?.verdict, 'unknown');
  });

  it('uses --column and refuses an unknown one (64)', async () => {
    const input = await file('two.csv', 'work,home\nnobody@acme.test,alice@acme.test\n');
    const ok = await rcpt(['bulk', input, '--column', 'HOME', '--db', join(dir, 'two.db'), ...worldFlags()]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(csvRows(ok.stdout)[0]?.reason, 'accepted');
    const bad = await rcpt(['bulk', input, '--column', 'mail', '--db', join(dir, 'two.db'), ...worldFlags()]);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /no column named "mail" in the header \(work, home\)/);
  });

  it('--resume of a finished job rewrites the output without verifying; a changed input is refused (1)', async () => {
    const input = await file('again.txt', 'alice@acme.test\nnobody@acme.test\n');
    const output = join(dir, 'again.csv');
    const first = await rcpt(['bulk', input, '-o', output, ...worldFlags()]);
    assert.equal(first.code, 0, first.stderr);
    const written = await readFile(output, 'utf8');
    await rm(output);
    const acme = world.personas.find((persona) => persona.host === '127.0.0.2');
    const rcpts = acme?.stats.rcpts;
    const again = await rcpt(['bulk', input, '-o', output, '--resume', ...worldFlags()]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /resuming job .* \(2 of 2 addresses done\)/);
    assert.match(again.stderr, /0 verifications this run/);
    assert.equal(acme?.stats.rcpts, rcpts);
    assert.equal(await readFile(output, 'utf8'), written);
    await writeFile(input, 'alice@acme.test\nnobody@acme.test\nbob@acme.test\n');
    const changed = await rcpt(['bulk', input, '-o', output, '--resume', ...worldFlags()]);
    assert.equal(changed.code, 1);
    assert.match(changed.stderr, /changed since job .*; run without --resume to start again/);
  });

  it('records --host-rate with the job: --resume keeps it, and refuses another (64, named)', async () => {
    const input = await file('rate.txt', 'alice@acme.test\nnobody@acme.test\n');
    const output = join(dir, 'rate.csv');
    const first = await rcpt(['bulk', input, '-o', output, '--host-rate', '1000', ...worldFlags()]);
    assert.equal(first.code, 0, first.stderr);
    const reader = new Database(`${output}.rcpt.db`, { readonly: true, fileMustExist: true });
    const options = JSON.parse(
      (reader.prepare('SELECT options FROM jobs').get() as { options: string }).options,
    ) as { settings: Record<string, unknown> };
    reader.close();
    assert.equal(options.settings['--host-rate'], 1000);
    const refused = await rcpt(['bulk', input, '-o', output, '--resume', '--host-rate', '5']);
    assert.equal(refused.code, 64);
    assert.match(refused.stderr, /--host-rate: the job used 1000, now 5/);
    const kept = await rcpt(['bulk', input, '-o', output, '--resume']);
    assert.equal(kept.code, 0, kept.stderr);
  });

  it('records --no-slow-start and --slow-start with the job: --resume keeps them, and refuses another (64, named)', async () => {
    const input = await file('slow.txt', 'alice@acme.test\nnobody@acme.test\n');
    const settingsOf = (output: string) => {
      const reader = new Database(`${output}.rcpt.db`, { readonly: true, fileMustExist: true });
      const options = JSON.parse(
        (reader.prepare('SELECT options FROM jobs').get() as { options: string }).options,
      ) as { settings: Record<string, unknown> };
      reader.close();
      return options.settings;
    };
    const off = join(dir, 'slow-off.csv');
    const first = await rcpt(['bulk', input, '-o', off, '--no-slow-start', ...worldFlags()]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(settingsOf(off)['--slow-start'], 0);
    const refused = await rcpt(['bulk', input, '-o', off, '--resume', '--slow-start', '50']);
    assert.equal(refused.code, 64);
    assert.match(refused.stderr, /--slow-start: the job used 0, now 50/);
    const kept = await rcpt(['bulk', input, '-o', off, '--resume']);
    assert.equal(kept.code, 0, kept.stderr);
    const fifty = join(dir, 'slow-50.csv');
    const second = await rcpt(['bulk', input, '-o', fifty, '--slow-start', '50', ...worldFlags()]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(settingsOf(fifty)['--slow-start'], 50);
    assert.equal((await rcpt(['bulk', input, '--slow-start', '0'])).code, 64);
  });

  it('removes the temporary output of a killed run, not one whose process still runs', async () => {
    const input = await file('leftover.txt', 'alice@acme.test\n');
    const output = join(dir, 'leftover.csv');
    // A process that has ended, and one that runs for the whole test.
    const ended = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => ended.once('exit', resolve));
    const running = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      const abandoned = `${output}.tmp-${String(ended.pid)}`;
      const inUse = `${output}.tmp-${String(running.pid)}`;
      await writeFile(abandoned, 'half an output');
      await writeFile(inUse, 'another run writing');
      const run = await rcpt(['bulk', input, '-o', output, ...worldFlags()]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(existsSync(abandoned), false, 'the killed run’s file is removed');
      assert.equal(existsSync(inUse), true, 'the running one’s file is kept');
      assert.equal(csvRows(await readFile(output, 'utf8')).length, 1);
    } finally {
      running.kill();
    }
  });

  it("reads a pipe named as the input (the shell's <(zcat list.csv.gz)) as it reads standard input", async () => {
    const fifo = join(dir, 'list.fifo');
    execFileSync('mkfifo', [fifo]);
    const feed = async () => {
      const writer = createWriteStream(fifo);
      await new Promise<void>((resolve, reject) => {
        writer.on('error', reject);
        writer.end('email,name\nalice@acme.test,A\nnobody@acme.test,N\n', resolve);
      });
    };
    const output = join(dir, 'from-pipe.csv');
    const [piped] = await Promise.all([rcpt(['bulk', fifo, '-o', output, ...worldFlags()]), feed()]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(
      csvRows(await readFile(output, 'utf8')).map((row) => [row.name, row.verdict]),
      [
        ['A', 'deliverable'],
        ['N', 'undeliverable'],
      ],
    );
    // Read once, it cannot be resumed: refused before the pipe is opened (nothing waits on a writer).
    const resume = await rcpt(['bulk', fifo, '-o', output, '--resume']);
    assert.equal(resume.code, 64);
    assert.match(
      resume.stderr,
      /--resume needs an input file: .*list\.fifo is a pipe and cannot be read again/,
    );
  });

  it('exits 64 on usage errors and 1 on an unreadable input, with a clear message', async () => {
    const input = await file('one.txt', 'alice@acme.test\n');
    const format = await rcpt(['bulk', input, '--format', 'xml']);
    assert.equal(format.code, 64);
    const stdinResume = await rcpt(['bulk', '-', '--resume']);
    assert.equal(stdinResume.code, 64);
    assert.match(stdinResume.stderr, /--resume needs an input file/);
    const noColumn = await rcpt([
      'bulk',
      await file('nocol.csv', 'id,name\n1,Alice\n'),
      '--db',
      join(dir, 'n.db'),
    ]);
    assert.equal(noColumn.code, 64);
    assert.match(noColumn.stderr, /no address column in the header \(id, name\); name it with --column/);
    const concurrency = await rcpt(['bulk', input, '--host-concurrency', '0']);
    assert.equal(concurrency.code, 64);
    const missing = await rcpt(['bulk', join(dir, 'does-not-exist.csv'), '--db', join(dir, 'm.db')]);
    assert.equal(missing.code, 1);
    // Plain words, not the system's code.
    assert.match(missing.stderr, /^rcpt: no such file: .*does-not-exist\.csv\n$/);
    const directory = await rcpt(['bulk', dir, '--db', join(dir, 'm.db')]);
    assert.equal(directory.code, 1);
    assert.match(directory.stderr, /is a directory, not a list/);
  });
});

describe('rcpt bulk progress on a terminal', () => {
  it('does not promise "1s" while it waits out greylisting', async () => {
    const input = await file('grey.txt', 'alice@acme.test\nnobody@acme.test\nuser@greylist.test\n');
    let shown = '';
    const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 200 });
    stderr.on('data', (chunk: Buffer) => (shown += chunk.toString()));
    const stdout = new PassThrough();
    stdout.resume();
    // The demo greylists for 2 s; the retry comes after --greylist-wait 4.
    const flags = worldFlags().filter(
      (flag, index, all) => flag !== '--greylist-wait' && all[index - 1] !== '--greylist-wait',
    );
    const code = await run(
      [
        'node',
        'rcpt',
        'bulk',
        input,
        '--db',
        join(dir, 'grey.db'),
        ...flags,
        '--greylist-wait',
        '4',
        '--mail-from',
        'bar@rcpt.test',
      ],
      { stdout, stderr, env: {}, stdin: new PassThrough() },
    );
    assert.equal(code, 0, shown);
    assert.match(shown, /2\/3 addresses .* ETA \? \(no result for [2-4]s: waiting on a server\)/);
    assert.match(shown, /3\/3 addresses/);
  });
});

describe('rcpt bulk --resume after kill -9', () => {
  const DISTINCT = 120;
  let dns: DnsServer;
  let persona: RunningPersona;

  before(async () => {
    // One slow server: 60 ms per RCPT reply, so the run lasts seconds and the kill lands mid-run.
    persona = await startPersona(
      {
        name: 'slowbulk.test',
        rcptDelayMs: 60,
        onRcptTo: mailboxes(
          Array.from({ length: DISTINCT }, (_, index) => `user${index}`).filter((_, i) => i % 3 !== 0),
        ),
      },
      '127.0.0.30',
      0,
    );
    dns = await startDnsServer({
      host: '127.0.0.1',
      port: 0,
      zones: {
        'slowbulk.test': { MX: [{ priority: 10, exchange: 'mx.slowbulk.test' }] },
        'mx.slowbulk.test': { A: ['127.0.0.30'] },
      },
    });
  });
  after(async () => {
    await Promise.all([dns.close(), persona.close()]);
  });

  it('gives every row exactly once, and verifies nothing twice that had a result', async () => {
    // 120 distinct addresses, then 30 repeated: 150 rows.
    const addresses = Array.from({ length: DISTINCT }, (_, index) => `user${index}@slowbulk.test`);
    const rowsIn = [...addresses, ...addresses.slice(0, 30)];
    const input = await file(
      'kill.csv',
      `id,email\n${rowsIn.map((address, index) => `${index + 1},${address}`).join('\n')}\n`,
    );
    const output = join(dir, 'kill.out.csv');
    const db = `${output}.rcpt.db`;
    const flags = [
      ...loopbackFlags({ dnsServer: dns.address, smtpPort: persona.port }),
      '--no-catch-all',
      '--host-concurrency',
      '1',
    ];
    const { child, done } = startBulk([input, '-o', output, ...flags]);
    try {
      // Wait until some results are stored, then kill -9.
      const deadline = Date.now() + 60_000;
      let stored = 0;
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        stored = storedResults(db);
        if (stored >= 10) break;
      }
      child.kill('SIGKILL');
      const killed = await done;
      assert.ok(stored >= 10, `the child stored no results in time: ${killed.stderr}`);
      assert.equal(killed.signal, 'SIGKILL');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    assert.equal(existsSync(output), false, 'no output file claims completeness after a crash');

    const doneBefore = storedResults(db);
    assert.ok(doneBefore < DISTINCT, 'the kill landed before the end');

    // The dead child's last pipelined commands may still be in the server's buffer: let it settle.
    let rcptsBefore = -1;
    while (rcptsBefore !== persona.stats.rcpts) {
      rcptsBefore = persona.stats.rcpts;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const resumed = await rcpt(['bulk', input, '-o', output, '--resume', ...flags]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming job/);
    // Only the addresses without a stored result were verified again.
    assert.equal(persona.stats.rcpts - rcptsBefore, DISTINCT - doneBefore, `${doneBefore} done before`);

    const rows = csvRows(await readFile(output, 'utf8'));
    assert.equal(rows.length, rowsIn.length);
    assert.deepEqual(
      rows.map((row) => row.id),
      rowsIn.map((_, index) => String(index + 1)),
    );
    assert.deepEqual(
      rows.map((row) => row.email),
      rowsIn,
    );
    for (const row of rows) {
      const index = Number(/^user(\d+)@/.exec(row.email ?? '')?.[1]);
      assert.equal(row.reason, index % 3 === 0 ? 'mailbox_not_found' : 'accepted', row.email);
    }
  });

  /** Runs `rcpt bulk` in this process and sends it SIGINT once `atLeast` results are stored. */
  async function interrupted(args: string[], db: string, atLeast: number): Promise<Captured> {
    const running = rcpt(args);
    let stored = 0;
    const deadline = Date.now() + 60_000;
    while (stored < atLeast && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      stored = storedResults(db);
    }
    process.emit('SIGINT');
    return running;
  }

  const slowFlags = () => [
    ...loopbackFlags({ dnsServer: dns.address, smtpPort: persona.port }),
    '--no-catch-all',
    '--host-concurrency',
    '1',
  ];

  it('--resume after Ctrl-C goes on with the settings the job began with, without repeating them', async () => {
    const addresses = Array.from({ length: 60 }, (_, index) => `user${index}@slowbulk.test`);
    const input = await file('settings.txt', `${addresses.join('\n')}\n`);
    const output = join(dir, 'settings.ndjson');
    const db = `${output}.rcpt.db`;
    const stopped = await interrupted(['bulk', input, '-o', output, ...slowFlags()], db, 5);
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /stopped with \d+ of 60 addresses done; run again with --resume/);

    // Exactly what the stop message says: no --dns-server, --smtp-port, --allow-private-targets, …
    const resumed = await rcpt(['bulk', input, '-o', output, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming job/);
    const records = (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { input: string; reason: string });
    assert.deepEqual(
      records.map((record) => [record.input, record.reason]),
      addresses.map((address, index) => [address, index % 3 === 0 ? 'mailbox_not_found' : 'accepted']),
    );
  });

  it('a real process stopped by SIGINT exits 130, by SIGTERM 143, each after saving its progress; --resume finishes', async () => {
    const addresses = Array.from({ length: 60 }, (_, index) => `user${index}@slowbulk.test`);
    const input = await file('signals.txt', `${addresses.join('\n')}\n`);
    const output = join(dir, 'signals.csv');
    const db = `${output}.rcpt.db`;
    /** `rcpt bulk` as a child process, sent `signal` once `atLeast` results are stored. */
    const stoppedBy = async (signal: NodeJS.Signals, atLeast: number, resume: boolean) => {
      const { child, done } = startBulk([input, '-o', output, ...(resume ? ['--resume'] : slowFlags())]);
      const deadline = Date.now() + 60_000;
      while (storedResults(db) < atLeast && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      const before = storedResults(db);
      child.kill(signal);
      const { code: exitCode, signal: killedBy, stderr } = await done;
      const code = killedBy ?? exitCode;
      return { code, stderr, before, after: storedResults(db) };
    };

    const interruptedRun = await stoppedBy('SIGINT', 5, false);
    assert.equal(interruptedRun.code, 130, interruptedRun.stderr);
    assert.match(
      interruptedRun.stderr,
      /^rcpt: stopped with \d+ of 60 addresses done; run again with --resume to continue \(job database \S+signals\.csv\.rcpt\.db\)$/m,
    );
    // What was answered before the signal is kept (and what came in while stopping).
    assert.ok(interruptedRun.after >= interruptedRun.before);
    assert.equal(existsSync(output), false);

    const terminated = await stoppedBy('SIGTERM', interruptedRun.after + 5, true);
    assert.equal(terminated.code, 143, terminated.stderr);
    assert.match(terminated.stderr, /stopped with \d+ of 60 addresses done; run again with --resume/);
    assert.ok(terminated.after >= terminated.before);

    const resumed = await rcpt(['bulk', input, '-o', output, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const rows = csvRows(await readFile(output, 'utf8'));
    assert.deepEqual(
      rows.map((row) => [row.email, row.reason]),
      addresses.map((address, index) => [address, index % 3 === 0 ? 'mailbox_not_found' : 'accepted']),
    );
  });

  it('Ctrl-C during a run from standard input says it cannot be resumed, not to run --resume', async () => {
    const addresses = Array.from({ length: 60 }, (_, index) => `user${index + 200}@slowbulk.test`);
    const db = join(dir, 'stdin-stop.db');
    const running = rcpt(
      ['bulk', '-', '--db', db, '--format', 'ndjson', ...slowFlags()],
      `${addresses.join('\n')}\n`,
    );
    const deadline = Date.now() + 60_000;
    while (storedResults(db) < 5 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    process.emit('SIGINT');
    const stopped = await running;
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(
      stopped.stderr,
      /stopped with \d+ of 60 addresses done; standard input cannot be resumed: save the list to a file and run again with it/,
    );
    assert.doesNotMatch(stopped.stderr, /--resume/);
  });

  it('--resume refuses a flag that contradicts the job (64, named), unless --override-settings', async () => {
    const addresses = Array.from({ length: 60 }, (_, index) => `user${index + 60}@slowbulk.test`);
    const input = await file('contradict.txt', `${addresses.join('\n')}\n`);
    const output = join(dir, 'contradict.csv');
    const db = `${output}.rcpt.db`;
    const stopped = await interrupted(['bulk', input, '-o', output, ...slowFlags()], db, 5);
    assert.equal(stopped.code, 130, stopped.stderr);

    const refused = await rcpt(['bulk', input, '-o', output, '--resume', '--helo', 'other.rcpt.test']);
    assert.equal(refused.code, 64, refused.stderr);
    assert.match(
      refused.stderr,
      /--resume: job \S+ began with other settings \(--helo: the job used probe\.rcpt\.test, now other\.rcpt\.test\); leave these flags out .* or add --override-settings/,
    );
    assert.equal(existsSync(output), false);
    // A flag that agrees with the job is not named; one the job left at its default is.
    const timeout = await rcpt([
      'bulk',
      input,
      '-o',
      output,
      '--resume',
      '--helo',
      'probe.rcpt.test',
      '--timeout',
      '5000',
    ]);
    assert.equal(timeout.code, 64);
    assert.match(
      timeout.stderr,
      /other settings \(--timeout: the job used not set \(the default\), now 5000\)/,
    );

    const overridden = await rcpt([
      'bulk',
      input,
      '-o',
      output,
      '--resume',
      '--helo',
      'other.rcpt.test',
      '--override-settings',
    ]);
    assert.equal(overridden.code, 0, overridden.stderr);
    assert.match(overridden.stderr, /--override-settings: the rest of job \S+ is verified with new settings/);
    assert.equal(csvRows(await readFile(output, 'utf8')).length, 60);
    // The override is recorded: the next resume takes the new HELO without being told.
    const reader = new Database(db, { readonly: true, fileMustExist: true });
    const options = JSON.parse(
      (reader.prepare('SELECT options FROM jobs').get() as { options: string }).options,
    ) as { settings: Record<string, unknown> };
    reader.close();
    assert.equal(options.settings['--helo'], 'other.rcpt.test');
    assert.equal(options.settings['--dns-server']?.toString(), dns.address);
  });

  it('a job database from before settings were recorded still resumes, with the flags given, and says so', async () => {
    const addresses = Array.from({ length: 40 }, (_, index) => `user${index}@slowbulk.test`);
    const input = await file('old-db.txt', `${addresses.join('\n')}\n`);
    const output = join(dir, 'old-db.csv');
    const db = `${output}.rcpt.db`;
    const stopped = await interrupted(['bulk', input, '-o', output, ...slowFlags()], db, 5);
    assert.equal(stopped.code, 130, stopped.stderr);
    // What rcpt before issue 15 stored: the format only.
    const writer = new Database(db, { fileMustExist: true });
    writer.prepare(`UPDATE jobs SET options = '{"format":"csv"}'`).run();
    writer.close();
    const resumed = await rcpt(['bulk', input, '-o', output, '--resume', ...slowFlags()]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(
      resumed.stderr,
      /made by an older rcpt that did not record its settings; it goes on with the flags given now/,
    );
    assert.deepEqual(
      csvRows(await readFile(output, 'utf8')).map((row) => row.reason),
      addresses.map((_, index) => (index % 3 === 0 ? 'mailbox_not_found' : 'accepted')),
    );
  });
});
