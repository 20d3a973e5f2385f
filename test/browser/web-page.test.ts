/**
 * The web page in a real browser: Debian's Chromium driven by playwright-core, against `rcpt serve`
 * (startServer, SQLite job store, API keys) on the demo world. Enter the key, upload a CSV, follow the
 * job to the end, check the chart and the table (and its filters), download the CSV, see the line that
 * counts a CSV's unreadable rows, and save a
 * screenshot under test-output/; explain a reply and a bounce in the "Explain a bounce" panel; run
 * axe-core's WCAG 2 A/AA rules on each state the page shows (the key form, a finished job, a job's
 * warning about its file, the errors, the explain panel's answer, a phone's width). Skipped, and
 * reported as skipped, when /usr/bin/chromium is absent; under CI that fails instead (.ci/run
 * installs it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium, type Browser, type Page } from 'playwright-core';

import { startDemoWorld, type DemoWorld } from '../../src/demo/world.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { worldOptions } from '../helpers/world-options.js';

// RCPT_TEST_CHROMIUM points elsewhere only to test the skip itself (test/integration/browser-skip.test.ts).
const CHROMIUM = process.env.RCPT_TEST_CHROMIUM ?? '/usr/bin/chromium';
const ABSENT = existsSync(CHROMIUM)
  ? null
  : `${CHROMIUM} is absent: install Debian's Chromium (apt-get install -y chromium) to run the browser test`;
const KEY = 'browser-test-key-0123456789';
const OUTPUT = join(process.cwd(), 'test-output');
const AXE = fileURLToPath(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url));

const CSV = [
  'name,email,team',
  'Alice,alice@acme.test,red',
  'Bob,bob@fallback.test,red',
  'Nobody,nobody@acme.test,blue',
  'Carol,carol@acme.test,blue',
  'Dave,dave@acme.test,green',
  'Any,anyone@catchall.test,green',
  'Temp,temp123@mailinator.com,green',
  'Null,user@nullmx.test,red',
  'Broken DNS,user@broken-dns.test,blue',
  'Typo,alice@gmial.com,red',
  '',
].join('\n');

/**
 * axe-core's WCAG 2 A/AA violations on the page as it stands, one line each. Evaluated through the
 * DevTools protocol, which the page's CSP does not govern; injected once (the page is never reloaded).
 */
