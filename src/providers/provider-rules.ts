/**
 * Provider rules as data (docs/verdicts.md, "Providers"). Each rule cites the replies or
 * documentation that justify it; docs/verdicts.md summarises them. Order
 * does not matter: `matchProvider()` picks the longest matching suffix. A pure module.
 */
import type { ProviderRule } from './provider-rule.js';

/**
 * The default ceiling on RCPTs per minute at one MX address of the big mailbox providers (Google,
 * Microsoft, Yahoo). None of them publishes an inbound rate; each throttles a sending IP whose volume
 * jumps above its own history (Gmail `421 4.7.28`, Microsoft `451 4.7.500-699`, Yahoo `421 4.7.0
 * [TSS04]`), and a verifier's IP has little history. One a second is the pace mail administrators give
 * these providers in Postfix (`destination_rate_delay = 1s`); docs/bulk.md, "RCPTs per minute", has the
 * sources.
 */
export const DEFAULT_PROVIDER_RCPTS_PER_MINUTE = 60;

/**
 * Google: Gmail (`gmail-smtp-in.l.google.com`) and Workspace (`aspmx.l.google.com`, `alt1-4.aspmx…`,
 * `aspmx2-5.googlemail.com`, the 2023 single MX `smtp.google.com`). Rejects unknown users at RCPT
 * (sisimai `rhost-google-02.eml`, "in reply to RCPT TO": `550-5.1.1 The email account that you tried to
 * reach does not exist`). Every Google reply ends in `- gsmtp`, and the greeting reads
 * `220 mx.google.com ESMTP … - gsmtp`.
 */
const google = {
  id: 'google',
  name: 'Google (Gmail, Workspace)',
  mxSuffixes: ['google.com', 'googlemail.com'],
  bannerPatterns: [/\bgsmtp\b/i],
  maxRcptsPerMinute: DEFAULT_PROVIDER_RCPTS_PER_MINUTE,
  notes:
    'Workspace can route unknown users to a catch-all (zytzagoo/smtp-validate-email #84): a 250 is only ' +
    'proof when the catch-all probe was refused. 550 5.2.1 is both "disabled" and "receiving too fast".',
} as const satisfies ProviderRule;

/**
 * Microsoft 365 / Exchange Online: `<tenant>.mail.protection.outlook.com`, plus the sovereign clouds
 * (`mail.protection.office365.us` GCC High, `mail.protection.partner.outlook.cn` 21Vianet). With
 * Directory-Based Edge Blocking an unknown user gets `550 5.4.1 … Recipient address rejected: Access
 * denied` at RCPT (sisimai `rhost-microsoft-02.eml`); tenants without DBEB (internal relay, hybrid)
 * accept every RCPT (karolyi/py3-validate-email PR #63; Reacher #1185).
 */
const microsoft365 = {
  id: 'microsoft365',
  name: 'Microsoft 365 (Exchange Online)',
  mxSuffixes: [
    'mail.protection.outlook.com',
    'mail.protection.office365.us',
    'mail.protection.partner.outlook.cn',
  ],
  maxRcptsPerMinute: DEFAULT_PROVIDER_RCPTS_PER_MINUTE,
  notes:
    'Accept-all when the tenant has no DBEB; 5.4.1 means "no such user" only with "Recipient address ' +
    'rejected" (otherwise "Relay Access Denied"); 5.7.606-649 are IP bans. 452 4.5.3 beyond 200 recipients.',
} as const satisfies ProviderRule;

/**
 * Outlook.com consumer mail (hotmail.com, outlook.com, live.com, msn.com):
 * `hotmail-com.olc.protection.outlook.com`. Unknown users get `550 5.5.0 Requested action not taken:
 * mailbox unavailable`; a second RCPT in one transaction gets `452 4.5.3 Too many recipients`, which
 * flips catch-all results (AfterShip/email-verifier #72, Reacher #569). The Hotmail MX names of old
 * (`mx1.hotmail.com` … `mx4.hotmail.com`) no longer serve, but bounces still name them, and
 * `explainReply()` reads the provider from a bounce's host name.
 */
const outlook = {
  id: 'outlook',
  name: 'Outlook.com (Hotmail, Live, MSN)',
  mxSuffixes: ['olc.protection.outlook.com', 'hotmail.com'],
  oneRecipientPerTransaction: true,
  maxRcptsPerMinute: DEFAULT_PROVIDER_RCPTS_PER_MINUTE,
  notes: 'Blocks many cloud IP ranges outright (truemail #101: S3150 block list).',
} as const satisfies ProviderRule;

/**
 * Yahoo, AOL and Verizon: `mta5.am0.yahoodns.net`, `mx-aol.mail.gm0.yahoodns.net` (the former
 * `mx1.mail.yahoo.com` and AOL's `mailin-0N.mx.aol.com` names kept for stale zones). Accept-all at RCPT:
 * unknown users are refused only after DATA (truemail-go #91 swaks transcript, badoux/checkmail #2,
 * sisimai `rhost-yahooinc-03.eml` ">>> DATA / <<< 554 … This user doesn't have a yahoo.com account").
 */
