/**
 * Reacher's check routes (`POST /v0/check_email`, `POST /v1/check_email`) against a JSON schema written
 * for rcpt from Reacher's output shapes (test/fixtures/reacher/check-email-output.schema.json: field
 * names, types, enums, nullability; validated with ajv, independently of the server's own zod schema),
 * for every behaviour of the demo world; then the per-request settings, their validation and locks.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Ajv } from 'ajv';

import { startPersona } from '../../../src/demo/smtp-persona.js';
import { openSqliteJobStore } from '../../../src/jobs/index.js';
import { createApp, type App } from '../../../src/server/app.js';
import { createJobsBackend, type ClosableJobsBackend } from '../../../src/server/jobs-backend.js';
import { streamed } from '../../reliability/helpers/upload-list.js';
import { JSON_TYPE, KEY_A, KEY_B, bearer, capturedLogger, startWorld, type World } from './helpers.js';

const outputSchema = JSON.parse(
  readFileSync(new URL('../../fixtures/reacher/check-email-output.schema.json', import.meta.url), 'utf8'),
) as object;
const ajv = new Ajv({ allErrors: true, strict: true });
const validateOutput = ajv.compile(outputSchema);
const validateProgress = ajv.compile(
  JSON.parse(
    readFileSync(new URL('../../fixtures/reacher/bulk-progress.schema.json', import.meta.url), 'utf8'),
  ) as object,
);

/** Reacher's whole output shape, and what the schema cannot say (times in order). */
function checkReacher(body: Record<string, unknown>): void {
  const valid = validateOutput(body);
  assert.ok(valid, `${JSON.stringify(validateOutput.errors)}\n${JSON.stringify(body)}`);
  const debug = body.debug as { start_time: string; end_time: string };
  assert.ok(
    !Number.isNaN(Date.parse(debug.start_time)) && Date.parse(debug.end_time) >= Date.parse(debug.start_time),
  );
}

let world: World;
let app: App;

/** What the server presents itself as, echoed in debug.smtp.verif_method. */
let smtp: { helo: string; mailFrom: string; port: number; timeoutMs: number };

before(async () => {
  world = await startWorld();
  smtp = {
    helo: 'probe.rcpt.test',
    mailFrom: 'verify@rcpt.test',
    port: world.world.smtpPort,
    timeoutMs: 10_000,
  };
  app = createApp({ verifier: world.verifier(), rateLimit: null, smtp });
});
after(async () => {
  await world.close();
});

/** Checks `email` on v0 and v1 (the same answer), each validated against the schema; the v1 body. */
async function check(
  email: string,
  settings: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const bodies: Record<string, unknown>[] = [];
  for (const version of ['v0', 'v1']) {
    const response = await app.request(`/${version}/check_email`, {
      method: 'POST',
      headers: JSON_TYPE,
      body: JSON.stringify({ to_email: email, ...settings }),
    });
    assert.equal(response.status, 200, `${version} ${email}`);
    const body = (await response.json()) as Record<string, unknown>;
    checkReacher(body);
    assert.equal(body.input, email);
    bodies.push(body);
  }
  const [v0, v1] = bodies as [Record<string, unknown>, Record<string, unknown>];
  assert.equal(v0.is_reachable, v1.is_reachable, email);
  return v1;
}

