/**
 * The server on real sockets: `startServer()` on port 0 with a SQLite job store, driven with fetch
 * (upload, live events, results), the loopback-only rule without keys, and `rcpt serve` as a child
 * process stopped by SIGTERM.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import { run } from '../../../src/cli/main.js';
import { LIST_LAYOUT, openSqliteJobStore, type JobSettings } from '../../../src/jobs/index.js';
import { JobSettingsError } from '../../../src/server/jobs-backend.js';
import { startServer, type RunningServer } from '../../../src/server/server.js';
import { listItems } from '../../helpers/job-items.js';
import { KEY_A, KEY_B, bearer, capturedLogger, spawnServe, startWorld, type World } from './helpers.js';

let world: World;
let directory: string;

/** Sends `bytes` as they are on a new connection and reads the answer until the server closes it. */
function exchange(port: number, bytes: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (data: Buffer) => (text += data.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      const at = text.indexOf('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0),
        head: text.slice(0, at),
        body: text.slice(at + 4),
      });
    });
  });
}

before(async () => {
  world = await startWorld();
  directory = mkdtempSync(join(tmpdir(), 'rcpt-server-listener-'));
});

after(async () => {
  await world.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('startServer()', () => {
  let server: RunningServer;
  const logs = capturedLogger();

  before(async () => {
    server = await startServer({
      port: 0,
      verify: world.options,
      apiKeys: [KEY_A, KEY_B],
      db: join(directory, 'nested', 'jobs.db'),
      logger: logs.logger,
      processMetrics: false,
    });
  });
  after(async () => {
    await server.close();
  });

  it('listens on loopback and serves the page', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<h1 id="input-title">Verify email addresses<\/h1>/);
  });

  it('runs a CSV job over HTTP: upload, live events, results', async () => {
    const created = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { ...bearer(KEY_A), 'content-type': 'text/csv' },
      body: 'email,name\nalice@acme.test,Alice\nnobody@acme.test,Nobody\nanyone@catchall.test,Any\n',
    });
    assert.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };

    const events = await fetch(`${server.url}/v1/jobs/${id}/events`, { headers: bearer(KEY_A) });
    assert.equal(events.status, 200);
    const text = await events.text();
    assert.match(text, /event: end\ndata: \{"id":"[^"]+","status":"done","total":3,"done":3/);

    const csv = await (
      await fetch(`${server.url}/v1/jobs/${id}/results?format=csv`, { headers: bearer(KEY_A) })
    ).text();
    const lines = csv.trim().split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[1] ?? '', /^alice@acme\.test,Alice,deliverable,accepted,/);
    assert.match(lines[2] ?? '', /^nobody@acme\.test,Nobody,undeliverable,mailbox_not_found,/);
    assert.match(lines[3] ?? '', /^anyone@catchall\.test,Any,risky,catch_all,/);

    const other = await fetch(`${server.url}/v1/jobs/${id}`, { headers: bearer(KEY_B) });
    assert.equal(other.status, 404);
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: bearer(KEY_A) })).text();
    assert.match(metrics, /rcpt_jobs_queue_depth 0/);
  });

  it('counts rows that could not be read apart in a job progress, as the CLI summary does', async () => {
    const created = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { ...bearer(KEY_A), 'content-type': 'text/csv' },
      body: `email,name\nalice@acme.test,Alice\n"broken,"x"y\nnobody@acme.test,Nobody\n${'z'.repeat(70_000)},Long\n`,
    });
    assert.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };
    let job: { status: string; total: number; done: number; unreadable: number; progress: number } & {
      counts: Record<string, number>;
      reasons: Record<string, number>;
    };
    const deadline = Date.now() + 20_000;
    do {
      // Polled at 4 a second, under the default 300 a minute per key: a tight loop spends the bucket (429).
      await sleep(250);
      const response = await fetch(`${server.url}/v1/jobs/${id}`, { headers: bearer(KEY_A) });
      assert.equal(response.status, 200);
      job = (await response.json()) as typeof job;
    } while (job.status !== 'done' && Date.now() < deadline);
    assert.equal(job.status, 'done');
    // Two addresses, two unreadable rows: not addresses, not unknown verdicts, not a reason.
    assert.deepEqual([job.total, job.done, job.progress, job.unreadable], [2, 2, 1, 2]);
    assert.deepEqual(job.counts, { deliverable: 1, undeliverable: 1, risky: 0, unknown: 0 });
    assert.deepEqual(job.reasons, { accepted: 1, mailbox_not_found: 1 });
    // The rows themselves are still in the results, unknown/unreadable_row.
    const rows = (
      await (
        await fetch(`${server.url}/v1/jobs/${id}/results?format=ndjson`, { headers: bearer(KEY_A) })
      ).text()
    )
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { reason: string }).reason);
    assert.deepEqual(rows, ['accepted', 'unreadable_row', 'mailbox_not_found', 'unreadable_row']);
  });

  it('a CSV upload not in UTF-8 outside its address column is verified, and the job says so once in its warnings', async () => {
    /** Uploads `body` as text/csv and polls the job to its end (as the web page and a client see it). */
    const finished = async (body: Uint8Array) => {
      const created = await fetch(`${server.url}/v1/jobs`, {
        method: 'POST',
        headers: { ...bearer(KEY_A), 'content-type': 'text/csv' },
        body,
      });
      assert.equal(created.status, 202);
      const { id } = (await created.json()) as { id: string };
      let job: { id: string; status: string; warnings: string[] };
      const deadline = Date.now() + 20_000;
      do {
        await sleep(250);
        job = (await (
          await fetch(`${server.url}/v1/jobs/${id}`, { headers: bearer(KEY_A) })
        ).json()) as typeof job;
      } while (job.status !== 'done' && Date.now() < deadline);
      assert.equal(job.status, 'done');
      return job;
    };
    // A Windows-1252 export: é and ô are single bytes UTF-8 cannot hold, from line 3 on.
    const names = ['Alice', 'J\u00e9r\u00f4me', 'Ren\u00e9e'];
    const text = `email,name\nalice@acme.test,${names[0]}\nnobody@acme.test,${names[1]}\nanyone@catchall.test,${names[2]}\n`;
    const latin1 = await finished(Buffer.from(text, 'latin1'));
    assert.deepEqual(latin1.warnings, [
      'the input is not UTF-8 (line 3: a byte shown as \ufffd): columns other than the address are written with \ufffd in its place; save the file as CSV UTF-8 (Excel: "CSV UTF-8"), or convert it (iconv -f windows-1252 -t utf-8)',
    ]);
    // Verified as any other job: the verdicts, the names with U+FFFD where the bytes were.
    const csv = await (
      await fetch(`${server.url}/v1/jobs/${latin1.id}/results?format=csv`, { headers: bearer(KEY_A) })
    ).text();
    const lines = csv.trim().split('\n');
    assert.match(lines[1] ?? '', /^alice@acme\.test,Alice,deliverable,accepted,/);
    assert.match(lines[2] ?? '', /^nobody@acme\.test,J\ufffdr\ufffdme,undeliverable,mailbox_not_found,/);
    assert.match(lines[3] ?? '', /^anyone@catchall\.test,Ren\ufffde,risky,catch_all,/);
    // The events' end and the same names in UTF-8: none.
    const events = await (
      await fetch(`${server.url}/v1/jobs/${latin1.id}/events`, { headers: bearer(KEY_A) })
    ).text();
    assert.match(events, /event: end\ndata: \{[^\n]*"warnings":\["the input is not UTF-8 \(line 3:/);
    assert.deepEqual((await finished(Buffer.from(text, 'utf8'))).warnings, []);
  });

  it('answers a request Node cannot parse with the JSON error body; a DELETE whose body has no framing is refused, not carried out', async () => {
    const garbage = await exchange(server.port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.equal(garbage.status, 400, garbage.head);
    assert.match(garbage.head, /\r\nContent-Type: application\/json\r\n/);
    assert.match(
      garbage.body,
      /^\{"error":"bad_request","message":"The request is not HTTP\/1\.1 that this server can read: .*HPE_/,
    );
    const header = await exchange(
      server.port,
      `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assert.equal(header.status, 431, header.head);
    assert.match(header.body, /^\{"error":"bad_request","message":"The request's header is too large/);

    const created = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { ...bearer(KEY_A), 'content-type': 'text/plain' },
      body: 'alice@acme.test\n',
    });
    assert.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };
    const before = logs.lines().length;
    // Neither Content-Length nor Transfer-Encoding: the body is read as a next request, which fails.
    const unframed = await exchange(
      server.port,
      `DELETE /v1/jobs/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY_A}\r\n\r\n{"reason": "duplicate"}`,
    );
    assert.equal(unframed.status, 400, unframed.head);
    assert.match(unframed.body, /^\{"error":"bad_request","message":"A DELETE request takes no body/);
    const chunked = await exchange(
      server.port,
      `DELETE /v1/jobs/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY_A}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    );
    assert.equal(chunked.status, 400, chunked.head);
    assert.match(chunked.body, /^\{"error":"bad_request","message":"A DELETE request takes no body/);
    // The route never ran: the request log has the two DELETEs refused, none answered by the route.
    await sleep(50);
    const deletes = logs
      .lines()
      .slice(before)
      .map((line) => JSON.parse(line) as { method?: string; status?: number })
      .filter((line) => line.method === 'DELETE');
    assert.deepEqual(
      deletes.map((line) => line.status),
      [400, 400],
    );
    const job = (await (await fetch(`${server.url}/v1/jobs/${id}`, { headers: bearer(KEY_A) })).json()) as {
      status: string;
    };
    assert.notEqual(job.status, 'cancelled');
  });

  it('tells a caller what to send: a 415 on a JSON route names application/json, a method a path does not take is 405 with Allow', async () => {
    for (const [path, headers] of [
      ['/v1/verify', { 'content-type': 'text/plain' }],
      ['/v1/verify', {}],
      ['/v0/check_email', { 'content-type': 'application/x-www-form-urlencoded' }],
    ] as const) {
      const response = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { ...bearer(KEY_A), ...headers },
        body: new TextEncoder().encode('{"email": "a@example.test"}'),
      });
      assert.equal(response.status, 415, path);
      const body = (await response.json()) as Record<string, string>;
      // rcpt's error body, or Reacher's on its route.
      const message = path === '/v1/verify' ? body.message : body.error;
      assert.equal(path === '/v1/verify' ? body.error : body.code, 'unsupported_media_type');
      assert.match(String(message), /send the body as application\/json, and say so in Content-Type/);
      assert.match(String(message), new RegExp(`\\(${headers['content-type'] ?? 'no Content-Type'}\\)`));
    }
    const explain = await fetch(`${server.url}/v1/explain`, {
      method: 'POST',
      headers: { ...bearer(KEY_A), 'content-type': 'application/xml' },
      body: '<reply/>',
    });
    assert.equal(explain.status, 415);
    assert.match(((await explain.json()) as { message: string }).message, /text\/plain/);
    for (const [method, path, allow] of [
      ['PUT', '/v1/verify', 'POST'],
      ['DELETE', '/v1/verify', 'POST'],
      ['GET', '/v1/verify', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['PATCH', '/v1/jobs/0123456789abcdef0123456789abcdef', 'GET, HEAD, DELETE'],
    ] as const) {
      const said = allow.replace(/, (\w+)$/, ' or $1');
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { ...bearer(KEY_A), 'content-type': 'application/json' },
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }),
      });
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.equal(response.headers.get('allow'), allow, `${method} ${path}`);
      const body = (await response.json()) as { error: string; message: string };
      assert.equal(body.error, 'method_not_allowed');
      assert.equal(body.message, `${method} is not allowed on ${path}: use ${said}`);
    }
    // A path no route has stays 404.
    const missing = await fetch(`${server.url}/v1/jobs/0123456789abcdef0123456789abcdef/cancel`, {
      method: 'POST',
      headers: bearer(KEY_A),
    });
    assert.equal(missing.status, 404);
  });

  it('a trailing slash is a 404 naming the route meant (it was a 405 "POST is not allowed on /v1/verify/: use POST")', async () => {
    for (const [method, path, reacher] of [
      ['POST', '/v1/verify/', false],
      ['POST', '/v0/check_email/', true],
      ['GET', '/healthz/', false],
    ] as const) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { ...bearer(KEY_A), 'content-type': 'application/json' },
        ...(method === 'GET' ? {} : { body: '{"email": "a@example.test", "to_email": "a@example.test"}' }),
      });
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.equal(response.headers.get('allow'), null);
      const body = (await response.json()) as Record<string, string>;
      const meant = path.slice(0, -1);
      const said = `No route for ${method} ${path}: did you mean ${meant} (without the trailing /)?`;
      // Reacher's error body on its route, as its clients read it; rcpt's elsewhere.
      assert.deepEqual(
        body,
        reacher ? { error: said, code: 'not_found' } : { error: 'not_found', message: said },
      );
    }
    const elsewhere = await fetch(`${server.url}/v1/nothing/`, { method: 'POST', headers: bearer(KEY_A) });
    assert.equal(elsewhere.status, 404);
    assert.deepEqual(await elsewhere.json(), {
      error: 'not_found',
      message: 'No route for POST /v1/nothing/',
    });
  });

  it("one address has one verdict whatever white space surrounds it: /v1/verify and Reacher's check_email trim it as a job does", async () => {
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { ...bearer(KEY_A), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 200, path);
      return (await response.json()) as Record<string, unknown>;
    };
    // Before: undeliverable/invalid_syntax (and Reacher's "invalid") for a pasted " alice@acme.test\n",
    // while the same string in a job's list was verified deliverable.
    const single = await post('/v1/verify', { email: ' alice@acme.test\n' });
    assert.deepEqual(
      [single.input, single.verdict, single.reason],
      ['alice@acme.test', 'deliverable', 'accepted'],
    );
    const listed = (await post('/v1/verify', { emails: ['\talice@acme.test', 'nobody@acme.test '] })) as {
      results: { verdict: string; reason: string }[];
    };
    assert.deepEqual(
      listed.results.map((result) => [result.verdict, result.reason]),
      [
        ['deliverable', 'accepted'],
        ['undeliverable', 'mailbox_not_found'],
      ],
    );
    for (const version of ['v0', 'v1']) {
      const reacher = await post(`/${version}/check_email`, { to_email: '  alice@acme.test ' });
      assert.equal(reacher.is_reachable, 'safe', version);
      assert.equal(reacher.input, 'alice@acme.test');
    }
    // Only white space is no address: Reacher's required-field error.
    const blank = await fetch(`${server.url}/v1/check_email`, {
      method: 'POST',
      headers: { ...bearer(KEY_A), 'content-type': 'application/json' },
      body: JSON.stringify({ to_email: '  ' }),
    });
    assert.equal(blank.status, 400);
    assert.deepEqual(await blank.json(), { error: 'to_email field is required.', code: 'bad_request' });
  });

  it('POST /v1/explain reads a bounce sent as text, whole or as a mail client shows it, as rcpt explain does', async () => {
    const ask = async (body: string, type: string) => {
      const response = await fetch(`${server.url}/v1/explain`, {
        method: 'POST',
        headers: { ...bearer(KEY_A), 'content-type': type },
        body,
      });
      assert.equal(response.status, 200);
      return (await response.json()) as {
        explanations: { reason: string; category: string }[];
        bounce?: { kind: string; recipients: { address: string }[] };
      };
    };
    const message = [
      'From: postmaster@outlook.example',
      'To: sender@example.com',
      'Subject: Undeliverable: hello',
      'Content-Type: text/plain; charset="us-ascii"',
      '',
      'Delivery has failed to these recipients or groups:',
      '',
      'carol@contoso.example',
      "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found'",
      '',
    ].join('\r\n');
    const copied = [
      'The following recipient(s) cannot be reached:',
      '',
      '      dave@contoso.example on 30/11/2026 10:00',
      '            The e-mail account does not exist at the organization this message was sent to.',
      '            <mx.contoso.example #5.1.1 smtp;550 5.1.1 User unknown>',
      '',
    ].join('\n');
    // Before: one not_a_reply explanation ("No SMTP reply code was found") for each.
    for (const [body, type, address] of [
      [message, 'text/plain', 'carol@contoso.example'],
      [JSON.stringify({ reply: message }), 'application/json', 'carol@contoso.example'],
      [copied, 'text/plain', 'dave@contoso.example'],
    ] as const) {
      const answer = await ask(body, type);
      assert.equal(answer.bounce?.kind, 'bounce', `${type}: ${body.slice(0, 40)}`);
      assert.deepEqual(
        answer.bounce.recipients.map((r) => r.address),
        [address],
      );
      assert.deepEqual(
        answer.explanations.map((e) => e.reason),
        ['mailbox_not_found'],
      );
    }
    // A reply stays a reply, without a bounce.
    const reply = await ask('550 5.1.1 User unknown', 'text/plain');
    assert.equal(reply.bounce, undefined);
    assert.deepEqual(
      reply.explanations.map((e) => e.reason),
      ['mailbox_not_found'],
    );
  });

  it('a list uploaded as curl sends it without a type, or as a form, is told how to send it (the type sent, curl --data-binary with its type)', async () => {
    const form = new FormData();
    form.append('file', new Blob(['email\nalice@acme.test\n'], { type: 'text/csv' }), 'list.csv');
    for (const [sent, init] of [
      // curl --data-binary @list.csv without -H
      [
        'application/x-www-form-urlencoded',
        {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'email\nalice@acme.test\n',
        },
      ],
      ['multipart/form-data', { body: form }],
      [
        'application/octet-stream',
        { headers: { 'content-type': 'application/octet-stream' }, body: 'alice@acme.test\n' },
      ],
    ] as const) {
      const response = await fetch(`${server.url}/v1/jobs`, {
        method: 'POST',
        ...init,
        headers: { ...bearer(KEY_A), ...('headers' in init ? init.headers : {}) },
      });
      assert.equal(response.status, 415, sent);
      const body = (await response.json()) as { error: string; message: string };
      // Before: "Unsupported Media Type: send application/json, text/csv or text/plain".
      assert.equal(body.error, 'unsupported_media_type');
      assert.match(
        body.message,
        new RegExp(
          `^Unsupported Media Type \\(${sent.replace('/', '\\/')}\\): send the list itself as the body, as text/csv, text/plain or application/json, and say so in Content-Type \\(curl --data-binary @list\\.csv -H 'content-type: text/csv'\\)`,
        ),
      );
      assert.equal(
        body.message.includes('a form upload (curl -F) is not read'),
        sent === 'multipart/form-data',
      );
    }
  });

  it('never logs the keys or the addresses', () => {
    const text = logs.lines().join('\n');
    assert.match(text, /"msg":"listening"/);
    for (const secret of [KEY_A, KEY_B, 'alice@acme.test', 'nobody@acme.test']) {
      assert.ok(!text.includes(secret), `${secret} in the log`);
    }
  });
});