async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate<boolean>('typeof axe !== "undefined"'))) {
    await page.evaluate(readFileSync(AXE, 'utf8'));
  }
  return page.evaluate<string[]>(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }).then((r) =>
      r.violations.map((v) => v.id + ': ' + v.help + ' (' + v.nodes.map((n) => n.target.join(' ')).join(', ') + ')'))`,
  );
}

// node:test leaves a skipped describe out of its summary ("skipped 0"), so the skip is a test of its
// own, counted as skipped; under CI (the CI variable set, as .ci/run does) a missing Chromium fails it.
it(
  'Chromium is there for the browser test',
  { skip: ABSENT !== null && process.env.CI === undefined ? ABSENT : false },
  () => {
    assert.equal(ABSENT, null, `${ABSENT ?? ''}; CI must run the browser test`);
  },
);

describe('the web page', { skip: ABSENT !== null }, () => {
  let world: DemoWorld;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let directory: string;
  const problems: string[] = [];

  before(async () => {
    world = await startDemoWorld();
    directory = mkdtempSync(join(tmpdir(), 'rcpt-browser-'));
    server = await startServer({
      port: 0,
      verify: worldOptions(world),
      apiKeys: [KEY],
      db: join(directory, 'jobs.db'),
      logger: createLogger({ level: 'silent' }),
      processMetrics: false,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 1200, height: 900 },
    });
    page = await context.newPage();
    // A CSP violation, a script error or a failed request shows up here.
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await world?.close();
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  });

  it('asks for the API key, then verifies an uploaded CSV from start to download', async () => {
    await page.goto(`${server.url}/`);
    assert.equal(await page.title(), 'rcpt · email verification');

    // The server has keys: the page asks for one before anything else.
    await page.locator('#key-panel').waitFor({ state: 'visible' });
    assert.deepEqual(await axeViolations(page), [], 'the page asking for the key');
    await page.getByRole('textbox', { name: 'API key' }).fill(KEY);
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.locator('#key-panel').waitFor({ state: 'hidden' });
    // (Browser code is passed as strings: this project's TypeScript has no DOM types.)
    assert.equal(await page.evaluate('sessionStorage.getItem("rcpt.apiKey")'), KEY);

    await page.setInputFiles('#file', {
      name: 'contacts.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(CSV),
    });
    assert.match((await page.locator('#file-name').textContent()) ?? '', /contacts\.csv/);
    await page.getByRole('button', { name: 'Verify', exact: true }).click();

    await page.locator('#job').waitFor({ state: 'visible' });
    await page.locator('#job-status', { hasText: 'done' }).waitFor({ timeout: 30_000 });
    await page.locator('#results').waitFor({ state: 'visible' });
    assert.match(
      (await page.locator('#progress-text').textContent()) ?? '',
      /^10 of 10 addresses checked · 100 %/,
    );
    // Every row was read: no unreadable-rows line.
    assert.doesNotMatch((await page.locator('#progress-text').textContent()) ?? '', /unreadable/);
    assert.equal(await page.evaluate('document.getElementById("bar").value'), 1);

    // The chart: one bar per verdict, wide in proportion, with the counts as text.
    const bars: { verdict: string | null; width: number; count: string | null }[] = [];
    for (const group of await page.locator('#chart svg g').all()) {
      bars.push({
        verdict: await group.getAttribute('data-verdict'),
        width: Number(await group.locator('rect.bar').getAttribute('width')),
        count: await group.locator('text.count').textContent(),
      });
    }
    assert.deepEqual(
      bars.map((bar) => bar.verdict),
      ['deliverable', 'risky', 'undeliverable', 'unknown'],
    );
    const counts: Record<string, string | null> = Object.fromEntries(
      bars.map((bar) => [bar.verdict ?? '', bar.count]),
    );
    assert.deepEqual(counts, {
      deliverable: '2 (20 %)',
      risky: '3 (30 %)',
      undeliverable: '4 (40 %)',
      unknown: '1 (10 %)',
    });
    for (const bar of bars) assert.ok(bar.width > 0, `${bar.verdict} bar is drawn`);
    const deliverable = bars.find((bar) => bar.verdict === 'deliverable')?.width ?? 0;
    const undeliverable = bars.find((bar) => bar.verdict === 'undeliverable')?.width ?? 0;
    assert.ok(Math.abs(undeliverable / deliverable - 2) < 0.01, 'bar widths follow the counts');
    assert.match(
      (await page.locator('#chart-title').textContent()) ?? '',
      /Deliverable: 2, Risky: 3, Undeliverable: 4, Unknown: 1/,
    );

    // The table: every row in input order, with its verdict, reason and the SMTP reply.
    const rows: string[][] = [];
    for (const tr of await page.locator('#table tbody tr').all()) {
      rows.push((await tr.locator('td').allTextContents()).map((text) => text.trim()));
    }
    assert.equal(rows.length, 10);
    assert.deepEqual(rows[0]?.slice(0, 4), ['1', 'alice@acme.test', 'Deliverable', 'accepted']);
    assert.deepEqual(rows[2]?.slice(0, 4), ['3', 'nobody@acme.test', 'Undeliverable', 'mailbox not found']);
    assert.match(rows[2]?.[4] ?? '', /^550 5\.1\.1 /);
    assert.deepEqual(rows[4]?.slice(0, 4), ['5', 'dave@acme.test', 'Undeliverable', 'mailbox disabled']);
    assert.match(rows[4]?.[4] ?? '', /^550 5\.2\.1 The email account that you tried to reach is disabled$/);
    assert.deepEqual(rows[8], ['9', 'user@broken-dns.test', 'Unknown', 'dns error', 'DNS: SERVFAIL']);
    assert.match(rows[9]?.[1] ?? '', /alice@gmial\.comdid you mean alice@gmail\.com\?/);

    // Filters: by verdict, then by text.
    await page.getByLabel('Verdict', { exact: true }).selectOption('risky');
    const risky: (string | null)[] = [];
    for (const tr of await page.locator('#table tbody tr').all())
      risky.push(await tr.getAttribute('data-verdict'));
    assert.deepEqual(risky, ['risky', 'risky', 'risky']);
    await page.getByLabel('Verdict', { exact: true }).selectOption('');
    await page.getByLabel('Search addresses, reasons and replies').fill('quota');
    assert.deepEqual(await page.locator('#table tbody tr td.address').allTextContents(), ['carol@acme.test']);
    assert.match((await page.locator('#table-note').textContent()) ?? '', /1 of 10 rows/);
    await page.getByLabel('Search addresses, reasons and replies').fill('');

    // Download: the CSV keeps the uploaded columns and adds the result columns.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^rcpt-.+\.csv$/);
    const path = await download.path();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.equal(lines.length, 11);
    assert.match(lines[0] ?? '', /^name,email,team,verdict,reason,address,/);
    assert.match(lines[1] ?? '', /^Alice,alice@acme\.test,red,deliverable,accepted,/);
    assert.match(lines[4] ?? '', /^Carol,carol@acme\.test,blue,risky,mailbox_full,/);

    // The finished job: chart, reasons (opened), table, a suggestion.
    await page.getByText('By reason').click();
    assert.deepEqual(await axeViolations(page), [], 'a finished job with its results');

    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'web-page.png'), fullPage: true });
    assert.deepEqual(problems, []);
  });

  it('labels every control and can be driven from the keyboard', async () => {
    const unlabelled = await page.evaluate(
      `[...document.querySelectorAll('input, select, textarea')]
        .filter((element) => element.id === '' || document.querySelector('label[for="' + element.id + '"]') === null)
        .map((element) => element.outerHTML)`,
    );
    assert.deepEqual(unlabelled, []);
    // A new job from the keyboard alone: type addresses, Tab to the button, Enter.
    await page.getByRole('button', { name: 'Remove file' }).click();
    await page.locator('#addresses').focus();
    await page.keyboard.type('alice@acme.test\nnobody@acme.test');
    await page.locator('#start').focus();
    await page.keyboard.press('Enter');
    await page
      .locator('#progress-text', { hasText: '2 of 2 addresses checked' })
      .waitFor({ timeout: 30_000 });
    await page.locator('#job-status', { hasText: 'done' }).waitFor();
    assert.equal(await page.locator('#table tbody tr').count(), 2);
    assert.deepEqual(problems, []);
  });

  it('says how many rows of an uploaded CSV could not be read, apart from the addresses', async () => {
    // A row with a stray quote and a line over 65,536 characters: kept as written, unknown/unreadable_row.
    // Three addresses, so the line awaited is this job's and not the last one's (two addresses).
    const csv = `email,name\nalice@acme.test,Alice\n"broken,"x"y\nnobody@acme.test,Nobody\n${'z'.repeat(70_000)},Long\ncarol@acme.test,Carol\n`;
    await page.setInputFiles('#file', {
      name: 'broken.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(csv),
    });
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page
      .locator('#progress-text', { hasText: '3 of 3 addresses checked' })
      .waitFor({ timeout: 30_000 });
    await page.locator('#job-status', { hasText: 'done' }).waitFor();
    assert.equal(
      await page.locator('#progress-text').textContent(),
      '3 of 3 addresses checked · 100 % · 2 unreadable rows kept as written (unknown, unreadable_row)',
    );
    // The rows themselves are listed, in input order.
    const reasons: string[] = [];
    for (const tr of await page.locator('#table tbody tr').all())
      reasons.push(((await tr.locator('td').nth(3).textContent()) ?? '').trim());
    assert.deepEqual(reasons, [
      'accepted',
      'unreadable row',
      'mailbox not found',
      'unreadable row',
      'mailbox full',
    ]);
    // Every byte was UTF-8: nothing to say about the file.
    assert.equal(await page.locator('#job-warnings').isHidden(), true);
    await page.getByRole('button', { name: 'Remove file' }).click();
    assert.deepEqual(problems, []);
  });

  it('says once under the progress that an uploaded CSV is not UTF-8, and verifies it all the same', async () => {
    // A Windows-1252 export: é is a byte UTF-8 cannot hold. Four addresses: this job's line, no other's.
    const csv =
      'email,name\nalice@acme.test,Alice\nnobody@acme.test,Ren\u00e9e\ncarol@acme.test,Carol\ndave@acme.test,Dave\n';
    await page.setInputFiles('#file', {
      name: 'latin1.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(csv, 'latin1'),
    });
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page
      .locator('#progress-text', { hasText: '4 of 4 addresses checked' })
      .waitFor({ timeout: 30_000 });
    await page.locator('#job-status', { hasText: 'done' }).waitFor();
    const warnings = page.getByRole('list', { name: 'About the file' }).getByRole('listitem');
    assert.deepEqual(await warnings.allTextContents(), [
      'the input is not UTF-8 (line 3: a byte shown as \ufffd): columns other than the address are written with \ufffd in its place; save the file as CSV UTF-8 (Excel: "CSV UTF-8"), or convert it (iconv -f windows-1252 -t utf-8)',
    ]);
    assert.equal(await page.locator('#table tbody tr').count(), 4);
    assert.deepEqual(await axeViolations(page), [], 'a job with a warning about its file');
    await page.getByRole('button', { name: 'Remove file' }).click();
    assert.deepEqual(problems, []);
  });

  it("fits a phone's width with a finished job on it: only the table scrolls sideways", async () => {
    // The page as the last test left it: a job with its warning, chart and results table.
    assert.equal(await page.locator('#job-warnings').isVisible(), true);
    assert.equal(await page.locator('#results').isVisible(), true);
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      // Before: the grid column took the table's width, and the whole page scrolled sideways (650 px).
      const [scrolled, shown] = await page.evaluate<number[]>(
        '[document.documentElement.scrollWidth, document.documentElement.clientWidth]',
      );
      assert.ok(scrolled === shown, `the page is ${scrolled} px wide in a window of ${shown} px`);
      // The chart is drawn at the width shown: its 14 px labels were scaled down to 7 px before.
      const labelHeight = await page.evaluate<number>(
        'document.querySelector("#chart svg text").getBoundingClientRect().height',
      );
      assert.ok(labelHeight >= 14, `the chart's labels are ${labelHeight} px high`);
      assert.deepEqual(await axeViolations(page), [], 'the page at 375 px');
      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, 'web-page-375px.png'), fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1200, height: 900 });
    }
  });

  it('says that a chosen empty file is empty, naming it, not the API\'s "The body is empty"', async () => {
    await page.setInputFiles('#file', { name: 'empty.csv', mimeType: 'text/csv', buffer: Buffer.alloc(0) });
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page.locator('#form-error', { hasText: 'empty.csv is empty' }).waitFor({ timeout: 5_000 });
    assert.match(
      (await page.locator('#form-error').textContent()) ?? '',
      /^empty\.csv is empty: choose a CSV with a header and addresses/,
    );
    assert.deepEqual(await axeViolations(page), [], 'an error under the form');
    await page.getByRole('button', { name: 'Remove file' }).click();
    assert.deepEqual(problems, []);
  });

  it('explains a pasted reply and a dropped bounce in the "Explain a bounce" panel, from the keyboard', async () => {
    // Nothing to explain yet: the panel says what to give it.
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    await page.locator('#explain-error', { hasText: 'Paste a reply or a bounce' }).waitFor();
    assert.deepEqual(await axeViolations(page), [], 'an error under the explain form');

    // A reply, typed and sent with Enter on the button.
    await page.locator('#explain-text').focus();
    await page.keyboard.type(
      '550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
    );
    await page.locator('#explain-start').focus();
    await page.keyboard.press('Enter');
    await page.locator('#explain-summary', { hasText: 'One reply' }).waitFor();
    assert.equal(
      await page.evaluate('document.activeElement?.id'),
      'explain-summary',
      'focus moves to the answer',
    );
    const reply = page.locator('#explain-items > li').first();
    assert.equal(await reply.locator('.badge').textContent(), 'undeliverable');
    assert.match((await reply.textContent()) ?? '', /mailbox_not_found · mailbox unknown/);

    // A bounce message, chosen as a file: one item per failed recipient.
    await page.setInputFiles('#explain-file', {
      name: 'bounce.eml',
      mimeType: 'message/rfc822',
      buffer: readFileSync(new URL('../fixtures/bounces/postfix.eml', import.meta.url)),
    });
    assert.equal(await page.locator('#explain-file-name').textContent(), 'bounce.eml');
    assert.equal(await page.locator('#explain-text').isDisabled(), true);
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    await page.locator('#explain-summary', { hasText: 'A bounce (2 recipients)' }).waitFor();
    const items = await page.locator('#explain-items > li').allTextContents();
    assert.equal(items.length, 2);
    assert.match(
      items[0] ?? '',
      /alice@example\.com.*failed.*550 5\.1\.1.*RCPT.*mx\.example\.com.*mailbox_not_found/s,
    );
    assert.match(items[1] ?? '', /bob@example\.com.*mailbox_full/s);

    // An auto-reply is said to be one.
    await page.setInputFiles('#explain-file', {
      name: 'vacation.eml',
      mimeType: 'message/rfc822',
      buffer: readFileSync(new URL('../fixtures/bounces/vacation.eml', import.meta.url)),
    });
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    await page.locator('#explain-summary', { hasText: 'An automatic reply' }).waitFor();
    // A complaint names its complainant; a redacted one says so.
    await page.setInputFiles('#explain-file', {
      name: 'arf.eml',
      mimeType: 'message/rfc822',
      buffer: readFileSync(new URL('../fixtures/feedback/arf-original-rcpt-to.eml', import.meta.url)),
    });
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    await page
      .locator('#explain-summary', {
        hasText: 'A feedback report (ARF, abuse), not a bounce; about: olga@example.com',
      })
      .waitFor();
    await page.setInputFiles('#explain-file', {
      name: 'redacted.eml',
      mimeType: 'message/rfc822',
      buffer: readFileSync(new URL('../fixtures/feedback/arf-redacted.eml', import.meta.url)),
    });
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    await page
      .locator('#explain-summary', { hasText: 'redacted@isp.example (redacted by the reporter)' })
      .waitFor();
    await page.setInputFiles('#explain-file', {
      name: 'bounce.eml',
      mimeType: 'message/rfc822',
      buffer: readFileSync(new URL('../fixtures/bounces/postfix.eml', import.meta.url)),
    });
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    await page.locator('#explain-summary', { hasText: 'A bounce (2 recipients)' }).waitFor();

    mkdirSync(OUTPUT, { recursive: true });
    await page.locator('#explain').screenshot({ path: join(OUTPUT, 'explain-panel.png') });
    assert.deepEqual(problems, []);
  });

  it('has no WCAG 2 A/AA violations (axe-core) with every panel filled in', async () => {
    // The explain panel's answer, the last job with its warning, the form's error: all on the page.
    for (const shown of ['#explain-items > li', '#job-warnings li', '#table tbody tr', '#form-error']) {
      assert.equal(await page.locator(shown).first().isVisible(), true, `${shown} is shown`);
    }
    assert.deepEqual(await axeViolations(page), []);
  });
});
