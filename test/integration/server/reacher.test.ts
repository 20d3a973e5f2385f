/**
 * Reacher's check routes (`POST /v0/check_email`, `POST /v1/check_email`) against a JSON schema written
 * for rcpt from Reacher's output shapes (test/fixtures/reacher/check-email-output.schema.json: field
 * names, types, enums, nullability; validated with ajv, independently of the server's own zod schema),
 * for every behaviour of the demo world; then the per-request settings, their validation and locks.
 */
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Ajv } from 'ajv';

import { startPersona } from '../../../src/demo/smtp-persona.js';
import { createApp, type App } from '../../../src/server/app.js';
import { JSON_TYPE, startWorld, type World } from './helpers.js';

const outputSchema = JSON.parse(
  readFileSync(new URL('../../fixtures/reacher/check-email-output.schema.json', import.meta.url), 'utf8'),
) as object;
const validateOutput = new Ajv({ allErrors: true, strict: true }).compile(outputSchema);

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
      [{ to_email: 'a@acme.test', from_email: 'not an address' }, /^from_email must be an email address\.$/],
      [
        { to_email: 'a@acme.test', check_gravatar: true },
        /^check_gravatar: rcpt makes no third-party lookups/,
      ],
      [{ to_email: 'a@acme.test', proxy: 'socks5://x' }, /^proxy must be an object/],
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
