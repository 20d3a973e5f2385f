/**
 * Reacher's per-request `proxy` on `POST /v0|v1/check_email`: honoured when it names one of the
 * operator's proxies (the check then goes through that Dante), refused with 400 otherwise, so no API
 * caller can make the server connect through a proxy of its choosing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { createVerifier, type Verifier } from '../../../src/index.js';
import { startDemoWorld, type DemoWorld } from '../../../src/demo/world.js';
import { createApp, type App } from '../../../src/server/app.js';
import { configuredProxies } from '../../../src/server/reacher-settings.js';
import { startDante, type RunningDante } from '../../helpers/dante.js';
import { worldOptions } from '../../helpers/world-options.js';

let world: DemoWorld;
let dante: RunningDante;
let verifier: Verifier;
let app: App;

before(async () => {
  world = await startDemoWorld();
  dante = await startDante({ internal: '127.0.29.41', external: '127.0.29.141' });
  const url = dante.url.replace('socks5://', 'socks5://probe:secret@');
  // Dante here takes no authentication; the credentials are part of what a request must match.
  verifier = createVerifier({
    ...worldOptions(world),
    proxyRoutes: [{ match: 'nothing.test', via: url }],
  });
  app = createApp({ verifier, rateLimit: null, reacher: { proxies: configuredProxies([url]) } });
});

after(async () => {
  await verifier.close();
  await Promise.all([world.close(), dante.close()]);
});

async function post(
  version: string,
  body: object,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await app.request(`/${version}/check_email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe("Reacher's proxy field", () => {
  it("is honoured when it names the operator's proxy: the check goes through it", async () => {
    for (const version of ['v0', 'v1']) {
      const { status, json } = await post(version, {
        to_email: 'alice@acme.test',
        proxy: { host: dante.host, port: dante.port, username: 'probe', password: 'secret' },
      });
      assert.equal(status, 200, JSON.stringify(json));
      assert.equal(json.is_reachable, 'safe', JSON.stringify(json));
      const debug = json.debug as { smtp: { verif_method: { verif_method: { proxy: string | null } } } };
      assert.equal(debug.smtp.verif_method.verif_method.proxy, `${dante.host}:${dante.port}`);
    }
  });

  it('is refused with 400 for any other host, port or credentials', async () => {
    const others = [
      { host: '127.0.29.99', port: dante.port, username: 'probe', password: 'secret' },
      { host: dante.host, port: dante.port + 1, username: 'probe', password: 'secret' },
      { host: dante.host, port: dante.port, username: 'probe', password: 'wrong' },
      { host: dante.host, port: dante.port },
    ];
    for (const proxy of others) {
      const { status, json } = await post('v1', { to_email: 'alice@acme.test', proxy });
      assert.equal(status, 400, JSON.stringify(proxy));
      assert.match(String(json.error), /not one of the proxies configured by this server's operator/);
    }
  });
});
