/**
 * `POST /v0/check_email` against Reacher's documented response shape (reacherhq/check-if-email-exists
 * backend 0.11, `core/src/util/input_output.rs`; field names and types as listed in
 * Reacher's CheckEmailOutput, version 0.11), checked by a shape description written here, independently of
 * the server's own zod schema.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { createApp, type App } from '../../../src/server/app.js';
import { JSON_TYPE, startWorld, type World } from './helpers.js';

type Shape = 'string' | 'boolean' | 'integer' | 'string|null' | 'boolean|null' | 'string[]' | ShapeObject;
interface ShapeObject {
  readonly [field: string]: Shape;
}

const SMTP_DETAILS: ShapeObject = {
  can_connect_smtp: 'boolean',
  has_full_inbox: 'boolean',
  is_catch_all: 'boolean',
  is_deliverable: 'boolean',
  is_disabled: 'boolean',
};
const ERROR: ShapeObject = { type: 'string', message: 'string' };

/** Reacher's CheckEmailOutput; `mx` and `smtp` are either their details or `{ error }`. */
const REACHER: ShapeObject = {
  input: 'string',
  is_reachable: 'string',
  misc: {
    is_disposable: 'boolean',
    is_role_account: 'boolean',
    is_b2c: 'boolean',
    gravatar_url: 'string|null',
    haveibeenpwned: 'boolean|null',
  },
  syntax: {
    address: 'string|null',
    domain: 'string',
    username: 'string',
    is_valid_syntax: 'boolean',
    normalized_email: 'string|null',
    suggestion: 'string|null',
  },
};

function checkShape(value: unknown, shape: Shape, path: string): void {
  if (typeof shape === 'object') {
    assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${path} is an object`);
    const record = value as Record<string, unknown>;
    for (const [field, inner] of Object.entries(shape)) {
      assert.ok(field in record, `${path}.${field} is present`);
      checkShape(record[field], inner, `${path}.${field}`);
    }
    return;
  }
  const ok = {
    string: typeof value === 'string',
    boolean: typeof value === 'boolean',
    integer: Number.isInteger(value),
    'string|null': value === null || typeof value === 'string',
    'boolean|null': value === null || typeof value === 'boolean',
    'string[]': Array.isArray(value) && value.every((item) => typeof item === 'string'),
  }[shape];
  assert.ok(ok, `${path} is ${shape}, got ${JSON.stringify(value)}`);
}

/** The whole documented shape, including the either/or blocks and the debug block. */
function checkReacher(body: Record<string, unknown>): void {
  checkShape(body, REACHER, '$');
  assert.ok(['safe', 'risky', 'invalid', 'unknown'].includes(body.is_reachable as string));
  const mx = body.mx as Record<string, unknown>;
  if ('error' in mx) checkShape(mx.error, ERROR, '$.mx.error');
  else checkShape(mx, { accepts_mail: 'boolean', records: 'string[]' }, '$.mx');
  const smtp = body.smtp as Record<string, unknown>;
  if ('error' in smtp) {
    checkShape(smtp.error, ERROR, '$.smtp.error');
    if ('description' in smtp) assert.ok(['IpBlacklisted', 'NeedsRDNS'].includes(smtp.description as string));
  } else {
    checkShape(smtp, SMTP_DETAILS, '$.smtp');
  }
  checkShape(
    body.debug,
    {
      backend_name: 'string',
      start_time: 'string',
      end_time: 'string',
      duration: { secs: 'integer', nanos: 'integer' },
      smtp: { verif_method: { type: 'string' } },
    },
    '$.debug',
  );
  const debug = body.debug as { start_time: string; end_time: string; duration: { nanos: number } };
  assert.ok(
    !Number.isNaN(Date.parse(debug.start_time)) && Date.parse(debug.end_time) >= Date.parse(debug.start_time),
  );
  assert.ok(debug.duration.nanos >= 0 && debug.duration.nanos < 1e9);
}

let world: World;
let app: App;

before(async () => {
  world = await startWorld();
  app = createApp({ verifier: world.verifier(), rateLimit: null });
});
after(async () => {
  await world.close();
});

async function check(email: string): Promise<Record<string, unknown>> {
  const response = await app.request('/v0/check_email', {
    method: 'POST',
    headers: JSON_TYPE,
    // Fields Reacher clients send that rcpt accepts and ignores (the server's own settings decide).
    body: JSON.stringify({ to_email: email, from_email: 'me@example.org', hello_name: 'example.org' }),
  });
  assert.equal(response.status, 200, email);
  const body = (await response.json()) as Record<string, unknown>;
  checkReacher(body);
  assert.equal(body.input, email);
  return body;
}

describe('POST /v0/check_email (Reacher-compatible)', () => {
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
      verif_method: { type: 'Smtp', host: 'mx1.acme.test' },
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
});