describe('without API keys', () => {
  it('listens on loopback only, whatever host was asked, and says so', async () => {
    const logs = capturedLogger();
    const server = await startServer({
      port: 0,
      host: '0.0.0.0',
      verify: world.options,
      logger: logs.logger,
      processMetrics: false,
    });
    try {
      assert.equal(server.host, '127.0.0.1');
      assert.match(logs.lines().join('\n'), /no API keys configured.*listening on loopback only/);
      const response = await fetch(`${server.url}/v1/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'alice@acme.test' }),
      });
      assert.equal(response.status, 200);
      const health = (await (await fetch(`${server.url}/healthz`)).json()) as { auth: string; jobs: boolean };
      assert.deepEqual(health, { status: 'ok', jobs: false, auth: 'none' });
    } finally {
      await server.close();
    }
  });

  it('closes promptly with an event stream open', async () => {
    const server = await startServer({
      port: 0,
      verify: world.options,
      db: join(directory, 'close.db'),
      logger: capturedLogger().logger,
      processMetrics: false,
    });
    const created = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: Array.from({ length: 6 }, (_, i) => `ann${i}@slow.test`).join('\n'),
    });
    const { id } = (await created.json()) as { id: string };
    const events = await fetch(`${server.url}/v1/jobs/${id}/events`);
    const reader = events.body?.getReader();
    await reader?.read();
    const started = Date.now();
    await server.close();
    // Event streams end at once on shutdown; running verifications finish (slow.test greets in 1.5 s).
    assert.ok(Date.now() - started < 4_000, `close took ${Date.now() - started} ms`);
    await reader?.cancel().catch(() => undefined);
  });
});

describe('rcpt serve', () => {
  it('starts from the CLI with keys from a file, serves, and stops cleanly on SIGTERM', async () => {
    const keyFile = join(directory, 'keys.txt');
    writeFileSync(keyFile, `# rcpt keys\n${KEY_A}\n\n`);
    const serve = await spawnServe(
      [
        '--port',
        '0',
        '--api-key-file',
        keyFile,
        '--db',
        join(directory, 'cli.db'),
        '--dns-server',
        world.world.dnsServer,
        '--smtp-port',
        String(world.world.smtpPort),
        '--allow-private-targets',
        '--helo',
        'probe.rcpt.test',
      ],
      { RCPT_API_KEYS: '' },
    );
    const { child, url, exited } = serve;
    try {
      assert.equal((await fetch(`${url}/v1/verify`, { method: 'POST' })).status, 401);
      const response = await fetch(`${url}/v1/verify`, {
        method: 'POST',
        headers: { ...bearer(KEY_A), 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'alice@acme.test' }),
      });
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { verdict: string }).verdict, 'deliverable');
      child.kill('SIGTERM');
      assert.equal(await exited, 0, serve.output());
      assert.match(serve.output(), /"signal":"SIGTERM","msg":"stopping"/);
      assert.match(serve.output(), /"msg":"stopped"/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses a short key and an unreadable key file with exit status 64', async () => {
    // Usage errors come before anything listens, so the CLI runs in-process here.
    const runCli = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
      let output = '';
      const sink = new PassThrough();
      sink.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await run(['node', 'rcpt', 'serve', '--port', '0', ...args], {
        stdout: sink,
        stderr: sink,
        env,
      });
      return { code, output };
    };
    const short = await runCli([], { RCPT_API_KEYS: 'tiny-key' });
    assert.equal(short.code, 64);
    assert.match(short.output, /API key [0-9a-f]{12} is too short/);
    assert.ok(!short.output.includes('tiny-key'), 'the key itself is not echoed');
    const missing = await runCli(['--api-key-file', join(directory, 'no-such-file')]);
    assert.equal(missing.code, 64);
    assert.match(missing.output, /--api-key-file: no such file: .*no-such-file/);
    // A key file without a key would leave the server open to anyone on the machine: refused, named,
    // even when RCPT_API_KEYS has keys (the file was meant to hold some).
    for (const [name, text] of [
      ['empty.keys', ''],
      ['comments.keys', '# the keys of the web team\n\n   \n'],
    ] as const) {
      const file = join(directory, name);
      writeFileSync(file, text);
      for (const env of [{}, { RCPT_API_KEYS: KEY_A }]) {
        const empty = await runCli(['--api-key-file', file], env);
        assert.equal(empty.code, 64, `${name}: ${empty.output}`);
        assert.ok(
          empty.output.includes(`--api-key-file ${file} holds no API key`),
          `${name}: ${empty.output}`,
        );
        assert.doesNotMatch(empty.output, /listening/, name);
      }
    }
  });
});

