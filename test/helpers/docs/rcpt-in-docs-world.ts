/**
 * What `import … from 'rcpt'` means in a documentation example run by test/integration/docs-examples:
 * the library from src/, with the docs world's DNS server, SMTP port and loopback allowance added to
 * the options of every entry that verifies (read from DOCS_WORLD_DNS and DOCS_WORLD_PORT). Everything
 * else is the library itself.
 */
import * as rcpt from '../../../src/index.js';

export * from '../../../src/index.js';

const world = (): rcpt.VerifyOptions => {
  const dns = process.env['DOCS_WORLD_DNS'];
  const port = Number(process.env['DOCS_WORLD_PORT']);
  if (dns === undefined || !Number.isInteger(port)) throw new Error('DOCS_WORLD_DNS / DOCS_WORLD_PORT unset');
  return { dnsServers: [dns], smtpPort: port, allowPrivateTargets: true };
};

export const verify: typeof rcpt.verify = (address, options) =>
  rcpt.verify(address, { ...options, ...world() });

export const verifyMany: typeof rcpt.verifyMany = (addresses, options) =>
  rcpt.verifyMany(addresses, { ...options, ...world() });

export const createVerifier: typeof rcpt.createVerifier = (options) =>
  rcpt.createVerifier({ ...options, ...world() });
