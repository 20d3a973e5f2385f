/** `GET /v1/doctor` on the HTTP app (through `app.request()`, no port), against the doctor's loopback world. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { createVerifier, type DoctorReport, type Verifier } from '../../../src/index.js';
import { createApp } from '../../../src/server/app.js';
import { startDoctorWorld, type DoctorWorld } from './doctor-world.js';

const OPERATOR_KEY = 'operator-0123456789abcdef';
const USER_KEY = 'user-key-0123456789abcdef';

let world: DoctorWorld;
let verifier: Verifier;
before(async () => {
  world = await startDoctorWorld();
  verifier = createVerifier({ dnsServers: [world.dns.address] });
});
after(async () => {
  await verifier.close();
  await world.close();
});

describe('GET /v1/doctor', () => {
  it("answers the server's report to the local operator (a server without API keys)", async () => {
    const app = createApp({ verifier, doctor: world.options() });
    const response = await app.request('/v1/doctor');
    assert.equal(response.status, 200);
    const report = (await response.json()) as DoctorReport;
    assert.equal(report.status, 'pass');
    assert.equal(report.helo, 'probe.good.test');
    assert.equal(report.checks.length, 9);
  });

  it('reuses a report instead of greeting the providers again on every request', async () => {
    const app = createApp({ verifier, doctor: world.options() });
    const connections = world.open.stats.connections;
    const [first, second] = await Promise.all([app.request('/v1/doctor'), app.request('/v1/doctor')]);
    const third = await app.request('/v1/doctor');
    const reports = (await Promise.all([first.json(), second.json(), third.json()])) as DoctorReport[];
    assert.equal(world.open.stats.connections, connections + 1);
    assert.equal(reports[0]?.checkedAt, reports[2]?.checkedAt);
  });

  it('reports failures with 200 and status "fail"', async () => {
    const app = createApp({ verifier, doctor: world.options({ helo: 'localhost' }) });
    const response = await app.request('/v1/doctor');
    assert.equal(response.status, 200);
    const report = (await response.json()) as DoctorReport;
    assert.equal(report.status, 'fail');
    assert.equal(report.checks.find((check) => check.id === 'helo_name')?.status, 'fail');
  });

  it('is for operator keys only when the server has API keys', async () => {
    const app = createApp({
      verifier,
      doctor: world.options(),
      apiKeys: [OPERATOR_KEY, USER_KEY],
      operatorKeys: [OPERATOR_KEY],
    });
    const anonymous = await app.request('/v1/doctor');
    assert.equal(anonymous.status, 401);
    const user = await app.request('/v1/doctor', { headers: { Authorization: `Bearer ${USER_KEY}` } });
    assert.equal(user.status, 401);
    assert.match(((await user.json()) as { message: string }).message, /operator keys only/);
    const operator = await app.request('/v1/doctor', {
      headers: { Authorization: `Bearer ${OPERATOR_KEY}` },
    });
    assert.equal(operator.status, 200);
  });

  it('refuses every key when no operator key is configured', async () => {
    const app = createApp({ verifier, doctor: world.options(), apiKeys: [USER_KEY] });
    const user = await app.request('/v1/doctor', { headers: { Authorization: `Bearer ${USER_KEY}` } });
    assert.equal(user.status, 401);
  });

  it('is in the OpenAPI document', async () => {
    const app = createApp({ verifier, doctor: world.options() });
    const document = (await (await app.request('/openapi.json')).json()) as {
      paths: Record<string, unknown>;
    };
    assert.ok('/v1/doctor' in document.paths);
  });
});
