import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import {
  domainFacts,
  isDisposableDomain,
  isFreeProvider,
  isRoleLocalPart,
} from '../../../src/domain/index.js';
import { disposableDomains, emailProviderDomains } from '../../../src/domain/package-data.js';

describe('isDisposableDomain (disposable-email-domains list)', () => {
  const disposable = [
    'mailinator.com',
    'guerrillamail.com',
    'yopmail.com',
    '10minutemail.com',
    'temp-mail.org',
    'MAILINATOR.COM', // case-insensitive
    'inbox.mailinator.com', // subdomains of a disposable domain count too
    'a.b.c.guerrillamail.com',
  ];
  for (const domain of disposable)
    it(`${domain} is disposable`, () => {
      assert.equal(isDisposableDomain(domain), true);
    });

  const notDisposable = [
    'gmail.com',
    'outlook.com',
    'gmx.de',
    'example.com',
    'mailinator.com.example', // a disposable name as a subdomain of something else is not one
    'acme-mailinator.example',
    'com', // a bare TLD is never looked up
    'duck.com', // forwarding aliases belong to real people (mailchecker lists it; this list does not)
    'nus.edu.sg', // a university mailchecker lists
    '',
  ];
  for (const domain of notDisposable) {
    it(`${JSON.stringify(domain)} is not disposable`, () => {
      assert.equal(isDisposableDomain(domain), false);
    });
  }

  it('is false for non-strings', () => {
    assert.equal(isDisposableDomain(null as unknown as string), false);
    assert.equal(isDisposableDomain(7 as unknown as string), false);
  });

  it('loads the whole package list (thousands of domains, all lowercase)', () => {
    const list = disposableDomains();
    assert.ok(list.size > 5000, `only ${list.size}`);
    for (const domain of list) assert.equal(domain, domain.toLowerCase());
  });
});

describe('isFreeProvider (email-providers, minus disposable, typo and placeholder domains)', () => {
  const free = [
    'gmail.com',
    'yahoo.com',
    'outlook.com',
    'hotmail.co.uk',
    'gmx.de',
    'web.de',
    'yandex.ru',
    'mail.ru',
    'qq.com',
    'GMAIL.COM',
    'y7mail.com',
  ];
  for (const domain of free)
    it(`${domain} is free`, () => {
      assert.equal(isFreeProvider(domain), true);
    });

  const notFree = [
    'mailinator.com', // disposable: flagged as that instead
    'yopmail.com',
    'gmial.com', // a typo domain, not a provider
    'gmai.com',
    'example.com', // RFC 2606 placeholder
    'test.com',
    'yourdomain.com',
    'mail.yahoo.com', // exact match only
    'acme-corp.example',
    'microsoft.com',
    '',
  ];
  for (const domain of notFree) {
    it(`${JSON.stringify(domain)} is not free`, () => {
      assert.equal(isFreeProvider(domain), false);
    });
  }

  it('is false for non-strings', () => {
    assert.equal(isFreeProvider(undefined as unknown as string), false);
  });

  it('never calls a domain both free and disposable', () => {
    for (const domain of emailProviderDomains()) {
      assert.ok(!(isFreeProvider(domain) && isDisposableDomain(domain)), domain);
    }
  });
});

describe('isRoleLocalPart', () => {
  const roles = [
    // RFC 2142
    'postmaster',
    'hostmaster',
    'abuse',
    'webmaster',
    'noc',
    'security',
    'info',
    'marketing',
    'sales',
    'support',
    'uucp',
    'news',
    'usenet',
    'www',
    'ftp',
    // common roles
    'admin',
    'contact',
    'hello',
    'office',
    'billing',
    'hr',
    'jobs',
    'careers',
    'team',
    'help',
    'noreply',
    'no-reply',
    'no_reply',
    'no.reply',
    'donotreply',
    'do-not-reply',
    'mailer-daemon',
    'privacy',
    'press',
    // case, subaddress, quoting, combinations
    'Postmaster',
    'INFO',
    'support+billing',
    'info+newsletter@',
    '"info"',
    '"sales"',
    'sales.team',
    'info-sales',
    'support2',
    'hr_team',
    'customer.service',
    'customer-care',
  ];
  for (const local of roles)
    it(`${local} is a role`, () => {
      assert.equal(isRoleLocalPart(local), true);
    });

  const people = [
    'jane',
    'jane.doe',
    'john.sales',
    'salesman',
    'information',
    'adminton',
    'infoj',
    'j.smith+info',
    'bob',
    'hrithik',
    'mailing.person',
    '+info',
    '',
    '123',
    '"jane doe"',
    'ü',
    'sales.john',
  ];
  for (const local of people) {
    it(`${JSON.stringify(local)} is not a role`, () => {
      assert.equal(isRoleLocalPart(local), false);
    });
  }

  it('is false for non-strings', () => {
    assert.equal(isRoleLocalPart(null as unknown as string), false);
  });
});

describe('domainFacts', () => {
  it('combines the three facts', () => {
    assert.deepEqual(domainFacts('info', 'gmail.com'), { role: true, free: true, disposable: false });
    assert.deepEqual(domainFacts('jane', 'mailinator.com'), { role: false, free: false, disposable: true });
    assert.deepEqual(domainFacts('jane.doe', 'acme.example'), {
      role: false,
      free: false,
      disposable: false,
    });
    assert.deepEqual(domainFacts('no-reply', 'x.guerrillamail.com'), {
      role: true,
      free: false,
      disposable: true,
    });
  });

  it('returns exactly the keys the result schema uses', () => {
    assert.deepEqual(Object.keys(domainFacts('a', 'b.com')).sort(), ['disposable', 'free', 'role']);
  });

  it('loads no list at import time (lists load on first call)', () => {
    // A fresh process imports the module and reports whether the JSON files were read.
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const facts = await import('./src/domain/index.ts');
      const json = () => Object.keys(require.cache).filter((path) => path.endsWith('.json')).length;
      const before = json();
      facts.domainFacts('info', 'gmail.com');
      console.log(JSON.stringify([before, json()]));
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../../../', import.meta.url),
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, child.stderr);
    const [before, after] = JSON.parse(child.stdout.trim()) as [number, number];
    assert.equal(before, 0);
    assert.equal(after, 2, 'the disposable and provider lists load on the first call');
  });
});