describe('POST /v0/check_email and /v1/check_email (Reacher-compatible)', () => {
  it('maps a deliverable address to safe, with MX records as FQDNs', async () => {
    const body = await check('alice@acme.test');
    assert.equal(body.is_reachable, 'safe');
    assert.deepEqual(body.mx, { accepts_mail: true, records: ['mx1.acme.test.'] });
    assert.deepEqual(body.smtp, {
      can_connect_smtp: true,
      has_full_inbox: false,
      is_catch_all: false,
      is_deliverable: true,
      is_disabled: false,
    });
    assert.deepEqual(body.syntax, {
      address: 'alice@acme.test',
      domain: 'acme.test',
      username: 'alice',
      is_valid_syntax: true,
      normalized_email: 'alice@acme.test',
      suggestion: null,
    });
    assert.deepEqual((body.debug as { smtp: unknown }).smtp, {
      verif_method: {
        type: 'Smtp',
        host: 'mx1.acme.test.',
        verif_method: {
          from_email: 'verify@rcpt.test',
          hello_name: 'probe.rcpt.test',
          proxy: null,
          smtp_port: world.world.smtpPort,
          smtp_timeout: { secs: 10, nanos: 0 },
          retries: 1,
        },
      },
    });
  });

  it('maps a rejected mailbox to invalid, a full one to risky, a disabled one to invalid', async () => {
    const missing = await check('nobody@acme.test');
    assert.equal(missing.is_reachable, 'invalid');
    assert.equal((missing.smtp as { is_deliverable: boolean }).is_deliverable, false);
    const full = await check('carol@acme.test');
    assert.equal(full.is_reachable, 'risky');
    assert.equal((full.smtp as { has_full_inbox: boolean }).has_full_inbox, true);
    const disabled = await check('dave@acme.test');
    assert.equal(disabled.is_reachable, 'invalid');
    assert.equal((disabled.smtp as { is_disabled: boolean }).is_disabled, true);
  });

  it('maps catch-all and disposable to risky with their flags', async () => {
    const catchAll = await check('anyone@catchall.test');
    assert.equal(catchAll.is_reachable, 'risky');
    assert.equal((catchAll.smtp as { is_catch_all: boolean }).is_catch_all, true);
    assert.equal((catchAll.smtp as { is_deliverable: boolean }).is_deliverable, true);
    const disposable = await check('temp123@mailinator.com');
    assert.equal(disposable.is_reachable, 'risky');
    assert.equal((disposable.misc as { is_disposable: boolean }).is_disposable, true);
  });

  it('reports a blocklisted sender as an SMTP error with IpBlacklisted, and unknown', async () => {
    const body = await check('alice@blocked.test');
    assert.equal(body.is_reachable, 'unknown');
    const smtp = body.smtp as { error: { type: string; message: string }; description: string };
    assert.equal(smtp.description, 'IpBlacklisted');
    assert.match(smtp.error.message, /^554 5\.7\.1 .*spamhaus/);
  });

  it('reports DNS outcomes in the mx block', async () => {
    const nxdomain = await check('user@nowhere.test');
    assert.equal(nxdomain.is_reachable, 'invalid');
    assert.deepEqual(nxdomain.mx, { accepts_mail: false, records: [] });
    const nullMx = await check('user@nullmx.test');
    assert.equal(nullMx.is_reachable, 'invalid');
    assert.deepEqual(nullMx.mx, { accepts_mail: false, records: [] });
    const servfail = await check('user@broken-dns.test');
    assert.equal(servfail.is_reachable, 'unknown');
    assert.deepEqual(servfail.mx, {
      error: { type: 'ResolveError', message: 'DNS lookup failed: SERVFAIL' },
    });
    assert.equal(
      (servfail.debug as { smtp: { verif_method: { type: string } } }).smtp.verif_method.type,
      'Skipped',
    );
  });

  it('answers bad syntax as Reacher does: invalid, empty domain and username, suggestion kept', async () => {
    const body = await check('alice..smith@acme.test');
    assert.equal(body.is_reachable, 'invalid');
    assert.deepEqual(body.syntax, {
      address: null,
      domain: '',
      username: '',
      is_valid_syntax: false,
      normalized_email: null,
      suggestion: null,
    });
    assert.deepEqual(body.mx, { accepts_mail: false, records: [] });
    const typo = await check('alice@gmial.com');
    assert.equal((typo.syntax as { suggestion: string }).suggestion, 'alice@gmail.com');
  });

  it('refuses a body without to_email with a 400', async () => {
    for (const body of ['{}', '{"to_email": 7}', 'not json']) {
      const response = await app.request('/v0/check_email', { method: 'POST', headers: JSON_TYPE, body });
      assert.equal(response.status, 400, body);
    }
  });

  it('answers greylisting, a timeout and a domain without mail server in the schema, as unknown/invalid', async () => {
    const greylisted = await check('user@greylist.test');
    assert.equal(greylisted.is_reachable, 'unknown');
    const greySmtp = greylisted.smtp as { error: { type: string; message: string } };
    assert.equal(greySmtp.error.type, 'AsyncSmtpError');
    assert.match(greySmtp.error.message, /^450 4\.2\.0 .*Greylisted/);

    // slow.test greets after 1.5 s: a 1 s smtp_timeout passes first, named as Reacher names it.
    const slow = await check('ann@slow.test', { smtp_timeout: { secs: 1, nanos: 0 } });
    assert.equal(slow.is_reachable, 'unknown');
    assert.deepEqual(slow.smtp, { error: { type: 'Timeout', message: 'Timeout error: 1s' } });
    const echoed = (slow.debug as { smtp: { verif_method: { verif_method: { smtp_timeout: unknown } } } })
      .smtp.verif_method.verif_method.smtp_timeout;
    assert.deepEqual(echoed, { secs: 1, nanos: 0 });
    const halfSecond = await check('ann@slow.test', { smtp_timeout: 0.5 });
    assert.deepEqual(halfSecond.smtp, { error: { type: 'Timeout', message: 'Timeout error: 500ms' } });

    const noMx = await check('user@nomail.test');
    assert.equal(noMx.is_reachable, 'invalid');
    assert.deepEqual(noMx.mx, { accepts_mail: false, records: [] });
    assert.deepEqual((noMx.debug as { smtp: unknown }).smtp, { verif_method: { type: 'Skipped' } });
  });

  it('normalises Gmail addresses as Reacher does (dots, +tags, googlemail.com), others as they are', async () => {
    // Syntax only: the demo world has no gmail.com, so these end at DNS (no traffic leaves loopback).
    const gmail = await check('Jane.Doe+news@GoogleMail.com');
    assert.equal((gmail.syntax as { normalized_email: string }).normalized_email, 'janedoe@gmail.com');
    const other = await check('Jane.Doe+news@acme.test');
    assert.equal((other.syntax as { normalized_email: string }).normalized_email, 'Jane.Doe+news@acme.test');
  });
});

