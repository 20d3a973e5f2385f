/**
 * The HTTP API through `app.request()` (no port) against the demo world: verification, validation,
 * authentication, rate limits, size limits, logs, metrics, the OpenAPI document and the page.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { VerifyResult } from '../../../src/index.js';
import { AUTH_FAILURE_LIMIT, createApp, type App } from '../../../src/server/app.js';
import { createMetrics, type Metrics } from '../../../src/server/metrics.js';
import { KEY_A, KEY_B, JSON_TYPE, bearer, capturedLogger, startWorld, type World } from './helpers.js';

let world: World;
let app: App;
let metrics: Metrics;
const logs = capturedLogger();

before(async () => {
  world = await startWorld();
  metrics = createMetrics();
  app = createApp({
    verifier: world.verifier(),
    apiKeys: [KEY_A, KEY_B],
    logger: logs.logger,
    metrics,
    rateLimit: null,
    limits: { maxBodyBytes: 2_048, maxSyncAddresses: 3 },
  });
});

after(async () => {
  metrics.close();
  await world.close();
});

async function post(path: string, body: unknown, headers: Record<string, string> = bearer(KEY_A)) {
  return app.request(path, {
    method: 'POST',
    headers: { ...JSON_TYPE, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('POST /v1/verify', () => {
  it('verifies one address and answers with the result schema', async () => {
    const response = await post('/v1/verify', { email: 'alice@acme.test' });
    assert.equal(response.status, 200);
    const result = (await response.json()) as VerifyResult;
    assert.equal(result.verdict, 'deliverable');
    assert.equal(result.reason, 'accepted');
    assert.equal(result.smtp?.reply?.code, 250);
    assert.deepEqual(Object.keys(result), [
      'input',
      'address',
      'verdict',
      'reason',
      'flags',
      'suggestion',
      'syntax',
      'dns',
      'smtp',
      'durationMs',
      'checkedAt',
      'retryAt',
    ]);
  });

  it('verifies a few addresses and keeps their order', async () => {
    const response = await post('/v1/verify', {
      emails: ['nobody@acme.test', 'alice@acme.test', 'not an address'],
    });
    assert.equal(response.status, 200);
    const { results } = (await response.json()) as { results: VerifyResult[] };
    assert.deepEqual(
      results.map((r) => [r.input, r.reason]),
      [
        ['nobody@acme.test', 'mailbox_not_found'],
        ['alice@acme.test', 'accepted'],
        ['not an address', 'invalid_syntax'],
      ],
    );
  });

  it('answers malformed input with a 400 and a JSON error, never a 5xx', async () => {
    const cases: [unknown, string][] = [
      ['{"email": ', 'Malformed JSON'],
      [{ email: 42 }, '^"email" is a number, not a string$'],
      [{ emails: 'alice@acme.test' }, '^"emails" is a string, not an array$'],
      [{ email: 'a@acme.test', emails: ['b@acme.test'] }, 'either'],
      [{}, 'either'],
      [{ emails: [] }, 'empty'],
      ['[]', '^the body is an array, not an object$'],
      ['null', '^the body is null, not an object$'],
    ];
    for (const [body, message] of cases) {
      const response = await post('/v1/verify', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      const error = (await response.json()) as { error: string; message: string };
      assert.equal(error.error, 'bad_request');
      assert.match(error.message, new RegExp(message), JSON.stringify(body));
    }
    const schema = (await (await post('/v1/verify', { email: 42 })).json()) as { details: unknown[] };
    assert.deepEqual(schema.details, [
      { path: 'email', message: 'Invalid input: expected string, received number' },
    ]);
  });

  it('refuses a body that is not JSON with a 415', async () => {
    const response = await app.request('/v1/verify', {
      method: 'POST',
      headers: { ...bearer(KEY_A), 'content-type': 'text/plain' },
      body: 'alice@acme.test',
    });
    assert.equal(response.status, 415);
    assert.equal(((await response.json()) as { error: string }).error, 'unsupported_media_type');
  });

  it('answers 413 for a body over the limit and for a list over the synchronous cap', async () => {
    const big = await post('/v1/verify', { email: `${'a'.repeat(3_000)}@acme.test` });
    assert.equal(big.status, 413);
    const bigError = (await big.json()) as { error: string; message: string };
    assert.equal(bigError.error, 'payload_too_large');
    assert.match(bigError.message, /2048 bytes.*POST \/v1\/jobs/);

    const many = await post('/v1/verify', { emails: ['a@x.test', 'b@x.test', 'c@x.test', 'd@x.test'] });
    assert.equal(many.status, 413);
    assert.match(((await many.json()) as { message: string }).message, /At most 3 addresses.*got 4/);
  });
});

describe('authentication', () => {
  it('answers 401 with WWW-Authenticate without a key or with an unknown one', async () => {
    for (const headers of [{}, bearer('wrong-key-0123456789'), { authorization: 'Basic abc' }]) {
      const response = await post('/v1/verify', { email: 'alice@acme.test' }, headers);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="rcpt"');
      assert.equal(((await response.json()) as { error: string }).error, 'unauthorized');
    }
    for (const path of ['/v1/jobs/x', '/metrics']) {
      assert.equal((await app.request(path)).status, 401, path);
    }
  });

  it('accepts every configured key, and Reacher x-reacher-secret on /v0', async () => {
    assert.equal((await post('/v1/verify', { email: 'x@' }, bearer(KEY_B))).status, 200);
    const reacher = await post('/v0/check_email', { to_email: 'x@' }, { 'x-reacher-secret': KEY_B });
    assert.equal(reacher.status, 200);
  });

  it('leaves the page, health, OpenAPI and docs open', async () => {
    for (const path of ['/', '/app.js', '/style.css', '/favicon.svg', '/healthz', '/openapi.json', '/docs']) {
      assert.equal((await app.request(path)).status, 200, path);
    }
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After when a key has spent its bucket, per key', async () => {
    const limited = createApp({
      verifier: world.verifier(),
      apiKeys: [KEY_A, KEY_B],
      rateLimit: { perMinute: 6, burst: 3 },
    });
    const call = (key: string, emails: string[]) =>
      limited.request('/v1/verify', {
        method: 'POST',
        headers: { ...JSON_TYPE, ...bearer(key) },
        body: JSON.stringify({ emails }),
      });
    assert.equal((await call(KEY_A, ['a@', 'b@'])).status, 200);
    const refused = await call(KEY_A, ['c@', 'd@']);
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    // 6 a minute is one token every 10 s; one token is left, two are missing.
    assert.ok(retryAfter >= 1 && retryAfter <= 10, `Retry-After ${retryAfter}`);
    const body = (await refused.json()) as { error: string; message: string };
    assert.equal(body.error, 'rate_limited');
    assert.match(body.message, /6 a minute/);
    // Another key has its own bucket.
    assert.equal((await call(KEY_B, ['e@'])).status, 200);
  });

  it('slows wrong API keys per client: an IPv6 client by its /64, whatever addresses it spreads them over', async () => {
    const guarded = createApp({ verifier: world.verifier(), apiKeys: [KEY_A], rateLimit: null });
    // The socket's peer as @hono/node-server hands it to the app.
    const from = (remoteAddress: string, key: string) =>
      guarded.request('/v1/jobs/x', { headers: bearer(key) }, { incoming: { socket: { remoteAddress } } });
    const burst = AUTH_FAILURE_LIMIT.burst ?? 0;
    assert.ok(burst > 0);
    const statuses: number[] = [];
    for (let i = 0; i < burst + 5; i++) {
      // A new address of one /64 for each guess. Before: each its own budget, never a 429.
      statuses.push(
        (await from(`2001:db8:1:2::${(i + 1).toString(16)}`, `wrong-key-${i}-0123456789`)).status,
      );
    }
    assert.deepEqual([...new Set(statuses.slice(0, burst))], [401], statuses.join(' '));
    assert.deepEqual([...new Set(statuses.slice(burst + 1))], [429], statuses.join(' '));
    // Another /64, and an IPv4 client, have budgets of their own; the right key still passes.
    assert.equal((await from('2001:db8:1:3::1', 'wrong-key-x-0123456789')).status, 401);
    assert.equal((await from('::ffff:192.0.2.7', 'wrong-key-y-0123456789')).status, 401);
    // (Past authentication: 503, this app has no job store.)
    assert.equal((await from('2001:db8:1:2::99', KEY_A)).status, 503);
  });
});

describe('logs', () => {
  it('name the caller by key id and never write a key or an address', async () => {
    await post('/v1/verify', { email: 'alice@acme.test' });
    const text = logs.lines().join('\n');
    assert.match(text, /"msg":"request"/);
    assert.match(text, /"route":"\/v1\/verify"/);
    assert.match(text, /"verdict":"deliverable".*"msg":"verified"/);
    assert.ok(!text.includes('alice@acme.test'), 'an address was logged');
    assert.ok(!text.includes(KEY_A) && !text.includes(KEY_B), 'a key was logged');
  });

  it('write addresses only when asked', async () => {
    const own = capturedLogger();
    const logging = createApp({ verifier: world.verifier(), logger: own.logger, logAddresses: true });
    await logging.request('/v1/verify', {
      method: 'POST',
      headers: JSON_TYPE,
      body: JSON.stringify({ email: 'nobody@acme.test' }),
    });
    assert.match(own.lines().join('\n'), /"address":"nobody@acme.test"/);
  });
});

describe('GET /metrics', () => {
  it('counts verifications by verdict, SMTP replies by class, connections by host, and requests', async () => {
    await post('/v1/verify', { emails: ['alice@acme.test', 'nobody@acme.test'] });
    const response = await app.request('/metrics', { headers: bearer(KEY_A) });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    const text = await response.text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 'NaN');
    assert.ok(value(/rcpt_verifications_total\{verdict="deliverable",reason="accepted"\} (\d+)/) >= 1);
    assert.ok(
      value(/rcpt_verifications_total\{verdict="undeliverable",reason="mailbox_not_found"\} (\d+)/) >= 1,
    );
    assert.ok(value(/rcpt_smtp_replies_total\{class="2xx"\} (\d+)/) >= 3);
    assert.ok(value(/rcpt_smtp_replies_total\{class="5xx"\} (\d+)/) >= 1);
    assert.ok(value(/rcpt_smtp_connections_total\{host="mx1.acme.test"\} (\d+)/) >= 1);
    assert.match(text, /rcpt_jobs_queue_depth 0/);
    assert.match(text, /rcpt_http_requests_total\{method="POST",route="\/v1\/verify",status="200"\} \d+/);
  });
});

describe('documents and the page', () => {
  it('publishes an OpenAPI 3.1 document with every route', async () => {
    const document = (await (await app.request('/openapi.json')).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    assert.equal(document.openapi, '3.1.0');
    const routes = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    assert.deepEqual(routes.sort(), [
      'DELETE /v1/jobs/{id}',
      'GET /v1/bulk/{job_id}',
      'GET /v1/bulk/{job_id}/results',
      'GET /v1/doctor',
      'GET /v1/jobs/{id}',
      'GET /v1/jobs/{id}/events',
      'GET /v1/jobs/{id}/results',
      'POST /v0/check_email',
      'POST /v1/bulk',
      'POST /v1/check_email',
      'POST /v1/explain',
      'POST /v1/jobs',
      'POST /v1/verify',
    ]);
    for (const name of ['Result', 'Error', 'Job', 'ReacherCheckEmailResponse']) {
      assert.ok(name in document.components.schemas, name);
    }
  });

  it('renders the docs page from the document, escaped', async () => {
    const html = await (await app.request('/docs')).text();
    assert.match(html, /<h1>rcpt HTTP API<\/h1>/);
    assert.match(html, /POST<\/span> <code>\/v0\/check_email<\/code>/);
    assert.match(html, /<code>\{&quot;email&quot;: &quot;…&quot;\}<\/code>/);
  });

  it('serves the page with a strict content security policy', async () => {
    const response = await app.request('/');
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    const html = await response.text();
    assert.match(html, /<script type="module" src="\/app.js"><\/script>/);
    assert.match(html, /<label for="addresses">/);
    const script = await app.request('/app.js');
    assert.match(script.headers.get('content-type') ?? '', /text\/javascript/);
    assert.ok(script.headers.get('etag'));
  });

  it('answers unknown routes with a JSON 404, and health with the server mode', async () => {
    const missing = await app.request('/v2/nothing');
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: 'not_found', message: 'No route for GET /v2/nothing' });
    assert.deepEqual(await (await app.request('/healthz')).json(), {
      status: 'ok',
      jobs: false,
      auth: 'api-key',
    });
  });
});
