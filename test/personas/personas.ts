/**
 * The persona world of issue 4: one in-process SMTP server per provider and gateway, each answering
 * with the real reply lines of research/providers.md §B (each line's source is cited next to it; the
 * same lines, redacted, are in test/fixtures/replies/reply-lines.ts), plus hostile servers. All of them
 * are reached through a loopback DNS server under the providers' own MX host names
 * (`gmail-smtp-in.l.google.com` → 127.0.0.30), so rcpt's provider matching sees what it sees in
 * production. Those names exist only in this loopback DNS; nothing leaves the machine.
 *
 * Addresses: personas on 127.0.0.30–.67 (other tests use .2–.22), every one on the same port (rcpt has
 * one `smtpPort` option). Greeting and EHLO lines are the providers' shapes; where no source gives the
 * exact banner, the comment says so.
 */
import { startDnsServer, type DnsServer, type DnsZones } from '../../src/demo/dns-server.js';
import {
  startScriptedServer,
  type PersonaDefinition,
  type RawConnection,
  type ScriptedServer,
  type SmtpContext,
  type WireReply,
} from './scripted-smtp-server.js';

/**
 * The greylisting window of the greylisting personas, scaled down from postgrey's 300 s and Mimecast's
 * 1 min–12 h so that a retry fits in a test.
 */
export const PERSONA_GREYLIST_WINDOW_MS = 100;

/** Interval of the trickling persona: one byte a second. */
export const TRICKLE_INTERVAL_MS = 1_000;