async function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  target: App = app,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await target.request(path, {
    method: 'POST',
    headers: { ...JSON_TYPE, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("Reacher's per-request settings", () => {
  it('honours hello_name, from_email and smtp_port, and echoes them in debug.smtp.verif_method', async () => {
    // A persona of its own on a port of its own, reached by an address literal: only smtp_port leads there.
    const lines: string[] = [];
    const persona = await startPersona(
      { name: 'settings.test', onCommand: (line) => lines.push(line) },
      '127.0.0.1',
      0,
    );
    try {
      const body = await check('alice@[127.0.0.1]', {
        hello_name: 'probe.example.test',
        from_email: 'bounce@example.test',
        smtp_port: persona.port,
        yahoo_verif_method: 'Smtp',
        gmail_verif_method: { type: 'smtp' },
        check_gravatar: false,
      });
      assert.equal(body.is_reachable, 'risky', 'a persona that accepts everything is catch-all');
      const smtpDebug = (
        body.debug as { smtp: { verif_method: { host: string; verif_method: Record<string, unknown> } } }
      ).smtp.verif_method;
      assert.equal(smtpDebug.host, '[127.0.0.1]');
      assert.equal(smtpDebug.verif_method.hello_name, 'probe.example.test');
      assert.equal(smtpDebug.verif_method.from_email, 'bounce@example.test');
      assert.equal(smtpDebug.verif_method.smtp_port, persona.port);
      // The server saw them (twice: v0 and v1).
      assert.equal(lines.filter((line) => line === 'EHLO probe.example.test').length, 2);
      assert.equal(lines.filter((line) => line.startsWith('MAIL FROM:<bounce@example.test>')).length, 2);
    } finally {
      await persona.close();
    }
  });

  it('takes from_email "" as the null reverse-path <>, as a server that probes with it echoes it', async () => {
    const lines: string[] = [];
    const persona = await startPersona(
      { name: 'null-sender.test', onCommand: (line) => lines.push(line) },
      '127.0.0.1',
      0,
    );
    try {
      const body = await check('alice@[127.0.0.1]', { from_email: '', smtp_port: persona.port });
      const echoed = (body.debug as { smtp: { verif_method: { verif_method: Record<string, unknown> } } })
        .smtp.verif_method.verif_method;
      assert.equal(echoed.from_email, '');
      // The server saw the null reverse-path (twice: v0 and v1), never the server's own sender.
      assert.equal(lines.filter((line) => line.startsWith('MAIL FROM:<>')).length, 2, lines.join('\n'));
      assert.equal(lines.filter((line) => line.includes('verify@rcpt.test')).length, 0);
    } finally {
      await persona.close();
    }
  });

  it('sends another port when asked: nothing listens there, so the check is unknown', async () => {
    const body = await check('alice@acme.test', { smtp_port: 9 });
    assert.equal(body.is_reachable, 'unknown');
    assert.equal((body.smtp as { error: { type: string } }).error.type, 'IOError');
  });

  it("refuses bad values with 400 and a message in Reacher's manner", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ to_email: '' }, /^to_email field is required\.$/],
      [{}, /^to_email field is required\.$/],
      [{ to_email: 7 }, /^to_email must be a string/],
      [
        { to_email: 'a@acme.test', hello_name: 'bad name\r\nRSET' },
        /^hello_name must be a hostname or an address literal\.$/,
      ],
      [{ to_email: 'a@acme.test', hello_name: '-bad-.test' }, /^hello_name must be a hostname/],
      [
        { to_email: 'a@acme.test', smtp_port: 70000 },
        /^smtp_port must be an integer from 1 to 65535, got 70000/,
      ],
      [{ to_email: 'a@acme.test', smtp_port: '25' }, /^smtp_port must be an integer/],
      [{ to_email: 'a@acme.test', smtp_timeout: 'soon' }, /^smtp_timeout must be a number of seconds/],
      [{ to_email: 'a@acme.test', smtp_timeout: { secs: 'x' } }, /^smtp_timeout must be/],
      [{ to_email: 'a@acme.test', smtp_timeout: 0 }, /^smtp_timeout must be/],
      [
        { to_email: 'a@acme.test', yahoo_verif_method: 'Carrier pigeon' },
        /^yahoo_verif_method: unknown variant "Carrier pigeon", expected one of "Api", "Headless", "Smtp"/,
      ],
      [
        { to_email: 'a@acme.test', hotmailb2c_verif_method: 'Headless' },
        /rcpt verifies every provider by SMTP; "Headless" is not available/,
      ],
      [
        { to_email: 'a@acme.test', gmail_verif_method: { type: 'api' } },
        /gmail_verif_method: rcpt verifies every provider by SMTP; "Api"/,
      ],
      [
        { to_email: 'a@acme.test', from_email: 'not an address' },
        /^from_email must be an email address, or ""/,
      ],
      [
        { to_email: 'a@acme.test', check_gravatar: true },
        /^check_gravatar: rcpt makes no third-party lookups/,
      ],
      [{ to_email: 'a@acme.test', proxy: 'socks5://x' }, /^proxy must be an object/],
      // The same port check as smtp_port's, with what was sent (before, proxy.port's said nothing of it).
      [
        { to_email: 'a@acme.test', proxy: { host: 'proxy.example.test', port: 70000 } },
        /^proxy\.port must be an integer from 1 to 65535, got 70000$/,
      ],
      [
        { to_email: 'a@acme.test', proxy: { host: 'proxy.example.test', port: '1080' } },
        /^proxy\.port must be an integer from 1 to 65535, got "1080"$/,
      ],
      [
        { to_email: 'a@acme.test', proxy: { host: 'proxy.example.test' } },
        /^proxy\.port must be an integer from 1 to 65535, got none$/,
      ],
      [
        { to_email: 'a@acme.test', proxy: { host: 'proxy.example.test', port: 1080 } },
        /^proxy: this server accepts only proxies configured by its operator, and none is configured/,
      ],
    ];
    for (const version of ['v0', 'v1']) {
      for (const [body, message] of cases) {
        const response = await post(`/${version}/check_email`, body);
        assert.equal(response.status, 400, `${version} ${JSON.stringify(body)}`);
        assert.match(response.body.error as string, message, JSON.stringify(body));
        assert.equal(response.body.code, 'bad_request');
      }
    }
    const broken = await post('/v1/check_email', 'not json');
    assert.equal(broken.status, 400);
    assert.equal(typeof broken.body.error, 'string');
  });

  it('refuses a setting the operator locked with 403, and leaves the others free', async () => {
    const locked = createApp({
      verifier: world.verifier(),
      rateLimit: null,
      smtp,
      reacher: { locked: new Set(['hello_name', 'smtp_port']) },
    });
    const refused = await post(
      '/v1/check_email',
      { to_email: 'alice@acme.test', hello_name: 'x.test' },
      {},
      locked,
    );
    assert.equal(refused.status, 403);
    assert.equal(
      refused.body.error,
      "hello_name is locked by this server's operator: requests may not set it",
    );
    const port = await post('/v0/check_email', { to_email: 'alice@acme.test', smtp_port: 25 }, {}, locked);
    assert.equal(port.status, 403);
    const free = await post(
      '/v1/check_email',
      { to_email: 'alice@acme.test', from_email: 'a@b.test' },
      {},
      locked,
    );
    assert.equal(free.status, 200);
  });
});

