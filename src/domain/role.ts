/**
 * Role local parts: mailboxes that belong to a function, not a person (`postmaster@`, `sales@`).
 * Mail to them usually works, but they are shared, filtered, or never read, which is what the `role`
 * flag tells a sender.
 */

/**
 * Each name is compared with separators removed (`no-reply`, `no_reply`, `no.reply` → `noreply`).
 * RFC 2142 names first, then names organisations commonly use for shared mailboxes.
 */
const ROLE_NAMES: ReadonlySet<string> = new Set([
  // RFC 2142 §3 (business), §4 (network operations), §5 (services)
  'info',
  'marketing',
  'sales',
  'support',
  'abuse',
  'noc',
  'security',
  'postmaster',
  'hostmaster',
  'usenet',
  'news',
  'webmaster',
  'www',
  'uucp',
  'ftp',
  // RFC 5321 §4.5.1 requires postmaster; mailer-daemon is what MTAs send bounces from
  'mailerdaemon',
  // administration
  'admin',
  'administrator',
  'root',
  'sysadmin',
  'hostadmin',
  'it',
  'itsupport',
  'helpdesk',
  'help',
  'tech',
  'techsupport',
  'dev',
  'devops',
  'ops',
  'operations',
  // contact points
  'contact',
  'contactus',
  'hello',
  'hi',
  'office',
  'mail',
  'email',
  'enquiries',
  'enquiry',
  'inquiries',
  'inquiry',
  'feedback',
  'general',
  'reception',
  'frontdesk',
  'service',
  'services',
  'customerservice',
  'customercare',
  'care',
  'team',
  'staff',
  'all',
  'everyone',
  // money and orders
  'billing',
  'accounts',
  'accounting',
  'finance',
  'invoice',
  'invoices',
  'payments',
  'orders',
  'order',
  'shop',
  'store',
  'purchasing',
  'procurement',
  // people
  'hr',
  'jobs',
  'careers',
  'career',
  'recruiting',
  'recruitment',
  'talent',
  'hiring',
  // press, legal, privacy
  'press',
  'media',
  'pr',
  'legal',
  'compliance',
  'privacy',
  'dpo',
  'gdpr',
  // automated senders and lists
  'noreply',
  'donotreply',
  'notifications',
  'notification',
  'alerts',
  'newsletter',
  'newsletters',
  'bounce',
  'bounces',
  'list',
  'lists',
  'listserv',
  'majordomo',
  'subscribe',
  'unsubscribe',
  'spam',
  // organisation
  'management',
  'board',
  'events',
  'partners',
  'partnerships',
  'community',
  'social',
  'investors',
  'ir',
  'admissions',
  'registrar',
  'studio',
]);

const SEPARATORS = /[._-]+/;

/** `"info"` and `info` are the same mailbox (RFC 5321 §4.1.2): drop quotes and backslash escapes. */
function unquote(localPart: string): string {
  if (localPart.length >= 2 && localPart.startsWith('"') && localPart.endsWith('"')) {
    return localPart.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return localPart;
}

/**
 * True when a local part names a role rather than a person. Case-insensitive. A subaddress after
 * `+` is ignored (`support+billing` is `support`; RFC 5233 and the Gmail, Outlook, Fastmail and
 * Postfix convention). Separators `.`, `-`, `_` are ignored within a name (`no-reply`), and a local
 * part made only of role names and digits counts too (`sales.team`, `info-2`), while a person's name
 * with a role word does not (`john.sales`).
 *
 * @example
 * isRoleLocalPart('Postmaster')       // true
 * isRoleLocalPart('no-reply+x')       // true
 * isRoleLocalPart('jane.doe')         // false
 */
export function isRoleLocalPart(localPart: string): boolean {
  const value: unknown = localPart;
  if (typeof value !== 'string') return false;
  let name = unquote(value).toLowerCase();
  const plus = name.indexOf('+');
  if (plus > 0) name = name.slice(0, plus);
  if (!SEPARATORS.test(name)) {
    // One token (most local parts): the same answer as below, without the arrays.
    if (name === '') return false;
    if (ROLE_NAMES.has(name)) return true;
    const word = name.replace(/\d+$/, '');
    return word !== '' && ROLE_NAMES.has(word);
  }
  const tokens = name.split(SEPARATORS).filter((token) => token !== '');
  if (tokens.length === 0) return false;
  if (ROLE_NAMES.has(tokens.join(''))) return true;
  let roles = 0;
  for (const token of tokens) {
    const word = token.replace(/\d+$/, '');
    if (word === '') continue;
    if (!ROLE_NAMES.has(word)) return false;
    roles++;
  }
  return roles > 0;
}
