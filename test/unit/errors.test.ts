/**
 * Every error class rcpt exports, in one table (as undici's test/errors.js does): its name, its code,
 * that it is a `VerifyError` (so `isVerifyError()` catches it) and an `Error`, that it chains a cause,
 * and its own fields. The table must cover every class the entries export and every code of
 * ERROR_CODES, and every code must be thrown somewhere in src/.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as main from '../../src/index.js';
import * as jobs from '../../src/jobs/index.js';
import * as postgres from '../../src/jobs/postgres/index.js';
import * as server from '../../src/server/index.js';
import {
  ArgumentError,
  DnsError,
  ERROR_CODES,
  OptionsError,
  ProxyError,
  SmtpConnectError,
  SmtpProtocolError,
  SmtpTimeoutError,
  SmtpTlsError,
  UnknownOptionError,
  VerifyError,
  isVerifyError,
  type ErrorCode,
} from '../../src/errors.js';
import { InputError, InputTooLargeError, JobError, JobStoreError } from '../../src/jobs/errors.js';

interface Row {
  /** The class, as the entries export it. */
  readonly type: abstract new (...args: never[]) => Error;
  readonly name: string;
  readonly code: ErrorCode;
  /** Builds one, with `cause` as its cause. */
  readonly make: (cause: unknown) => Error;
  /** Its own fields, as built by `make`. */
  readonly fields: Record<string, unknown>;
  readonly message: string;
  /** Its parent classes below `VerifyError`. */
  readonly parents?: readonly (abstract new (...args: never[]) => Error)[];
}

const TABLE: readonly Row[] = [
  {
    type: VerifyError,
    name: 'VerifyError',
    code: 'ERR_RCPT_CLOSED',
    make: (cause) => new VerifyError('ERR_RCPT_CLOSED', 'resolver closed', { cause }),
    fields: {},
    message: 'resolver closed',
  },
  {
    type: OptionsError,
    name: 'OptionsError',
    code: 'ERR_RCPT_OPTIONS',
    make: (cause) => new OptionsError('helo', 'expected a host name', { cause }),
    fields: { option: 'helo' },
    message: 'Invalid option `helo`: expected a host name',
  },
  {
    type: UnknownOptionError,
    name: 'UnknownOptionError',
    code: 'ERR_RCPT_OPTIONS',
    // An unknown key is found by looking, never caused by another error.
    make: () => new UnknownOptionError('dnsServer', 'dnsServers', ['dnsServers']),
    fields: { option: 'dnsServer', suggestion: 'dnsServers' },
    message: 'Unknown option `dnsServer`: did you mean `dnsServers`?',
    parents: [OptionsError],
  },
  {
    type: ArgumentError,
    name: 'ArgumentError',
    code: 'ERR_RCPT_ARGUMENT',
    make: (cause) =>
      new ArgumentError('address', 'verify(): the address must be a string, got number', { cause }),
    fields: { argument: 'address' },
    message: 'verify(): the address must be a string, got number',
  },
  {
    type: DnsError,
    name: 'DnsError',
    code: 'ERR_RCPT_DNS',
    make: (cause) => new DnsError('SERVFAIL', 'SERVFAIL from 192.0.2.53', { cause, server: '192.0.2.53' }),
    fields: { kind: 'SERVFAIL', server: '192.0.2.53' },
    message: 'SERVFAIL from 192.0.2.53',
  },
  {
    type: SmtpConnectError,
    name: 'SmtpConnectError',
    code: 'ERR_RCPT_SMTP_CONNECT',
    make: (cause) => new SmtpConnectError('mx.example.com', 25, 'connection refused', { cause }),
    fields: { host: 'mx.example.com', port: 25 },
    message: 'connection refused',
  },
  {
    type: SmtpTimeoutError,
    name: 'SmtpTimeoutError',
    code: 'ERR_RCPT_SMTP_TIMEOUT',
    make: (cause) => new SmtpTimeoutError('greeting', 30_000, 'no greeting within 30000 ms', { cause }),
    fields: { phase: 'greeting', timeoutMs: 30_000 },
    message: 'no greeting within 30000 ms',
  },
  {
    type: SmtpProtocolError,
    name: 'SmtpProtocolError',
    code: 'ERR_RCPT_SMTP_PROTOCOL',
    make: (cause) => new SmtpProtocolError('a reply line over 512 bytes', { cause, command: 'EHLO' }),
    fields: { command: 'EHLO' },
    message: 'a reply line over 512 bytes',
  },
  {
    type: SmtpTlsError,
    name: 'SmtpTlsError',
    code: 'ERR_RCPT_SMTP_TLS',
    make: (cause) => new SmtpTlsError('handshake failed', { cause }),
    fields: {},
    message: 'handshake failed',
  },
  {
    type: ProxyError,
    name: 'ProxyError',
    code: 'ERR_RCPT_PROXY',
    make: (cause) =>
      new ProxyError('socks5://192.0.2.7:1080', 'refused', 'the proxy refused', { cause, socksReply: 2 }),
    fields: { proxy: 'socks5://192.0.2.7:1080', kind: 'refused', socksReply: 2 },
    message: 'the proxy refused',
  },
  {
    type: InputError,
    name: 'InputError',
    code: 'ERR_RCPT_INPUT',
    make: (cause) => new InputError('no address column in the header', true, { cause }),
    fields: { noAddressColumn: true },
    message: 'no address column in the header',
  },
  {
    type: InputTooLargeError,
    name: 'InputTooLargeError',
    code: 'ERR_RCPT_INPUT_TOO_LARGE',
    make: (cause) => new InputTooLargeError(1000, { cause }),
    fields: { maxRows: 1000 },
    message: 'more than 1000 rows',
  },
  {
    type: JobError,
    name: 'JobError',
    code: 'ERR_RCPT_JOB',
    make: (cause) => new JobError('deleted', 'j1', 'job j1 was deleted while running', { cause }),
    fields: { kind: 'deleted', jobId: 'j1' },
    message: 'job j1 was deleted while running',
  },
  {
    type: JobStoreError,
    name: 'JobStoreError',
    code: 'ERR_RCPT_JOB_STORE',
    make: (cause) => new JobStoreError('job store schema 9 is newer than this rcpt (2)', { cause }),
    fields: {},
    message: 'job store schema 9 is newer than this rcpt (2)',
  },
];