describe("Reacher's ways of sending the key", () => {
  const KEY = 'reacher-key-0123456789';
  it('accepts Authorization: Bearer KEY, Authorization: KEY and x-reacher-secret: KEY', async () => {
    const keyed = createApp({ verifier: world.verifier(), rateLimit: null, apiKeys: [KEY], smtp });
    const ways = [{ authorization: `Bearer ${KEY}` }, { authorization: KEY }, { 'x-reacher-secret': KEY }];
    for (const headers of ways) {
      const response = await post('/v1/check_email', { to_email: 'x@' }, headers, keyed);
      assert.equal(response.status, 200, JSON.stringify(headers));
    }
    for (const headers of [
      {},
      { authorization: 'wrong-key-0123456789' },
      { authorization: `Basic ${KEY}` },
    ]) {
      const response = await post('/v1/check_email', { to_email: 'x@' }, headers, keyed);
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.equal(response.body.code, 'unauthorized');
      assert.equal(typeof response.body.error, 'string');
    }
  });
});

describe("Reacher's bulk routes on rcpt's job engine", () => {
  let jobs: ClosableJobsBackend;
  let bulkApp: App;
  const as = (key: string) => ({ authorization: key });
  const get = async (path: string, key = KEY_A) => {
    const response = await bulkApp.request(path, { headers: as(key) });
    const text = await response.text();
    return { status: response.status, type: response.headers.get('content-type') ?? '', text };
  };

  before(() => {
    const verifier = world.verifier();
    jobs = createJobsBackend({
      store: openSqliteJobStore(':memory:'),
      verifier,
      logger: capturedLogger().logger,
    });
    bulkApp = createApp({
      verifier,
      jobs,
      apiKeys: [KEY_A, KEY_B],
      rateLimit: null,
      smtp,
      webhooks: { allowPrivateTargets: true },
    });
  });
  after(async () => {
    await jobs.close();
  });

  async function completed(jobId: number): Promise<Record<string, unknown>> {
    for (;;) {
      const progress = await get(`/v1/bulk/${jobId}`);
      assert.equal(progress.status, 200);
      const body = JSON.parse(progress.text) as Record<string, unknown>;
      assert.ok(validateProgress(body), JSON.stringify(validateProgress.errors));
      if (body.job_status === 'Completed') return body;
      assert.equal(body.finished_at, null);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  it('creates a job with an integer job_id, answers its progress and pages of Reacher outputs', async () => {
    const inputs = ['alice@acme.test', 'nobody@acme.test', 'anyone@catchall.test', 'alice..smith@acme.test'];
    const created = await post('/v1/bulk', { input: inputs }, as(KEY_A), bulkApp);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.deepEqual(Object.keys(created.body), ['job_id']);
    const jobId = created.body.job_id as number;
    assert.ok(Number.isInteger(jobId) && jobId > 0);
    const progress = await completed(jobId);
    assert.equal(progress.total_records, 4);
    assert.equal(progress.total_processed, 4);
    assert.deepEqual(progress.summary, { total_safe: 1, total_risky: 1, total_invalid: 2, total_unknown: 0 });

    const page = JSON.parse((await get(`/v1/bulk/${jobId}/results?limit=3&offset=1`)).text) as {
      results: Record<string, unknown>[];
    };
    assert.deepEqual(Object.keys(page), ['results']);
    assert.deepEqual(
      page.results.map((r) => r.input),
      inputs.slice(1, 4),
      'input order, from the offset',
    );
    for (const output of page.results) checkReacher(output);
    const rest = JSON.parse((await get(`/v1/bulk/${jobId}/results?offset=4`)).text) as { results: unknown[] };
    assert.deepEqual(rest.results, []);

    const csv = await get(`/v1/bulk/${jobId}/results?format=csv`);
    assert.equal(csv.status, 200);
    assert.match(csv.type, /^text\/csv/);
    const lines = csv.text.trim().split('\n');
    assert.equal(
      lines[0],
      'input,is_reachable,misc.is_disposable,misc.is_role_account,misc.gravatar_url,mx.accepts_mail,smtp.can_connect,smtp.has_full_inbox,smtp.is_catch_all,smtp.is_deliverable,smtp.is_disabled,syntax.is_valid_syntax,syntax.domain,syntax.username,error',
    );
    assert.equal(
      lines[1],
      'alice@acme.test,safe,false,false,,true,true,false,false,true,false,true,acme.test,alice,',
    );
    assert.equal(lines.length, 5);
    const limited = await get(`/v1/bulk/${jobId}/results?format=csv&limit=1`);
    assert.equal(limited.text.trim().split('\n').length, 2);
  });

  it("keeps jobs to their key, and answers Reacher's errors", async () => {
    const created = await post('/v1/bulk', { input: ['ann@slow.test'] }, as(KEY_A), bulkApp);
    const jobId = created.body.job_id as number;
    // slow.test greets after 1.5 s: the job is still running.
    const early = await get(`/v1/bulk/${jobId}/results`);
    assert.equal(early.status, 400);
    assert.deepEqual(JSON.parse(early.text), {
      error: `Job ${jobId} is still running, please try again later`,
      code: 'bad_request',
    });
    for (const path of [`/v1/bulk/${jobId}`, `/v1/bulk/${jobId}/results`]) {
      const other = await get(path, KEY_B);
      assert.equal(other.status, 404, path);
      assert.deepEqual(JSON.parse(other.text), { error: `No job ${jobId}`, code: 'not_found' });
    }
    assert.equal((await get('/v1/bulk/999999')).status, 404);
    assert.equal((await get('/v1/bulk/abc')).status, 404);
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ input: [] }, 400, /^Empty input$/],
      [{}, 400, /input/],
      [{ input: 'a@b.test' }, 400, /input/],
      [
        { input: ['a@acme.test'], hello_name: 'x.test' },
        400,
        /^hello_name: bulk jobs run with this server's own SMTP settings/,
      ],
      [
        {
          input: ['a@acme.test'],
          webhook: { on_each_email: { url: 'http://127.0.0.1:1/', headers: { 'Rcpt-Signature': 'x' } } },
        },
        400,
        /set by rcpt/,
      ],
    ];
    for (const [body, status, message] of cases) {
      const response = await post('/v1/bulk', body, as(KEY_A), bulkApp);
      assert.equal(response.status, status, JSON.stringify(body));
      assert.match(response.body.error as string, message, JSON.stringify(body));
    }
    await completed(jobId);
  });

  it('refuses a webhook on a server without keys and without RCPT_WEBHOOK_SECRET: nothing to sign with', async () => {
    const verifier = world.verifier();
    const local = createApp({ verifier, jobs, rateLimit: null, webhooks: { allowPrivateTargets: true } });
    const response = await post(
      '/v1/bulk',
      { input: ['alice@acme.test'], webhook: { on_each_email: { url: 'http://127.0.0.1:9/hook' } } },
      {},
      local,
    );
    assert.equal(response.status, 400);
    assert.match(response.body.error as string, /set RCPT_WEBHOOK_SECRET/);
  });
});

