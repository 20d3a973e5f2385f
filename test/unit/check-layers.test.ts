/**
 * The layer check (scripts/check-layers.mjs, part of `npm run lint`; the rules are in
 * docs/architecture.md) run on small trees: one that keeps every rule passes, and each tree that breaks
 * one rule fails with that rule's line. So the check on src/ passing means something, and a rule
 * cannot quietly stop being checked.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../scripts/check-layers.mjs', import.meta.url));

/**
 * A tree that keeps every rule: the verifier wires dns/, smtp/ and proxy/, the doctor uses one each, apps
 * use the entry.
 */
const TREE: Readonly<Record<string, string>> = {
  'types.ts': 'export const VERDICTS = [];',
  'errors.ts': "import { VERDICTS } from './types.js';\nexport const E = VERDICTS;",
  'syntax/parse.ts': "import type { VERDICTS } from '../types.js';\nexport const parse = () => 1;",
  'dns/client.ts': 'export const createDnsClient = () => 1;',
  'dns/target-filter.ts': 'export const classifyTarget = () => 1;',
  'smtp/connection.ts': 'export class SmtpConnection {}',
  'proxy/proxy-pool.ts': 'export class ProxyPool {}',
  'verifier.ts':
    "import { createDnsClient } from './dns/client.js';\nimport { SmtpConnection } from './smtp/connection.js';\nimport { ProxyPool } from './proxy/proxy-pool.js';\nexport const verify = () => 1;",
  'scheduler/host.ts': "import type { VERDICTS } from '../types.js';\nexport class Host {}",
  'doctor/doctor-dns.ts': "import { createDnsClient } from '../dns/client.js';\nexport const dns = 1;",
  'doctor/port25.ts': "import { SmtpConnection } from '../smtp/connection.js';\nexport const port25 = 1;",
  'doctor/run-doctor.ts':
    "import { classifyTarget } from '../dns/target-filter.js';\nimport { ProxyPool } from '../proxy/proxy-pool.js';\nexport const runDoctor = 1;",
  'index.ts':
    "export { verify } from './verifier.js';\nexport { classifyTarget } from './dns/target-filter.js';",
  'cli/main.ts': "import { verify } from '../index.js';\nimport { format } from './format.js';",
  'cli/format.ts': 'export const format = 1;',
};

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs the check on TREE with `changes` (file → its new text), giving its exit status and output. */
function check(changes: Readonly<Record<string, string>> = {}): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rcpt-layers-'));
  dirs.push(dir);
  for (const [file, text] of Object.entries({ ...TREE, ...changes })) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  const ran = spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });
  return { status: ran.status, out: ran.stdout + ran.stderr };
}

describe('check-layers', () => {
  it('passes a tree that keeps every rule', () => {
    const { status, out } = check();
    assert.equal(status, 0, out);
  });

  const broken: [string, Record<string, string>, string][] = [
    [
      'a leaf imports a non-leaf',
      { 'types.ts': "import { verify } from './verifier.js';" },
      'types.ts: a leaf imports verifier.ts',
    ],
    [
      'a pure module imports an I/O module',
      { 'syntax/parse.ts': "import { readFileSync } from 'node:fs';" },
      'syntax/parse.ts: a pure module imports node:fs',
    ],
    [
      'a pure module uses timers',
      { 'syntax/parse.ts': 'export const later = () => setTimeout(() => 1, 1);' },
      'syntax/parse.ts: a pure module uses timers',
    ],
    [
      'dns/ imports smtp/',
      { 'dns/client.ts': "import { SmtpConnection } from '../smtp/connection.js';" },
      'dns/client.ts: dns/, smtp/ and proxy/ never import one another',
    ],
    [
      'smtp/ reaches a proxy itself (the Connector port of types.ts is how)',
      { 'smtp/connection.ts': "import { ProxyPool } from '../proxy/proxy-pool.js';" },
      'smtp/connection.ts: dns/, smtp/ and proxy/ never import one another',
    ],
    [
      'the scheduler opens a proxy connection itself',
      { 'scheduler/host.ts': "import { ProxyPool } from '../proxy/proxy-pool.js';" },
      'scheduler/host.ts: only verifier.ts wires the I/O modules',
    ],
    [
      'the scheduler drives SMTP itself',
      { 'scheduler/host.ts': "import { SmtpConnection } from '../smtp/connection.js';" },
      'scheduler/host.ts: only verifier.ts wires the I/O modules',
    ],
    [
      'the main entry reaches an I/O module (no exemption for index.ts)',
      { 'index.ts': "export { createDnsClient } from './dns/client.js';" },
      'index.ts: only verifier.ts wires the I/O modules',
    ],
    [
      "the doctor's DNS file uses SMTP (each doctor file has its one I/O module)",
      { 'doctor/doctor-dns.ts': "import { SmtpConnection } from '../smtp/connection.js';" },
      'doctor/doctor-dns.ts: only verifier.ts wires the I/O modules',
    ],
    [
      'another doctor file uses the DNS client',
      { 'doctor/run-doctor.ts': "import { createDnsClient } from '../dns/client.js';" },
      'doctor/run-doctor.ts: only verifier.ts wires the I/O modules',
    ],
    [
      'the core imports an app',
      { 'scheduler/host.ts': "import { format } from '../cli/format.js';" },
      'scheduler/host.ts: the core never imports an app (cli/format.ts)',
    ],
    [
      'an app imports an internal module',
      { 'cli/main.ts': "import type { Host } from '../scheduler/host.js';" },
      'cli/main.ts: apps use the library through its entries',
    ],
    [
      'an app imports an internal module for its side effects only',
      { 'cli/main.ts': "import '../scheduler/host.js';" },
      'cli/main.ts: apps use the library through its entries',
    ],
    [
      'a type-only import cycle',
      {
        'scheduler/a.ts': "import type { B } from './b.js';\nexport type A = 1;",
        'scheduler/b.ts': "import type { A } from './a.js';\nexport type B = 2;",
      },
      'import cycle: scheduler/a.ts <-> scheduler/b.ts',
    ],
  ];
  for (const [name, changes, line] of broken) {
    it(`fails ${name}`, () => {
      const { status, out } = check(changes);
      assert.equal(status, 1, out);
      assert.ok(out.includes(line), out);
    });
  }
});