const yahoo = {
  id: 'yahoo',
  name: 'Yahoo / AOL',
  mxSuffixes: ['yahoodns.net', 'yahoo.com', 'mx.aol.com'],
  acceptAll: true,
  maxRcptsPerMinute: DEFAULT_PROVIDER_RCPTS_PER_MINUTE,
  notes: '"421 Max message per connection reached": keep sessions short; [TSS04] deferrals mean slow down.',
} as const satisfies ProviderRule;

/**
 * Apple iCloud (icloud.com, me.com, mac.com): `mx01.mail.icloud.com`, `mx02.mail.icloud.com`. Rejects at
 * RCPT (sisimai `rhost-apple-03/04.eml`: `550 5.1.1 <x>: user does not exist`); inbound reputation is
 * Proofpoint's (`554 5.7.0 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi`, truemail #298).
 */
const apple = {
  id: 'apple',
  name: 'Apple iCloud Mail',
  mxSuffixes: ['mail.icloud.com'],
  notes: '421 4.7.1 "deferred due to excessive volume": back off per domain.',
} as const satisfies ProviderRule;

/**
 * Zoho Mail: `mx.zoho.com`, `mx2.zoho.com`, `smtpin.zoho.com`, the regional `mx.zoho.eu`, `mx.zoho.in`,
 * `mx.zoho.com.au`, `mx.zoho.jp`, and `mx.zohomail.com`. `250 Recipient <x> OK` for users (Reacher #487),
 * `550 5.1.1 <x> User unknown` otherwise; `553 Relaying disallowed` when the domain is not hosted there.
 */
const zoho = {
  id: 'zoho',
  name: 'Zoho Mail',
  mxSuffixes: ['zoho.com', 'zoho.eu', 'zoho.in', 'zoho.com.au', 'zoho.jp', 'zohomail.com'],
} as const satisfies ProviderRule;

/**
 * Yandex: `mx.yandex.net`, `mx.yandex.ru`. Uses 5.7.1 for unknown users (`550 5.7.1 No such user!`) and
 * for policy (`550 5.7.1 Policy rejection on the target address`, ambiguous).
 */
const yandex = {
  id: 'yandex',
  name: 'Yandex Mail',
  mxSuffixes: ['yandex.net', 'yandex.ru', 'yandex.com'],
} as const satisfies ProviderRule;

/**
 * Mail.ru: `mxs.mail.ru`, `emx.mail.ru`. `550 Message was not accepted -- invalid mailbox. Local mailbox
 * x@mail.ru is unavailable: account is disabled` (sisimai `lhost/mailru.rb`).
 */
const mailru = {
  id: 'mailru',
  name: 'Mail.ru',
  mxSuffixes: ['mail.ru'],
} as const satisfies ProviderRule;

/**
 * GMX and Web.de (United Internet): `mx00.emig.gmx.net`, `mx01.emig.gmx.net`, `mx-ha02.web.de`. No
 * enhanced codes, and the same `550 Requested action not taken: mailbox unavailable` for unknown users
 * and policy refusals. Greets `554-gmx.net (mxgmx014) Nemesis ESMTP Service not available … Bad DNS PTR
 * resource record` to clients without forward-confirmed PTR (jeboehm/docker-mailserver #82).
 */
const gmx = {
  id: 'gmx',
  name: 'GMX / Web.de',
  mxSuffixes: ['gmx.net', 'gmx.com', 'gmx.de', 'web.de'],
  bannerPatterns: [/\bNemesis ESMTP\b/i],
  notes: 'Strict sender checks (PTR, sender domain MX/A); "mailbox unavailable" alone is ambiguous.',
} as const satisfies ProviderRule;

/**
 * Proofpoint (Enterprise and Essentials): `mx0a-001234.pphosted.com`, `*.ppe-hosted.com`. Verifies
 * recipients live against the customer's server: `421 4.1.1 … Recipient address rejected: unverified
 * address: Address verification in progress` is a retry, not an unknown user. Reacher matches
 * `ppe-hosted.com.` without a leading dot (`xppe-hosted.com` would match); we match on label boundaries.
 */
const proofpoint = {
  id: 'proofpoint',
  name: 'Proofpoint',
  mxSuffixes: ['pphosted.com', 'ppe-hosted.com'],
  notes: 'Blocks proxy and cloud ranges: "blocked using prs.proofpoint.com" (reisepass/email-verifier #3).',
} as const satisfies ProviderRule;

/**
 * Mimecast: `eu-smtp-inbound-1.mimecast.com`, `us-smtp-inbound-2.mimecast.com`,
 * `za-smtp-inbound-1.mimecast.co.za`. Greylists by (IP, sender, recipient) with `451 Internal resource
 * temporarily unavailable - …DOC-1369#451`, retry after 1 min to 12 h (Mimecast KB; a changing MAIL
 * FROM never passes). Unknown users: `550 Invalid Recipient - …DOC-1369#550` when directory-synced.
 */
const mimecast = {
  id: 'mimecast',
  name: 'Mimecast',
  mxSuffixes: ['mimecast.com', 'mimecast.co.za', 'mimecast-offshore.com'],
  notes: 'Accept-all when the customer has no directory sync; keep MAIL FROM stable for greylisting.',
} as const satisfies ProviderRule;