function localOf(address: string): string {
  return address.slice(0, address.lastIndexOf('@')).toLowerCase();
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * A greylister keyed on the triplet (client IP, MAIL FROM, RCPT TO) as postgrey and Mimecast do
 * (RFC 6647 §2.1): the first attempt is deferred with `reply`, any attempt after the window passes.
 */
function greylister(windowMs: number, reply: (recipient: string) => WireReply) {
  const firstSeen = new Map<string, number>();
  return (recipient: string, context: SmtpContext): WireReply | null => {
    const key = `${context.remoteAddress}/${context.mailFrom}/${recipient.toLowerCase()}`;
    const now = Date.now();
    const seen = firstSeen.get(key);
    if (seen === undefined) firstSeen.set(key, now);
    return seen === undefined || now - seen < windowMs ? reply(recipient) : null;
  };
}

// ---------------------------------------------------------------------------------------------------
// Providers

/**
 * Google (Gmail and Workspace). Reply lines: providers.md §B Google row (sisimai `rhost-google-02.eml`
 * NoSuchUser "in reply to RCPT TO", p=DisabledUser, OverQuotaTemp/OverQuotaPerm, `rhost-google-05.eml`,
 * p=ReceivingRate; support.google.com/a/answer/3726730). EHLO keywords as mx.google.com advertises them.
 */
const GMAIL_USERS = new Set(['alice', 'bob', 'postmaster']);
const WORKSPACE_USERS = new Set(['alice', 'info']);
const google: PersonaDefinition = {
  name: 'mx.google.com',
  greeting: '220 mx.google.com ESMTP a1si1234567qkb.12 - gsmtp',
  ehloGreet: 'mx.google.com at your service, [127.0.0.1]',
  extensions: [
    'SIZE 157286400',
    '8BITMIME',
    'STARTTLS',
    'ENHANCEDSTATUSCODES',
    'PIPELINING',
    'CHUNKING',
    'SMTPUTF8',
  ],
  rcpt(recipient) {
    const local = localOf(recipient);
    const domain = domainOf(recipient);
    // Workspace with catch-all routing: 250 for anything (zytzagoo/smtp-validate-email #84).
    if (domain === 'catchall-workspace.test') return '250 2.1.5 OK a1si1234567qkb.12 - gsmtp';
    const users = domain === 'gmail.com' ? GMAIL_USERS : WORKSPACE_USERS;
    if (users.has(local)) return '250 2.1.5 OK a1si1234567qkb.12 - gsmtp';
    switch (local) {
      case 'olduser':
        return '550-5.2.1 The email account that you tried to reach is disabled. For more information,\n550 5.2.1  https://support.google.com/mail/?p=DisabledUser a1si - gsmtp';
      case 'inactive':
        return '550 5.2.1 The email account that you tried to reach is inactive. - gsmtp';
      case 'fulluser':
        return '552-5.2.2 The email account that you tried to reach is over quota and inbox is full.\n552 5.2.2  https://support.google.com/mail/?p=OverQuotaPerm a1si - gsmtp';
      case 'nospace':
        return "552-5.2.2 The recipient's inbox is out of storage space. Please direct the recipient to\n552 5.2.2  https://support.google.com/mail/?p=OverQuotaPerm a1si - gsmtp";
      case 'tempfull':
        return '452-4.2.2 The email account that you tried to reach is over quota. Please direct\n452 4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp a1si - gsmtp';
      case 'popular':
        return '450-4.2.1 The user you are trying to contact is receiving mail at a rate that\n450-4.2.1 prevents additional messages from being delivered. Please resend your\n450-4.2.1 message at a later time. If the user is able to receive mail at that\n450-4.2.1 time, your message will be delivered. For more information, go to\n450 4.2.1  https://support.google.com/mail/?p=ReceivingRate a1si - gsmtp';
      case 'popularperm':
        return '550-5.2.1 The user you are trying to contact is receiving mail at a rate that\n550-5.2.1 prevents additional messages from being delivered. For more information, go to\n550 5.2.1  https://support.google.com/mail/?p=ReceivingRatePerm a1si - gsmtp';
      default:
        return "550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient's email address for typos or\n550-5.1.1 unnecessary spaces. For more information, go to\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si1234567qkb.12 - gsmtp";
    }
  },
};

/**
 * Microsoft 365 / Exchange Online. providers.md §B Microsoft 365 row: DBEB `550 5.4.1 … Recipient
 * address rejected: Access denied. AS(201806281)` (sisimai `rhost-microsoft-02.eml`, at RCPT), `5.7.504`,
 * `451 4.7.500 Server busy … (AS761)` at RCPT, `451 4.7.650 … rate limited due to IP reputation` at
 * MAIL FROM (sisimai `rhost-microsoft-05`), `550 5.7.1 … MailFrom domain is listed in Spamhaus …
 * (S8002)` for a listed MAIL FROM domain. A tenant without DBEB (Internal relay, hybrid) accepts every
 * RCPT (karolyi/py3-validate-email PR #63). Banner and EHLO as Exchange Online front ends send them.
 */
const M365_USERS = new Set(['alice', 'info']);
const microsoft365: PersonaDefinition = {
  name: 'DM6NAM12FT034.mail.protection.outlook.com',
  greeting:
    '220 DM6NAM12FT034.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Sat, 28 Nov 2026 22:00:00 +0000 [08DD0F1A2B3C4D5E]',
  ehloGreet: 'DM6NAM12FT034.mail.protection.outlook.com Hello [127.0.0.1]',
  extensions: [
    'SIZE 157286400',
    'PIPELINING',
    'DSN',
    'ENHANCEDSTATUSCODES',
    'STARTTLS',
    '8BITMIME',
    'BINARYMIME',
    'CHUNKING',
    'SMTPUTF8',
  ],
  mail(mailFrom) {
    if (domainOf(mailFrom) === 'lowrep.test') {
      // sisimai rhost-microsoft-05 (at MAIL FROM).
      return '451 4.7.650 The mail server [127.0.0.1] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775) [DM6NAM12FT034.eop-nam12.prod.protection.outlook.com]';
    }
    if (domainOf(mailFrom) === 'listed.test') {
      return '550 5.7.1 Service unavailable, MailFrom domain is listed in Spamhaus. To request removal from this list see https://www.spamhaus.org/query/dbl (S8002) [DM6NAM12FT034.eop-nam12.prod.protection.outlook.com]';
    }
    return null;
  },
  rcpt(recipient) {
    const local = localOf(recipient);
    // No DBEB on this tenant: every RCPT is accepted.
    if (domainOf(recipient) === 'fabrikam.test') return '250 2.1.5 Recipient OK';
    if (M365_USERS.has(local)) return '250 2.1.5 Recipient OK';
    if (local === 'busy') {
      return '451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761) [DM6NAM12FT034.eop-nam12.prod.protection.outlook.com]';
    }
    if (local === 'legacy') return '550 5.7.504 Recipient address rejected: Access denied';
    return '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DM6NAM12FT034.eop-nam12.prod.protection.outlook.com]';
  },
};

/**
 * Outlook.com consumer mail (hotmail.com, outlook.com, live.com). providers.md §B Outlook.com row:
 * unknown users `550 5.5.0 Requested action not taken: mailbox unavailable.` (Microsoft's NDR table);
 * a second RCPT in one transaction gets `452 4.5.3 Too many recipients` (AfterShip/email-verifier #72,
 * Reacher #569); IP blocks `550 5.7.1 Unfortunately, messages from [ip] weren't sent … (S3150)`
 * (truemail #101). The banner is the one providers.md quotes ("Sending unsolicited commercial or bulk
 * e-mail to Microsoft's computer network is prohibited").
 */
const OUTLOOK_USERS = new Set(['alice']);
const outlook: PersonaDefinition = {
  name: 'BN8NAM11FT015.mail.protection.outlook.com',
  greeting:
    "220 BN8NAM11FT015.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Sat, 28 Nov 2026 22:00:00 +0000. Sending unsolicited commercial or bulk e-mail to Microsoft's computer network is prohibited.",
  ehloGreet: 'BN8NAM11FT015.mail.protection.outlook.com Hello [127.0.0.1]',
  extensions: [
    'SIZE 49283072',
    'PIPELINING',
    'DSN',
    'ENHANCEDSTATUSCODES',
    'STARTTLS',
    '8BITMIME',
    'SMTPUTF8',
  ],
  rcpt(recipient, context) {
    if (domainOf(recipient) === 'live.com') {
      return "550 5.7.1 Unfortunately, messages from [127.0.0.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [BN8NAM11FT015.eop-nam11.prod.protection.outlook.com]";
    }
    if (context.rcptIndex >= 1) {
      return '452 4.5.3 Too many recipients (AS780090) [BN8NAM11FT015.eop-nam11.prod.protection.outlook.com]';
    }
    if (OUTLOOK_USERS.has(localOf(recipient))) return '250 2.1.5 Recipient OK';
    return '550 5.5.0 Requested action not taken: mailbox unavailable. [BN8NAM11FT015.eop-nam11.prod.protection.outlook.com]';
  },
};

/**
 * Yahoo / AOL: accept every RCPT and refuse unknown users only after DATA (providers.md §B Yahoo row:
 * truemail-go #91 swaks transcript, badoux/checkmail #2, sisimai `rhost-yahooinc-03.eml`). A sender
 * with complaints gets `421 4.7.0 [TSS04] …` at MAIL FROM (postmaster.yahooinc.com/error-codes).
 */
const yahoo: PersonaDefinition = {
  name: 'mta6011.mail.gq1.yahoo.com',
  // Shape of Yahoo's greeting; the exact host varies per front end.
  greeting: '220 mta6011.mail.gq1.yahoo.com ESMTP ready',
  extensions: ['PIPELINING', 'SIZE 41943040', '8BITMIME', 'STARTTLS'],
  mail(mailFrom) {
    if (domainOf(mailFrom) === 'complaints.test') {
      return '421 4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes';
    }
    return null;
  },
  rcpt: (recipient) => `250 recipient <${recipient}> ok`,
};

/**
 * Apple iCloud. providers.md §B iCloud row (sisimai `rhost-apple-03/04.eml`, in reply to RCPT TO):
 * `550 5.1.1 <x>: user does not exist`, `550 5.1.1 <x>: inactive email address`, `552 5.2.2 <x>: user is
 * over quota`, `550 5.1.6 recipient no longer on server`.
 */
const icloud: PersonaDefinition = {
  name: 'mx01.mail.icloud.com',
  // Shape only: no source quotes iCloud's banner.
  greeting: '220 mx01.mail.icloud.com ESMTP ready',
  extensions: ['PIPELINING', 'SIZE 28311552', 'ENHANCEDSTATUSCODES', '8BITMIME', 'STARTTLS', 'SMTPUTF8'],
  rcpt(recipient) {
    switch (localOf(recipient)) {
      case 'alice':
        return '250 2.1.5 Ok';
      case 'sleepy':
        return `550 5.1.1 <${recipient}>: inactive email address`;
      case 'hoarder':
        return `552 5.2.2 <${recipient}>: user is over quota`;
      case 'moved':
        return `550 5.1.6 recipient no longer on server: ${recipient}`;
      default:
        return `550 5.1.1 <${recipient}>: user does not exist`;
    }
  },
};

/**
 * Zoho Mail. providers.md §B Zoho row: `250 Recipient <x> OK` (Reacher #487), `550 5.1.1 <x> User
 * unknown`, `552 5.1.1 <x> Mailbox delivery failure policy error` (listed for disabled *and* full),
 * `452 4.3.1 Temporary System Error`, `553 Relaying disallowed` for a domain Zoho does not host.
 */
const zoho: PersonaDefinition = {
  name: 'mx.zoho.com',
  greeting: '220 mx.zoho.com SMTP Server ready November 28, 2026 10:00:00 PM PST',
  extensions: ['SIZE 52428800', '8BITMIME', 'PIPELINING', 'STARTTLS', 'SMTPUTF8'],
  rcpt(recipient) {
    if (domainOf(recipient) !== 'zoho.com') return '553 Relaying disallowed';
    switch (localOf(recipient)) {
      case 'alice':
        return `250 Recipient <${recipient}> OK`;
      case 'restricted':
        return `552 5.1.1 <${recipient}> Mailbox delivery failure policy error`;
      case 'flaky':
        return '452 4.3.1 Temporary System Error';
      default:
        return `550 5.1.1 <${recipient}> User unknown`;
    }
  },
};

/**
 * Yandex. providers.md §B Yandex row: `550 5.7.1 No such user!` (a user-unknown under 5.7.x), `552 5.2.2
 * Mailbox size limit exceeded`, `450 4.2.1 The recipient has exceeded message rate limit. Try again
 * later.`, `550 5.7.1 Policy rejection on the target address` (a blocked account, by Yandex's bounce
 * reference).
 */
const yandex: PersonaDefinition = {
  name: 'mx.yandex.ru',
  // Shape of Yandex's mxfront greeting.
  greeting:
    '220 mail-nwsmtp-mxfront-production-main-38.iva.yp-c.yandex.net (Want to use Yandex.Mail for your domain? Visit http://pdd.yandex.ru) 1732831200-aBcDeF12',
  extensions: [
    'SIZE 53477376',
    '8BITMIME',
    'PIPELINING',
    'CHUNKING',
    'ENHANCEDSTATUSCODES',
    'STARTTLS',
    'SMTPUTF8',
  ],
  rcpt(recipient) {
    switch (localOf(recipient)) {
      case 'alice':
        return `250 2.1.5 <${recipient}> recipient ok`;
      case 'hoarder':
        return '552 5.2.2 Mailbox size limit exceeded';
      case 'popular':
        return '450 4.2.1 The recipient has exceeded message rate limit. Try again later.';
      case 'guarded':
        return '550 5.7.1 Policy rejection on the target address';
      default:
        return '550 5.7.1 No such user!';
    }
  },
};

/**
 * Mail.ru. providers.md §B Mail.ru row (sisimai `lhost/mailru.rb`): `550 Message was not accepted --
 * invalid mailbox. Local mailbox x@mail.ru is unavailable: account is disabled` / `… user not found`.
 */
const mailru: PersonaDefinition = {
  name: 'mxs.mail.ru',
  // Shape only.
  greeting: '220 mxs.mail.ru ESMTP ready',
  extensions: ['SIZE 73400320', '8BITMIME', 'PIPELINING', 'STARTTLS'],
  rcpt(recipient) {
    switch (localOf(recipient)) {
      case 'alice':
        return '250 2.1.5 Ok';
      case 'frozen':
        return `550 Message was not accepted -- invalid mailbox. Local mailbox ${recipient} is unavailable: account is disabled`;
      default:
        return `550 Message was not accepted -- invalid mailbox. Local mailbox ${recipient} is unavailable: user not found`;
    }
  },
};

/**
 * GMX / Web.de (United Internet): no enhanced codes, and the same RFC 5321 text for unknown users and
 * policy refusals (providers.md §B GMX row, §B.1.2): `550 Requested action not taken: mailbox
 * unavailable`, `… mailbox unavailable Reject due to policy restrictions`, `552 Requested mail action
 * aborted: exceeded storage allocation Quota exceeded.`
 */
const gmx: PersonaDefinition = {
  name: 'gmx.net',
  // Shape of the Nemesis banner (jeboehm/docker-mailserver #82 quotes its 554 form).
  greeting: '220 gmx.net (mxgmx017) Nemesis ESMTP Service ready',
  ehloGreet: 'gmx.net Hello probe.rcpt.test [127.0.0.1]',
  extensions: ['8BITMIME', 'SIZE 69920427', 'STARTTLS'],
  rcpt(recipient) {
    switch (localOf(recipient)) {
      case 'alice':
        return '250 Requested mail action okay, completed';
      case 'hoarder':
        return '552 Requested mail action aborted: exceeded storage allocation Quota exceeded.';
      case 'policy':
        return '550 Requested action not taken: mailbox unavailable Reject due to policy restrictions';
      default:
        return '550 Requested action not taken: mailbox unavailable';
    }
  },
};

/**
 * GMX refusing a client without forward-confirmed reverse DNS at the greeting (jeboehm/docker-mailserver
 * #82, quoted in providers.md §B GMX row).
 */
const gmxNoPtr: PersonaDefinition = {
  name: 'mx01.emig.gmx.net',
  greeting:
    '554-gmx.net (mxgmx014) Nemesis ESMTP Service not available\n554-No SMTP service\n554 Bad DNS PTR resource record',
};

/**
 * Proofpoint. providers.md §B Proofpoint row: while it verifies a recipient against the customer's
 * server, `421 4.1.1 <x>: Recipient address rejected: unverified address: Address verification in
 * progress` (a retry, not an unknown user); then the downstream answer, `550 5.1.1 <x>: Recipient
 * address rejected: undeliverable address: host … said: 550 5.1.1 … User unknown`; Essentials
 * `550 5.7.1 <x>: Recipient address rejected: User email address is marked as invalid.`; blocks
 * `550 5.7.1 Service unavailable; client [ip] blocked using prs.proofpoint.com` (reisepass/email-verifier
 * #3). The 421 closes the connection (RFC 5321 §3.8).
 */
const PROOFPOINT_USERS = new Set(['alice', 'bob']);
function proofpoint(): PersonaDefinition {
  const verified = new Set<string>();
  return {
    name: 'mx0a-00123401.pphosted.com',
    // Shape only.
    greeting: '220 mx0a-00123401.pphosted.com ESMTP mfa-m0123401',
    extensions: ['SIZE 52428800', 'PIPELINING', 'ENHANCEDSTATUSCODES', '8BITMIME', 'STARTTLS'],
    rcpt(recipient) {
      const domain = domainOf(recipient);
      if (domain === 'ppblocked.test') {
        return '550 5.7.1 Service unavailable; client [127.0.0.1] blocked using prs.proofpoint.com';
      }
      if (domain === 'ppessentials.test') {
        return localOf(recipient) === 'alice'
          ? '250 2.1.5 Ok'
          : `550 5.7.1 <${recipient}>: Recipient address rejected: User email address is marked as invalid.`;
      }
      // Enterprise with live recipient verification (Postfix reject_unverified_recipient semantics).
      const key = recipient.toLowerCase();
      if (!verified.has(key)) {
        verified.add(key);
        return `421 4.1.1 <${recipient}>: Recipient address rejected: unverified address: Address verification in progress`;
      }
      return PROOFPOINT_USERS.has(localOf(recipient))
        ? '250 2.1.5 Ok'
        : `550 5.1.1 <${recipient}>: Recipient address rejected: undeliverable address: host mail.ppcustomer.test[192.0.2.10] said: 550 5.1.1 <${recipient}>... User unknown (in reply to RCPT TO command)`;
    },
  };
}

/**
 * Mimecast. providers.md §B Mimecast row: greylisting by (IP, sender, recipient) with `451 Internal
 * resource temporarily unavailable - …DOC-1369#451` (Mimecast KB: retry after 1 min–12 h, a changing
 * MAIL FROM never passes); with directory sync `550 Invalid Recipient - …DOC-1369#550`; without it,
 * every recipient is accepted; `550 Administrative prohibition - envelope blocked` for blocked senders.
 */
function mimecast(): PersonaDefinition {
  const deferral = greylister(
    PERSONA_GREYLIST_WINDOW_MS,
    () => '451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451',
  );
  return {
    name: 'eu-smtp-inbound-1.mimecast.com',
    // Shape only.
    greeting: '220 eu-smtp-inbound-1.mimecast.com ESMTP Mimecast Ready',
    extensions: ['8BITMIME', 'PIPELINING', 'SIZE 104857600', 'STARTTLS'],
    rcpt(recipient, context) {
      const domain = domainOf(recipient);
      if (domain === 'mimeblock.test') {
        return '550 Administrative prohibition - envelope blocked - https://community.mimecast.com/docs/DOC-1369#550';
      }
      const deferred = deferral(recipient, context);
      if (deferred !== null) return deferred;
      // mimeopen.test: no directory sync, so every recipient passes once greylisting lets it.
      if (domain === 'mimeopen.test' || localOf(recipient) === 'alice') return '250 2.1.5 Ok';
      return '550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550';
    },
  };
}

/**
 * Barracuda Email Security Service. providers.md §B Barracuda row: `550 cuda_nsu 5.1.1 <x>... User
 * unknown`, `550 No such user (x)`, `451 4.7.1 <x>: Recipient address rejected: Greylisted for 5
 * minutes`, `450 cuda_nsu 4.7.1 <x>: Recipient address rejected: Policy Rejection- Abuse. Go away.`,
 * `421 Temporary failure, please try again later.`
 */
const barracuda: PersonaDefinition = {
  name: 'd123456a.ess.barracudanetworks.com',
  // Shape of the ESS banner.
  greeting: '220 d123456a.ess.barracudanetworks.com ESMTP (3f8e2d1c0b9a8f7e6d5c4b3a29180716)',
  extensions: ['PIPELINING', 'SIZE 100000000', 'STARTTLS', '8BITMIME', 'ENHANCEDSTATUSCODES'],
  rcpt(recipient) {
    if (domainOf(recipient) === 'cudagrey.test') {
      return `451 4.7.1 <${recipient}>: Recipient address rejected: Greylisted for 5 minutes`;
    }
    switch (localOf(recipient)) {
      case 'alice':
      case 'info':
        return `250 2.1.5 <${recipient}>... Recipient ok`;
      case 'abuser':
        return `450 cuda_nsu 4.7.1 <${recipient}>: Recipient address rejected: Policy Rejection- Abuse. Go away.`;
      case 'later':
        return '421 Temporary failure, please try again later.';
      case 'ghost':
        return `550 No such user (${recipient})`;
      default:
        return `550 cuda_nsu 5.1.1 <${recipient}>... User unknown`;
    }
  },
};

/**
 * Cisco Secure Email (IronPort) with LDAP accept: `550 #5.1.0 Address rejected.` (customeros/mailsherpa
 * #19, providers.md §B IronPort row).
 */
const ironport: PersonaDefinition = {
  name: 'esa1.hc1234-56.iphmx.com',
  // Shape only.
  greeting: '220 esa1.hc1234-56.iphmx.com ESMTP',
  extensions: ['8BITMIME', 'SIZE 31457280', 'STARTTLS'],
  mail: (mailFrom) => `250 sender <${mailFrom}> ok`,
  rcpt: (recipient) =>
    localOf(recipient) === 'alice' ? `250 recipient <${recipient}> ok` : '550 #5.1.0 Address rejected.',
};

/**
 * Cisco IronPort refusing the client by SenderBase reputation at the greeting (HAT REJECT), as quoted
 * in Postfix logs from *.iphmx.com hosts.
 */
const ironportReject: PersonaDefinition = {
  name: 'esa6.hc2916-71.iphmx.com',
  greeting:
    "554-esa6.hc2916-71.iphmx.com\n554 Your access to this mail system has been rejected due to the sending MTA's poor reputation.",
};

/**
 * Trend Micro Email Security with Directory Management: `554 5.7.1 <x>: Recipient address rejected:
 * Access denied.` for unknown users (Trend Micro KB 1053962, providers.md §B).
 */
const trendmicro: PersonaDefinition = {
  name: 'trendcustomer-test.in.tmes.trendmicro.com',
  // Shape only (Postfix-based front end).
  greeting: '220 trendcustomer-test.in.tmes.trendmicro.com ESMTP',
  extensions: ['PIPELINING', 'SIZE 52428800', 'STARTTLS', 'ENHANCEDSTATUSCODES', '8BITMIME'],
  rcpt: (recipient) =>
    localOf(recipient) === 'alice'
      ? '250 2.1.5 Ok'
      : `554 5.7.1 <${recipient}>: Recipient address rejected: Access denied.`,
};

/**
 * Google refusing a client at EHLO under load (providers.md §B Google row, "DoS at HELO"): `421 4.7.0
 * Try again later, closing connection. (EHLO)`.
 */
const googleBusy: PersonaDefinition = {
  name: 'aspmx2.googlemail.com',
  greeting: '220 mx.google.com ESMTP b2si7654321qkb.34 - gsmtp',
  ehloReply: '421 4.7.0 Try again later, closing connection. (EHLO) b2si7654321qkb.34 - gsmtp',
};

/**
 * Cisco IronPort's Directory Harvest Attack Prevention in work-queue mode: past the threshold of invalid
 * recipients per hour from one client (25 by default on public listeners), it "will bounce the messages
 * up to the threshold … and then it will silently accept and drop the rest" (AsyncOS 7.x Advanced
 * Configuration Guide, LDAP chapter; providers.md §B IronPort row).
 */
export const IRONPORT_DHAP_THRESHOLD = 25;
function ironportDhap(): PersonaDefinition {
  const invalid = new Map<string, number>();
  return {
    name: 'esa2.hc1234-56.iphmx.com',
    greeting: '220 esa2.hc1234-56.iphmx.com ESMTP',
    extensions: ['8BITMIME', 'SIZE 31457280'],
    mail: (mailFrom) => `250 sender <${mailFrom}> ok`,
    rcpt(recipient, context) {
      const count = invalid.get(context.remoteAddress) ?? 0;
      if (localOf(recipient) === 'alice' || count >= IRONPORT_DHAP_THRESHOLD) {
        return `250 recipient <${recipient}> ok`;
      }
      invalid.set(context.remoteAddress, count + 1);
      return '550 #5.1.0 Address rejected.';
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Generic MTAs with one behaviour each

/**
 * Postfix anvil at the greeting (`smtpd_client_connection_count_limit`): `421 4.7.0 <host> Error: too
 * many connections from <ip>`, then it closes. rcpt must try the next MX (RFC 5321 §5.1).
 */
const anvil: PersonaDefinition = {
  name: 'mx1.fallback-workspace.test',
  greeting: '421 4.7.0 mx1.fallback-workspace.test Error: too many connections from 127.0.0.1',
};

/**
 * rspamd's greylist module, whose default message names no window (`451 4.7.1 Try again later`), here
 * in front of a server that keeps deferring: rcpt retries while its deadline allows, then reports
 * greylisted.
 */
const stubbornGreylist: PersonaDefinition = {
  name: 'mx.stubborn.test',
  greeting: '220 mx.stubborn.test ESMTP Postfix',
  extensions: ['PIPELINING', 'SIZE 10240000', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8'],
  rcpt: () => '451 4.7.1 Try again later',
};

/**
 * Postfix's `reject_rbl_client zen.spamhaus.org`, whose reply is `default_rbl_reply` (postconf(5):
 * "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?;
 * $rbl_reason}", `maps_rbl_reject_code = 554`). With `smtpd_delay_reject = yes` (the default) it comes
 * at RCPT; with `no` and the check under `smtpd_sender_restrictions`, at MAIL FROM.
 */
const SPAMHAUS_REPLY =
  '554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1';
const spamhausAtRcpt: PersonaDefinition = {
  name: 'mx.blocklisted.test',
  greeting: '220 mx.blocklisted.test ESMTP Postfix (Debian/GNU)',
  extensions: ['PIPELINING', 'SIZE 10240000', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8'],
  rcpt: () => SPAMHAUS_REPLY,
};
const spamhausAtMail: PersonaDefinition = {
  name: 'mx.strict-rbl.test',
  greeting: '220 mx.strict-rbl.test ESMTP Postfix (Debian/GNU)',
  extensions: ['PIPELINING', 'SIZE 10240000', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8'],
  mail: () => SPAMHAUS_REPLY,
};

/**
 * Postfix with `smtpd_tls_security_level = encrypt`: STARTTLS is offered and MAIL in plaintext gets
 * `530 5.7.0 Must issue a STARTTLS command first` (Postfix smtpd.c; Google sends the same text).
 */
const tlsRequired: PersonaDefinition = {
  name: 'mx.tlsonly.test',
  greeting: '220 mx.tlsonly.test ESMTP Postfix (Debian/GNU)',
  extensions: ['PIPELINING', 'SIZE 10240000', 'STARTTLS', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8'],
  requireTls: true,
  rcpt: (recipient) =>
    localOf(recipient) === 'alice'
      ? null
      : `550 5.1.1 <${recipient}>: Recipient address rejected: User unknown in virtual mailbox table`,
};

/**
 * postgrey behind Postfix 2.x (no SMTPUTF8, which Postfix advertises from 3.0): `450 4.2.0 <x>:
 * Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/<domain>.html`
 * (postgrey's default --greylist-text), then the triplet passes after the delay.
 */
function postgrey(): PersonaDefinition {
  const deferral = greylister(
    PERSONA_GREYLIST_WINDOW_MS,
    (recipient) =>
      `450 4.2.0 <${recipient}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/${domainOf(recipient)}.html`,
  );
  return {
    name: 'mx.greylist.test',
    greeting: '220 mx.greylist.test ESMTP Postfix (Debian/GNU)',
    extensions: ['PIPELINING', 'SIZE 10240000', 'ENHANCEDSTATUSCODES', '8BITMIME'],
    rcpt(recipient, context) {
      const deferred = deferral(recipient, context);
      if (deferred !== null) return deferred;
      return localOf(recipient) === 'alice'
        ? null
        : `550 5.1.1 <${recipient}>: Recipient address rejected: User unknown in local recipient table`;
    },
  };
}

/** RFC 7504 §3: a host that accepts no mail at all greets with 521 and closes. */
const host521: PersonaDefinition = {
  name: 'mx.nomail521.test',
  greeting: '521 5.3.2 mx.nomail521.test does not accept mail',
};

/**
 * RFC 7504 §3 / RFC 7505 §4.1: 556 for a recipient domain that accepts no mail. Postfix 3's text for a
 * recipient domain with a null MX: `556 5.1.10 <x>: Recipient address rejected: Domain … does not accept
 * mail (nullMX)` (smtpd_check.c).
 */
const domain556: PersonaDefinition = {
  name: 'mx.parking.test',
  greeting: '220 mx.parking.test ESMTP Postfix',
  extensions: ['PIPELINING', 'SIZE 10240000', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8'],
  rcpt: (recipient) =>
    `556 5.1.10 <${recipient}>: Recipient address rejected: Domain ${domainOf(recipient)} does not accept mail (nullMX)`,
};

/** A disposable-address service's MX: accepts everything (Mailinator's behaviour). */
const disposable: PersonaDefinition = {
  name: 'mail.mailinator.com',
  greeting: '220 mail.mailinator.com ESMTP',
  extensions: ['PIPELINING', '8BITMIME', 'SMTPUTF8'],
};

// ---------------------------------------------------------------------------------------------------
// Hostile and broken servers (issue 4, "Hostile or broken servers")

const EHLO_REPLY = '250-mx.hostile.test\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n';

/** Answers like a plain MTA until `until` matches a verb; then hands over. */
async function answerUntil(connection: RawConnection, until: string): Promise<string | null> {
  for (;;) {
    const line = await connection.readLine();
    if (line === null) return null;
    const verb = (line.split(/[ :]/, 1)[0] ?? '').toUpperCase();
    if (verb === until) return line;
    if (verb === 'EHLO') connection.write(EHLO_REPLY);
    else if (verb === 'QUIT') {
      connection.write('221 2.0.0 Bye\r\n');
      connection.end();
      return null;
    } else connection.write('250 2.0.0 Ok\r\n');
  }
}

/** A tarpit: accepts the connection and never says a word. */
const tarpit: PersonaDefinition = { name: 'mx.tarpit.test', script: (c) => c.delay(3_600_000) };

/** Trickles its greeting one byte a second (a slow-loris server). */
const trickle: PersonaDefinition = {
  name: 'mx.trickle.test',
  script: (c) => c.trickle('220 mx.trickle.test ESMTP at your leisure\r\n', TRICKLE_INTERVAL_MS),
};

/** A 1 MB greeting line. */
const longLine: PersonaDefinition = {
  name: 'mx.longline.test',
  script: async (c) => {
    c.write(`220 ${'x'.repeat(1024 * 1024)}\r\n`);
    await c.delay(3_600_000);
  },
};

/** A greeting that never ends: continuation lines forever. */
const endless: PersonaDefinition = {
  name: 'mx.endless.test',
  script: (c) => c.flood('220-mx.endless.test still greeting you\r\n'.repeat(64)),
};

/** Resets the connection (TCP RST) in the middle of its EHLO reply. */
const resetMidReply: PersonaDefinition = {
  name: 'mx.reset.test',
  script: async (c) => {
    c.write('220 mx.reset.test ESMTP\r\n');
    if ((await c.readLine()) === null) return;
    c.write('250-mx.reset.test\r\n250-PIPELI');
    await c.delay(20);
    c.reset();
  },
};

/**
 * Closes (FIN) halfway through a Gmail-style multi-line 550-5.1.1 to RCPT: a truncated rejection must
 * never be read as "user unknown".
 */
const closeMidReply: PersonaDefinition = {
  name: 'mx.halfway.test',
  script: async (c) => {
    c.write('220 mx.halfway.test ESMTP\r\n');
    if ((await answerUntil(c, 'RCPT')) === null) return;
    c.write(
      '550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n550-5.1.1 dou',
    );
    await c.delay(20);
    c.end();
  },
};

/** Speaks something that is not SMTP. */
const garbage: PersonaDefinition = {
  name: 'mx.garbage.test',
  script: async (c) => {
    c.write('HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n<html>nope</html>\r\n');
    await c.delay(3_600_000);
  },
};

/**
 * Answers a command that was never sent: without PIPELINING the client sends MAIL alone, and this server
 * answers it and, in the same write, the RCPT that has not been sent yet.
 */
const unsolicited: PersonaDefinition = {
  name: 'mx.eager.test',
  script: async (c) => {
    c.write('220 mx.eager.test ESMTP\r\n');
    if ((await answerUntil(c, 'MAIL')) === null) return;
    c.write('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n');
    await answerUntil(c, '\u0000');
  },
};

/** Offers STARTTLS, then sends garbage for a handshake; MAIL in plaintext gets 530 (TLS required). */
const tlsBroken: PersonaDefinition = {
  name: 'mx.badtls.test',
  greeting: '220 mx.badtls.test ESMTP Postfix',
  extensions: ['PIPELINING', 'STARTTLS', 'ENHANCEDSTATUSCODES'],
  startTls: 'broken',
  requireTls: true,
};

/**
 * The same broken handshake on a server that only offers TLS: rcpt falls back to plaintext, as
 * Postfix's opportunistic TLS (`smtp_tls_security_level = may`) does, and gets its answer.
 */
const tlsBrokenOptional: PersonaDefinition = {
  name: 'mx.flakytls.test',
  greeting: '220 mx.flakytls.test ESMTP Postfix',
  extensions: ['PIPELINING', 'STARTTLS', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8'],
  startTls: 'broken',
  rcpt: (recipient) =>
    localOf(recipient) === 'alice'
      ? null
      : `550 5.1.1 <${recipient}>: Recipient address rejected: User unknown in virtual mailbox table`,
};

// ---------------------------------------------------------------------------------------------------

interface PersonaPlan {
  readonly ip: string;
  readonly definition: PersonaDefinition;
}

/**
 * Every persona, the loopback address it listens on, in a stable order. A function: greylisting and
 * verification state start empty in every world.
 */
function personaPlans(): readonly PersonaPlan[] {
  return [
    { ip: '127.0.0.30', definition: google },
    { ip: '127.0.0.31', definition: microsoft365 },
    { ip: '127.0.0.32', definition: outlook },
    { ip: '127.0.0.33', definition: yahoo },
    { ip: '127.0.0.34', definition: icloud },
    { ip: '127.0.0.35', definition: zoho },
    { ip: '127.0.0.36', definition: yandex },
    { ip: '127.0.0.37', definition: mailru },
    { ip: '127.0.0.38', definition: gmx },
    { ip: '127.0.0.39', definition: gmxNoPtr },
    { ip: '127.0.0.40', definition: proofpoint() },
    { ip: '127.0.0.41', definition: mimecast() },
    { ip: '127.0.0.42', definition: barracuda },
    { ip: '127.0.0.43', definition: ironport },
    { ip: '127.0.0.44', definition: ironportReject },
    { ip: '127.0.0.45', definition: trendmicro },
    { ip: '127.0.0.46', definition: spamhausAtRcpt },
    { ip: '127.0.0.47', definition: spamhausAtMail },
    { ip: '127.0.0.48', definition: tlsRequired },
    { ip: '127.0.0.49', definition: postgrey() },
    { ip: '127.0.0.50', definition: host521 },
    { ip: '127.0.0.51', definition: domain556 },
    { ip: '127.0.0.52', definition: disposable },
    { ip: '127.0.0.53', definition: tarpit },
    { ip: '127.0.0.54', definition: trickle },
    { ip: '127.0.0.55', definition: longLine },
    { ip: '127.0.0.56', definition: endless },
    { ip: '127.0.0.57', definition: resetMidReply },
    { ip: '127.0.0.58', definition: closeMidReply },
    { ip: '127.0.0.59', definition: garbage },
    { ip: '127.0.0.60', definition: unsolicited },
    { ip: '127.0.0.61', definition: tlsBroken },
    // 127.0.0.62: nothing listens there (connection refused).
    { ip: '127.0.0.63', definition: ironportDhap() },
    { ip: '127.0.0.64', definition: googleBusy },
    { ip: '127.0.0.65', definition: anvil },
    { ip: '127.0.0.66', definition: stubbornGreylist },
    { ip: '127.0.0.67', definition: tlsBrokenOptional },
  ];
}

const mx = (exchange: string, priority = 10) => ({ MX: [{ priority, exchange }] });
const a = (ip: string) => ({ A: [ip] });

/** The loopback DNS of the persona world: provider-shaped MX names, each pointing at its persona. */
export const PERSONA_ZONES: DnsZones = {
  // Google: Gmail and two Workspace customers (one with catch-all routing).
  'gmail.com': {
    MX: [
      { priority: 5, exchange: 'gmail-smtp-in.l.google.com' },
      { priority: 10, exchange: 'alt1.gmail-smtp-in.l.google.com' },
    ],
  },
  'gmail-smtp-in.l.google.com': a('127.0.0.30'),
  'alt1.gmail-smtp-in.l.google.com': a('127.0.0.30'),
  'acme-workspace.test': mx('aspmx.l.google.com', 1),
  'catchall-workspace.test': mx('aspmx.l.google.com', 1),
  'aspmx.l.google.com': a('127.0.0.30'),
  // Microsoft 365: a DBEB tenant, a tenant without DBEB.
  'contoso.test': mx('contoso-test.mail.protection.outlook.com', 0),
  'contoso-test.mail.protection.outlook.com': a('127.0.0.31'),
  'fabrikam.test': mx('fabrikam-test.mail.protection.outlook.com', 0),
  'fabrikam-test.mail.protection.outlook.com': a('127.0.0.31'),
  // Outlook.com consumer.
  'hotmail.com': mx('hotmail-com.olc.protection.outlook.com', 2),
  'hotmail-com.olc.protection.outlook.com': a('127.0.0.32'),
  'live.com': mx('live-com.olc.protection.outlook.com', 2),
  'live-com.olc.protection.outlook.com': a('127.0.0.32'),
  // Yahoo and AOL.
  'yahoo.com': mx('mta5.am0.yahoodns.net', 1),
  'mta5.am0.yahoodns.net': a('127.0.0.33'),
  'aol.com': mx('mx-aol.mail.gm0.yahoodns.net'),
  'mx-aol.mail.gm0.yahoodns.net': a('127.0.0.33'),
  // iCloud, Zoho, Yandex, Mail.ru, GMX.
  'icloud.com': mx('mx01.mail.icloud.com'),
  'mx01.mail.icloud.com': a('127.0.0.34'),
  'zoho.com': mx('mx.zoho.com'),
  'notzoho.test': mx('mx.zoho.com'),
  'mx.zoho.com': a('127.0.0.35'),
  'yandex.ru': mx('mx.yandex.ru'),
  'mx.yandex.ru': a('127.0.0.36'),
  'mail.ru': mx('mxs.mail.ru'),
  'mxs.mail.ru': a('127.0.0.37'),
  'gmx.net': mx('mx00.emig.gmx.net'),
  'mx00.emig.gmx.net': a('127.0.0.38'),
  'web.de': mx('mx-ha02.web.de'),
  'mx-ha02.web.de': a('127.0.0.38'),
  'gmx.de': mx('mx01.emig.gmx.net'),
  'mx01.emig.gmx.net': a('127.0.0.39'),
  // Gateways in front of customer domains.
  'ppcustomer.test': mx('mx0a-00123401.pphosted.com'),
  'ppblocked.test': mx('mx0a-00123401.pphosted.com'),
  'mx0a-00123401.pphosted.com': a('127.0.0.40'),
  'ppessentials.test': mx('mx1-us1.ppe-hosted.com'),
  'mx1-us1.ppe-hosted.com': a('127.0.0.40'),
  'mimecustomer.test': mx('eu-smtp-inbound-1.mimecast.com'),
  'mimeopen.test': mx('eu-smtp-inbound-1.mimecast.com'),
  'mimeblock.test': mx('eu-smtp-inbound-1.mimecast.com'),
  'eu-smtp-inbound-1.mimecast.com': a('127.0.0.41'),
  'cudacustomer.test': mx('d123456a.ess.barracudanetworks.com'),
  'cudagrey.test': mx('d123456a.ess.barracudanetworks.com'),
  'd123456a.ess.barracudanetworks.com': a('127.0.0.42'),
  'ironcustomer.test': mx('mx1.hc1234-56.iphmx.com'),
  'mx1.hc1234-56.iphmx.com': a('127.0.0.43'),
  'ironreject.test': mx('mx1.hc2916-71.iphmx.com'),
  'mx1.hc2916-71.iphmx.com': a('127.0.0.44'),
  'trendcustomer.test': mx('trendcustomer-test.in.tmes.trendmicro.com'),
  'trendcustomer-test.in.tmes.trendmicro.com': a('127.0.0.45'),
  // Generic MTAs.
  'blocklisted.test': mx('mx.blocklisted.test'),
  'mx.blocklisted.test': a('127.0.0.46'),
  'strict-rbl.test': mx('mx.strict-rbl.test'),
  'mx.strict-rbl.test': a('127.0.0.47'),
  'tlsonly.test': mx('mx.tlsonly.test'),
  'mx.tlsonly.test': a('127.0.0.48'),
  'greylist.test': mx('mx.greylist.test'),
  'mx.greylist.test': a('127.0.0.49'),
  'nomail521.test': mx('mx.nomail521.test'),
  'mx.nomail521.test': a('127.0.0.50'),
  'parked.test': mx('mx.parking.test'),
  'mx.parking.test': a('127.0.0.51'),
  'mailinator.com': mx('mail.mailinator.com'),
  'mail.mailinator.com': a('127.0.0.52'),
  // Hostile servers.
  'tarpit.test': mx('mx.tarpit.test'),
  'mx.tarpit.test': a('127.0.0.53'),
  'trickle.test': mx('mx.trickle.test'),
  'mx.trickle.test': a('127.0.0.54'),
  'longline.test': mx('mx.longline.test'),
  'mx.longline.test': a('127.0.0.55'),
  'endless.test': mx('mx.endless.test'),
  'mx.endless.test': a('127.0.0.56'),
  'reset.test': mx('mx.reset.test'),
  'mx.reset.test': a('127.0.0.57'),
  'halfway.test': mx('mx.halfway.test'),
  'mx.halfway.test': a('127.0.0.58'),
  'garbage.test': mx('mx.garbage.test'),
  'mx.garbage.test': a('127.0.0.59'),
  'eager.test': mx('mx.eager.test'),
  'mx.eager.test': a('127.0.0.60'),
  'badtls.test': mx('mx.badtls.test'),
  'mx.badtls.test': a('127.0.0.61'),
  'refused.test': mx('mx.refused.test'),
  'mx.refused.test': a('127.0.0.62'),
  // Later additions: IronPort DHAP, Google at EHLO, a first MX that is over its connection limit, rspamd.
  'harvest.test': mx('mx2.hc1234-56.iphmx.com'),
  'mx2.hc1234-56.iphmx.com': a('127.0.0.63'),
  'busy-workspace.test': mx('aspmx2.googlemail.com', 1),
  'aspmx2.googlemail.com': a('127.0.0.64'),
  'fallback-workspace.test': {
    MX: [
      { priority: 1, exchange: 'mx1.fallback-workspace.test' },
      { priority: 5, exchange: 'alt1.aspmx.l.google.com' },
    ],
  },
  'mx1.fallback-workspace.test': a('127.0.0.65'),
  'alt1.aspmx.l.google.com': a('127.0.0.30'),
  'stubborn.test': mx('mx.stubborn.test'),
  'mx.stubborn.test': a('127.0.0.66'),
  'flakytls.test': mx('mx.flakytls.test'),
  'mx.flakytls.test': a('127.0.0.67'),
  // DNS outcomes.
  'nullmx.test': { MX: [{ priority: 0, exchange: '.' }] },
  'nomail.test': { TXT: ['v=spf1 -all'] },
  'servfail.test': { behaviour: 'servfail' },
};

export interface PersonaWorld {
  /** `HOST:PORT` of the loopback DNS server, for the `dnsServers` option. */
  readonly dnsServer: string;
  /** The port every persona listens on, for the `smtpPort` option. */
  readonly smtpPort: number;
  readonly servers: readonly ScriptedServer[];
  /** The persona whose name is `name`; throws when there is none. */
  server(name: string): ScriptedServer;
  close(): Promise<void>;
}

/** Binding attempts when another program holds the chosen port on one of the addresses. */
const PORT_ATTEMPTS = 5;

async function startAllOnOnePort(plans: readonly PersonaPlan[]): Promise<ScriptedServer[]> {
  for (let attempt = 1; ; attempt += 1) {
    const started: ScriptedServer[] = [];
    try {
      const [first, ...rest] = plans;
      if (first === undefined) return started;
      const head = await startScriptedServer(first.definition, first.ip, 0);
      started.push(head);
      for (const plan of rest) started.push(await startScriptedServer(plan.definition, plan.ip, head.port));
      return started;
    } catch (error) {
      await Promise.all(started.map((server) => server.close()));
      if (attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

/** Starts every persona on one shared port and the loopback DNS server. Close it when done. */
export async function startPersonaWorld(): Promise<PersonaWorld> {
  const servers = await startAllOnOnePort(personaPlans());
  let dns: DnsServer;
  try {
    dns = await startDnsServer({ host: '127.0.0.1', port: 0, zones: PERSONA_ZONES });
  } catch (error) {
    await Promise.all(servers.map((server) => server.close()));
    throw error;
  }
  return {
    dnsServer: dns.address,
    smtpPort: servers[0]?.port ?? 0,
    servers,
    server(name) {
      const found = servers.find((server) => server.name === name);
      if (found === undefined) throw new Error(`no persona named ${name}`);
      return found;
    },
    async close() {
      await Promise.all([dns.close(), ...servers.map((server) => server.close())]);
    },
  };
}