describe("Reacher's bulk body, read as it streams into a spool", () => {
  let directory: string;
  let jobs: ClosableJobsBackend;
  let small: App;
  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'rcpt-reacher-bulk-'));
    const verifier = world.verifier();
    jobs = createJobsBackend({
      store: openSqliteJobStore(join(directory, 'jobs.db')),
      verifier,
      logger: capturedLogger().logger,
    });
    small = createApp({
      verifier,
      jobs,
      apiKeys: [KEY_A],
      rateLimit: null,
      smtp,
      limits: { maxUploadBytes: 4_096, maxJobAddresses: 20 },
      uploadSpoolDirectory: directory,
    });
  });
  after(async () => {
    await jobs.close();
    rmSync(directory, { recursive: true, force: true });
  });
  /** The bytes of every file in the store's directory (the database, its WAL; a spool would show), by name. */
  const storeBytes = () =>
    Object.fromEntries(readdirSync(directory).map((name) => [name, statSync(join(directory, name)).size]));

  it("refuses an oversized or malformed body with Reacher's error body and writes nothing; a normal one becomes a job", async () => {
    const before = storeBytes();
    const input = (n: number, local = (i: number) => `u${i}`) =>
      Array.from({ length: n }, (_, i) => JSON.stringify(`${local(i)}@acme.test`)).join(',');
    for (const [body, status, message, type] of [
      [`{"input": [${input(21)}]}`, 413, /^At most 20 addresses per job$/],
      [
        streamed(`{"input": [${input(15, () => 'x'.repeat(400))}]}`),
        413,
        /^The body is larger than 4096 bytes$/,
      ],
      ['{"input": ["alice@acme.test"', 400, /^Malformed JSON: the body ends before its object does$/],
      ['{"input": ["alice@acme.test",]}', 400, /^Malformed JSON: /],
      ['{"input": ["alice@acme.test"]} {}', 400, /^Malformed JSON: /],
      ['["alice@acme.test"]', 400, /must be a JSON object \{"input": \["…", …\]\}, not an array$/],
      ['{"input": ["alice@acme.test", 7]}', 400, /^"input"\[1\] is a number, not a string$/],
      ['{"input": ["alice@acme.test"], "webhook": 7}', 400, /^"webhook" is a number, not an object$/],
      [
        '{"input": ["alice@acme.test"], "smtp_port": 2525}',
        400,
        /^smtp_port: bulk jobs run with this server's own/,
      ],
      ['', 400, /^The body is empty$/],
      [
        'alice@acme.test',
        415,
        /^Unsupported Media Type \(text\/plain\): send the body as application\/json, and say so in Content-Type/,
        'text/plain',
      ],
    ] as const) {
      const response = await small.request('/v1/bulk', {
        method: 'POST',
        headers: { ...bearer(KEY_A), 'content-type': type ?? 'application/json' },
        body,
        ...(typeof body === 'string' ? {} : { duplex: 'half' }),
      });
      const label = typeof body === 'string' ? body.slice(0, 50) : 'streamed';
      const answer = (await response.json()) as Record<string, unknown>;
      assert.equal(response.status, status, `${label}: ${JSON.stringify(answer)}`);
      // Reacher's error body, with rcpt's code.
      assert.deepEqual(Object.keys(answer), ['error', 'code'], label);
      assert.match(answer.error as string, message, label);
    }
    assert.deepEqual(storeBytes(), before, 'a refused body wrote to the store (or left a spool)');

    const created = await small.request('/v1/bulk', {
      method: 'POST',
      headers: { ...bearer(KEY_A), ...JSON_TYPE },
      body: streamed(JSON.stringify({ input: [' alice@acme.test', 'nobody@acme.test', 'alice@acme.test'] })),
      duplex: 'half',
    });
    assert.equal(created.status, 200, await created.clone().text());
    const jobId = ((await created.json()) as { job_id: number }).job_id;
    for (;;) {
      const progress = await small.request(`/v1/bulk/${jobId}`, { headers: bearer(KEY_A) });
      const body = (await progress.json()) as Record<string, unknown>;
      if (body.job_status === 'Completed') {
        assert.equal(body.total_records, 2, 'distinct addresses');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const results = await small.request(`/v1/bulk/${jobId}/results`, { headers: bearer(KEY_A) });
    const rows = ((await results.json()) as { results: { input: string; is_reachable: string }[] }).results;
    assert.deepEqual(
      rows.map((row) => [row.input, row.is_reachable]),
      [
        ['alice@acme.test', 'safe'],
        ['nobody@acme.test', 'invalid'],
        ['alice@acme.test', 'safe'],
      ],
    );
    assert.deepEqual(
      readdirSync(directory).filter((name) => name.startsWith('.rcpt-upload-')),
      [],
    );
  });
});