/**
 * Barracuda Email Security Service / Email Gateway Defense: `d123456a.ess.barracudanetworks.com`,
 * `*.ess.eu.barracudanetworks.com`, and the newer `*.mx.cudasvc.com`. Greylists
 * (`451 4.7.1 <x>: Recipient address rejected: Greylisted for 5 minutes`) and tags its own replies with
 * `cuda_nsu` (`550 cuda_nsu 5.1.1 <x>... User unknown`).
 */
const barracuda = {
  id: 'barracuda',
  name: 'Barracuda',
  mxSuffixes: ['barracudanetworks.com', 'cudasvc.com'],
  bannerPatterns: [/\bbarracuda\b/i],
  notes: 'Recipient verification only when the customer configured it; otherwise accept-all.',
} as const satisfies ProviderRule;

/**
 * Cisco Secure Email (IronPort) cloud: `mx1.hc1234-56.iphmx.com`. LDAP-accept gives `550 #5.1.0 Address
 * rejected.` (customeros/mailsherpa #19). Directory Harvest Attack Prevention: by default 25 invalid
 * recipients per hour per remote host on public listeners, then the connection is dropped or, in
 * work-queue mode, everything is silently accepted (AsyncOS 7.x Advanced Configuration Guide, LDAP).
 */
const ironport = {
  id: 'ironport',
  name: 'Cisco Secure Email (IronPort)',
  mxSuffixes: ['iphmx.com'],
  maxInvalidRecipientsPerHour: 25,
  notes: 'Past the DHAP threshold a 250 proves nothing: throttle invalid RCPTs per host.',
} as const satisfies ProviderRule;

/**
 * SpamExperts / N-able Mail Assure: `mx.spamexperts.com`, `*.antispamcloud.com`. Tarpit: "Some <RCPT TO>
 * take 30s to respond" (Reacher `core/src/rules.json`, by_mx_suffix `.antispamcloud.com.`).
 */
const spamexperts = {
  id: 'spamexperts',
  name: 'SpamExperts (antispamcloud)',
  mxSuffixes: ['antispamcloud.com', 'spamexperts.com', 'spamexperts.eu', 'spamexperts.net'],
  slowRcpt: true,
} as const satisfies ProviderRule;

/**
 * Trend Micro Email Security (Hosted Email Security): `<customer>.in.tmes.trendmicro.com`,
 * `*.in.hes.trendmicro.com`, `*.in.tmes.trendmicro.eu`. With Directory Management an unknown user gets
 * `554 5.7.1 <x>: Recipient address rejected: Access denied.` (Trend Micro KB 1053962).
 */
const trendmicro = {
  id: 'trendmicro',
  name: 'Trend Micro Email Security',
  mxSuffixes: ['trendmicro.com', 'trendmicro.eu'],
} as const satisfies ProviderRule;

/**
 * Proton Mail: `mail.protonmail.ch`, `mailsec.protonmail.ch`. `550 5.5.1 Protocol error` at RCPT after
 * EHLO, STARTTLS and MAIL succeeded, tied by the reporter to the client's HELO identity: a policy refusal,
 * not an unknown user (jeremydumais/CPP-SMTPClient-library #57).
 */
const proton = {
  id: 'proton',
  name: 'Proton Mail',
  mxSuffixes: ['protonmail.ch'],
} as const satisfies ProviderRule;

/**
 * NTT docomo mobile mail (`docomo.ne.jp`, MX `mfsmax.docomo.ne.jp`). `550 Unknown user <address>` is
 * both its answer for an address that does not exist and for a recipient whose reception settings
 * refuse the sender (受信拒否: NTT Communications' support FAQ on docomo errors; an ESP's notes on
 * docomo's replies), given at RCPT or after the data: on its own it does not say the address is gone.
 */
const docomo = {
  id: 'docomo',
  name: 'NTT docomo (docomo.ne.jp)',
  mxSuffixes: ['docomo.ne.jp'],
  notes:
    '"550 Unknown user" is also the reply to a sender the recipient refuses (support.ntt.com FAQ ' +
    'pid2300000e64; note.com/sendmagic docomo reply codes): read as ambiguous, never as a missing mailbox.',
} as const satisfies ProviderRule;

/** Every provider rule rcpt knows. Add one by writing a rule above and listing it here. */
export const PROVIDER_RULES = [
  google,
  microsoft365,
  outlook,
  yahoo,
  apple,
  zoho,
  yandex,
  mailru,
  gmx,
  proofpoint,
  mimecast,
  barracuda,
  ironport,
  spamexperts,
  trendmicro,
  proton,
  docomo,
] as const satisfies readonly ProviderRule[];

/** The identifier of a known provider, e.g. `'google'`. */
export type ProviderId = (typeof PROVIDER_RULES)[number]['id'];

/** The rule with this id, or `null`. */
export function providerById(id: string): ProviderRule | null {
  return PROVIDER_RULES.find((rule) => rule.id === id) ?? null;
}