describe('a restarted server and the settings of unfinished jobs', () => {
  /** An API job left running by an earlier server that verified with `settings`. */
  async function leftJob(file: string, settings: JobSettings): Promise<string> {
    const store = openSqliteJobStore(file);
    const job = await store.createJob({ owner: 'key-id', options: { via: 'http', input: 'list', settings } });
    await store.setLayout(job.id, LIST_LAYOUT);
    const emails = ['alice@acme.test', 'nobody@acme.test'];
    await store.addItems(job.id, listItems(emails));
    await store.finishIngest(job.id);
    await store.setStatus(job.id, 'running');
    await store.close();
    return job.id;
  }

  it('records its settings with each job', async () => {
    const file = join(directory, 'records.db');
    const settings = { '--helo': 'probe.rcpt.test', '--allow-private-targets': true };
    const server = await startServer({
      port: 0,
      verify: world.options,
      db: file,
      jobSettings: settings,
      logger: capturedLogger().logger,
      processMetrics: false,
    });
    try {
      const created = await fetch(`${server.url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ emails: ['alice@acme.test'] }),
      });
      assert.equal(created.status, 202);
      const { id } = (await created.json()) as { id: string };
      const store = openSqliteJobStore(file, { readonly: true });
      assert.deepEqual((await store.getJob(id))?.options.settings, settings);
      await store.close();
    } finally {
      await server.close();
    }
  });

  it('refuses to start with other settings than an unfinished job began with (exit 64, named)', async () => {
    const file = join(directory, 'conflict.db');
    const id = await leftJob(file, { '--helo': 'probe.rcpt.test', '--dns-server': ['127.0.0.1:5353'] });
    let output = '';
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await run(
      [
        'node',
        'rcpt',
        'serve',
        '--port',
        '0',
        '--db',
        file,
        '--helo',
        'other.rcpt.test',
        '--log-level',
        'silent',
      ],
      { stdout: sink, stderr: sink, env: {} },
    );
    assert.equal(code, 64, output);
    assert.match(
      output,
      new RegExp(
        `job ${id}: --dns-server: the job used 127\\.0\\.0\\.1:5353, now not set \\(the default\\); --helo: the job used probe\\.rcpt\\.test, now other\\.rcpt\\.test\\).*--override-settings`,
      ),
    );
    const store = openSqliteJobStore(file, { readonly: true });
    assert.equal((await store.getJob(id))?.status, 'running', 'the job is left as it was');
    assert.equal((await store.getJob(id))?.doneAddresses, 0);
    await store.close();
  });

  it('counts --host-rate among the settings: a server started without it does not finish a job that had it', async () => {
    const file = join(directory, 'rate.db');
    const id = await leftJob(file, { '--host-rate': 30 });
    let output = '';
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await run(['node', 'rcpt', 'serve', '--port', '0', '--db', file, '--log-level', 'silent'], {
      stdout: sink,
      stderr: sink,
      env: { RCPT_HOST_RATE: '60' },
    });
    assert.equal(code, 64, output);
    assert.match(output, new RegExp(`job ${id}: --host-rate: the job used 30, now 60`));
  });

  it('with --override-settings finishes such a job with its own settings, and records them', async () => {
    const file = join(directory, 'override.db');
    const id = await leftJob(file, { '--helo': 'old.rcpt.test' });
    const now = { '--helo': 'probe.rcpt.test' };
    const options = {
      port: 0,
      verify: world.options,
      db: file,
      jobSettings: now,
      logger: capturedLogger().logger,
      processMetrics: false,
    };
    await assert.rejects(startServer(options), JobSettingsError);
    const server = await startServer({ ...options, overrideSettings: true });
    try {
      const deadline = Date.now() + 20_000;
      let status = '';
      while (status !== 'done' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const store = openSqliteJobStore(file, { readonly: true });
        const job = await store.getJob(id);
        await store.close();
        status = job?.status ?? '';
        assert.deepEqual(job?.options.settings, now);
      }
      assert.equal(status, 'done');
    } finally {
      await server.close();
    }
  });
});