describe('errors: one table over every class', () => {
  for (const row of TABLE) {
    it(`${row.name}: name, code, message, fields, a VerifyError, cause chained`, () => {
      const cause = new Error('underneath');
      const error = row.make(cause);
      assert.ok(error instanceof row.type);
      for (const parent of row.parents ?? []) assert.ok(error instanceof parent);
      assert.ok(error instanceof VerifyError && error instanceof Error && isVerifyError(error));
      assert.equal(error.name, row.name);
      assert.equal(error.code, row.code);
      assert.ok(ERROR_CODES.includes(error.code));
      assert.equal(error.message, row.message);
      assert.match(String(error), new RegExp(`^${row.name}: `));
      assert.ok(error.stack?.startsWith(`${row.name}: `));
      for (const [key, value] of Object.entries(row.fields)) {
        assert.deepEqual((error as unknown as Record<string, unknown>)[key], value, key);
      }
      if (row.type !== UnknownOptionError) assert.equal(error.cause, cause);
    });
  }

  it('covers every error class the entries export, and every code', () => {
    const exported = new Set<unknown>();
    for (const entry of [main, jobs, postgres, server]) {
      for (const value of Object.values(entry) as unknown[]) {
        const prototype: unknown =
          typeof value === 'function' ? (value as { prototype: unknown }).prototype : null;
        if (prototype instanceof Error) exported.add(value);
      }
    }
    const tabled = new Set<unknown>(TABLE.map((row) => row.type));
    assert.deepEqual(
      [...exported].filter((type) => !tabled.has(type)).map((type) => (type as { name: string }).name),
      [],
    );
    assert.deepEqual(
      [...tabled].filter((type) => !exported.has(type)).map((type) => (type as { name: string }).name),
      [],
    );
    assert.deepEqual([...new Set(TABLE.map((row) => row.code))].sort(), [...ERROR_CODES].sort());
  });

  it('every code and every class is used in src/ (none listed and never thrown)', () => {
    const src = fileURLToPath(new URL('../../src', import.meta.url));
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
      });
    // The list itself does not count as a use.
    const text = walk(src)
      .map((path) => readFileSync(path, 'utf8'))
      .join('\n')
      .replace(/export const ERROR_CODES = \[[\s\S]*?\] as const;/, '');
    for (const code of ERROR_CODES) assert.ok(text.includes(`'${code}'`), `${code} is listed but never used`);
    for (const row of TABLE) assert.ok(text.includes(`new ${row.name}(`), `${row.name} is never thrown`);
  });

  it("the library throws no plain Error: only the apps' own errors stay outside the hierarchy", () => {
    const src = fileURLToPath(new URL('../../src', import.meta.url));
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
      });
    const apps = ['cli', 'server', 'web', 'demo'].map((app) => join(src, app) + sep);
    const plain = walk(src)
      .filter((path) => !apps.some((app) => path.startsWith(app)))
      .flatMap((path) =>
        readFileSync(path, 'utf8')
          .split('\n')
          .flatMap((line, i) =>
            /\bthrow new (?:Error|TypeError|RangeError|SyntaxError)\(/.test(line)
              ? [`${relative(src, path)}:${i + 1}: ${line.trim()}`]
              : [],
          ),
      );
    assert.deepEqual(plain, [], 'throw a VerifyError with a code of ERROR_CODES (src/errors.ts)');
  });

  it('a closed verifier throws ERR_RCPT_CLOSED when used', async () => {
    const verifier = main.createVerifier();
    await verifier.close();
    await assert.rejects(verifier.verify('alice@example.test'), {
      name: 'VerifyError',
      code: 'ERR_RCPT_CLOSED',
    });
    assert.throws(() => verifier.verifyMany(['alice@example.test']), {
      name: 'VerifyError',
      code: 'ERR_RCPT_CLOSED',
    });
  });

  it('a PostgreSQL schema name that is not a plain identifier is an OptionsError, before any connection', async () => {
    // Port 1 on loopback: nothing is asked there, the name is refused first.
    await assert.rejects(
      postgres.openPgJobStore('postgres://127.0.0.1:1/rcpt', { schema: 'x; DROP TABLE jobs' }),
      {
        name: 'OptionsError',
        code: 'ERR_RCPT_OPTIONS',
        option: 'schema',
      },
    );
  });
});
