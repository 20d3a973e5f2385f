/**
 * The classifier's knowledge base: an ordered table of rules over (stage, code class, code, enhanced
 * code, text, provider). The first rule that matches decides. The order is the argument of
 * docs/verdicts.md and README.md in this folder:
 *
 *   1. positive replies;  2. stages that say nothing about a mailbox;  3. explicit greylisting (4xx);
 *   4. rate limits whose text would otherwise read as a block;  5. anything about the *sender* (IP,
 *   HELO, MAIL FROM, relay, blocklists, policy), at any stage and class;  6. other rate limits;
 *   7. 5xx at the session stages;  8. mailbox full;  9. the rest of 4xx (never undeliverable);
 *   10. 5xx at RCPT: domain refusals, provider-specific wording, disabled, not found, ambiguous;
 *   11. leftover policy / protocol codes;  12. anything else is `unexpected_reply`.
 *
 * Every rule cites the server or source whose replies it encodes; the reply lines themselves are in
 * test/fixtures/replies/reply-lines.ts with their sources. A pure module.
 */
import type { ReplyRule } from './classification.js';

// ---------------------------------------------------------------------------------------------------
// Wording shared by several rules. Matched against the text with white space folded, case-insensitively.

/**
 * Greylisting named as such: postgrey `Greylisted, see http://postgrey.schweikert.ch/help/…`, Barracuda
 * `Greylisted for 5 minutes`, milter-greylist `Greylisting in action`, Exim greylistd, rspamd.
 */
const GREYLIST = /\bgr[ae]y-?list/i;

/**
 * DNS blocklists and reputation services by name (RFC 5782 DNSBLs): Spamhaus (`blocked using Spamhaus`,
 * `Helo/MailFrom domain is listed in Spamhaus (S8001/S8002)`, Yahoo `[BL21] … Spamhaus's list`),
 * SpamCop, Barracuda Reputation, Proofpoint (`prs.proofpoint.com`, `dnsbl-lookup`, `ipcheck`), Cloudmark,
 * Trend Micro RBL+, SORBS, CBL (abuseat), UCEPROTECT, PSBL, Abusix; Postfix `reject_rbl_client`
 * (`blocked using zen.spamhaus.org`), Exim `dnslists` (`is in a black list at`), Microsoft
 * `on our block list (S3150)`, GMX `IP address is block listed`.
 */
const BLOCKLIST =
  /spamhaus|spamcop|barracudacentral|cloudmark|prs\.proofpoint|ipcheck\.proofpoint|dnsbl|\brbl\b|blocked using|block ?list|black ?list|\blisted (?:at|in|on|by)\b|\bis listed\b|\bsorbs\b|abuseat|uceprotect|mail-abuse|\bpsbl\b|abusix|senderbase|\bsbrs\b/i;

/**
 * Relaying refused: Postfix `Relay access denied` (`reject_unauth_destination`), Sendmail `Relaying
 * denied`, Exim `relay not permitted`, Zoho `553 Relaying disallowed`, qmail `isn't in my list of allowed
 * rcpthosts`, Microsoft `5.4.1 Relay Access Denied` and `5.7.54 Unable to relay`.
 */
const RELAY =
  /relay(?:ing)? (?:access )?(?:denied|not permitted|disallowed|prohibited|not allowed)|unable to relay|not permitted to relay|(?:we )?do not relay|allowed rcpthosts/i;

/**
 * Policy aimed at the connecting client: Exim's default ACL text `Administrative prohibition`, Mimecast
 * `envelope blocked` / `Host network not allowed` / `security policies`, GMX `Reject due to policy
 * restrictions`, Google `IP not in whitelist for RCPT domain`, Barracuda `Policy Rejection- Abuse` (but not Yandex's ambiguous `Policy rejection on
 * the target address`), Microsoft `Access denied, banned sender` / `Access denied, bad HELO`, and any
 * `blocked` / `banned` wording, which no server uses for a mailbox that does not exist.
 */
const POLICY_BLOCK =
  /administrative prohibition|envelope (?:blocked|rejected)|host network not allowed|policy restrictions|policy rejection(?! on the target)|(?:local|security|site) polic(?:y|ies)|access denied, (?:banned|bad)|\bblocked\b|\bbanned\b|not allowed to (?:connect|send)|not in (?:the )?(?:white|allow) ?list|\b(?:your|sending|client|remote) (?:ip|host|server|network)\b[^.]{0,40}\b(?:not allowed|refused|rejected|denied)/i;

/**
 * Authentication of the sender: SPF (Postfix policyd-spf `openspf.net/Why`), DMARC, DKIM, Google
 * `5.7.26 … unauthenticated`, Microsoft `5.7.57 Client not authenticated`.
 */
const SENDER_AUTH =
  /\bspf\b|openspf|\bdmarc\b|\bdkim\b|unauthenticated|not authenticated|authentication required/i;

/**
 * Reputation and spam wording: Google `not authorized to send email directly to our servers`,
 * `unusual rate of unsolicited mail`; Mail.ru `spam message rejected`; Barracuda `sending MTA's poor
 * reputation`; Trend Micro `Email Reputation`.
 */
const REPUTATION = /not authori[sz]ed to send (?:e-?mail )?directly|unsolicited|\bspam\b|reputation/i;

/**
 * The client's own name and address: Postfix `Client host rejected: cannot find your hostname` /
 * `… reverse hostname`, Google `does not have a PTR record`, GMX `Bad DNS PTR resource record` and
 * `Invalid DNS MX or A/AAAA resource record` (of the sender's domain).
 */
const CLIENT_HOST =
  /client host (?:\[[^\]]*\] )?(?:rejected|refused|blocked)|\bptr\b|\brdns\b|reverse (?:dns|hostname|lookup|dns entry)|cannot find your (?:reverse )?hostname|resource record/i;

/**
 * HELO/EHLO refusals: Postfix `Helo command rejected: need fully-qualified hostname`, Microsoft
 * `5.7.506 Access Denied, Bad HELO`.
 */
const HELO = /\b(?:helo|ehlo)\b(?: command)? (?:rejected|refused|denied)|\b(?:bad|invalid) (?:helo|ehlo)\b/i;

/**
 * The reverse-path: Postfix `Sender address rejected: …` (also when its text is `User unknown in local
 * recipient table`: the *sender* is unknown), Sendmail `Domain of sender address … does not exist`,
 * Microsoft `MailFrom domain is listed`, and `sender … rejected/blocked/…`.
 */
const SENDER =
  /sender address rejected|domain of sender address|mail ?from domain|\bsender\b[^.]{0,40}\b(?:rejected|blocked|denied|refused|invalid|unknown|banned|not (?:allowed|permitted|authori[sz]ed|accepted))\b/i;

/** Exim sender callout verification: `Verification failed for <x> … Sender verify failed`. */
const SENDER_VERIFY =
  /sender verif(?:y|ication) failed|verification failed for|could not complete sender verify/i;

/**
 * TLS demanded: Google `530 5.7.0 Must issue a STARTTLS command first`, `421 4.7.0 TLS required for
 * RCPT domain`; Exchange `530 5.7.57 … requires a secure connection`.
 */
const TLS_REQUIRED =
  /must issue a starttls|starttls (?:is )?required|\btls (?:is )?required|encryption required|requires? (?:a )?(?:secure|encrypted|tls) connection/i;

/**
 * Rates and limits: Postfix anvil `Error: too many connections/recipients from …`, `421 … Error: too many
 * errors` (`smtpd_hard_error_limit`), `452 4.5.3 Error: too many recipients`; Microsoft `452 4.5.3 Too
 * many recipients`, `Server busy`; Yahoo `421 Max message per connection reached`; Apple `deferred due
 * to excessive volume`; Yahoo `[TSS04] … unexpected volume`; IronPort `452 Too many recipients received
 * this hour`; Google `452 4.5.3 Domain policy size per transaction exceeded, please try this recipient
 * in a separate transaction`, `550 5.4.5 Daily sending quota exceeded`, `Peak SMTP relay limit exceeded`;
 * Exchange `452 … Exceed Recipient Limit`.
 */
const RATE =
  /rate[- ]limit|too many (?:recipients|connections|messages|errors|concurrent|sessions|commands|invalid|unknown)|too (?:fast|quickly|frequent)|excessive (?:volume|number|rate|connections)|unexpected volume|server busy|\bmax(?:imum)? (?:number of )?(?:messages?|recipients|connections) per\b|concurrent (?:server )?connections|recipient (?:limit|quota)|limits? for how many messages|sending quota|relay limit|separate transaction|received this hour/i;

/**
 * "Ask again later": rspamd's greylisting `Try again later`, Exim `please try later`, Barracuda
 * `please try again later`, Yandex `please come back later`.
 */
const TRY_LATER = /\b(?:try|retry|come back|resend|call back)\b[^.]{0,40}\blater\b|\btry again\b/i;

/**
 * A full mailbox: Google `The email account that you tried to reach is over quota`, `inbox is out of
 * storage space`; Apple `user is over quota`; Yandex `Mailbox size limit exceeded`; GMX (RFC 5321's 552
 * text) `exceeded storage allocation`; Dovecot LMTP `Mailbox is full`; Exchange `mailbox full`. Not
 * Postfix's `452 4.3.1 Insufficient system storage` (the server's disk), nor a bare "quota exceeded"
 * (Google `550 5.7.1 Email quota exceeded` is the *sender's* quota).
 */
const FULL =
  /over ?quota|mailbox (?:is )?full|inbox is full|out of storage space|mailbox size limit|exceeded storage allocation|(?:mailbox|user|disk|storage) quota (?:exceeded|full)|quota (?:exceeded|full) for (?:user|mailbox)/i;

/**
 * A disabled account, only when the text is about the account (Reacher's bare `disabled`/`inactive`
 * substrings also match unrelated texts): Google `The email account that you tried to reach is
 * disabled` / `is inactive`; Mail.ru `account is disabled`; Yahoo `This mailbox is disabled (554.30)`,
 * `This account has been disabled or discontinued`; Apple `inactive email address`.
 */
const DISABLED =
  /\b(?:account|mailbox|user|address)(?: that you tried to reach)? (?:is|has been|was) (?:disabled|deactivated|inactive|suspended|closed|locked|discontinued|terminated)|\b(?:account|mailbox) (?:disabled|deactivated|suspended)|\binactive (?:e-?mail address|account|mailbox|user|recipient)|disabled or discontinued/i;

/**
 * The mailbox does not exist: Postfix `User unknown in local recipient table` / `… virtual mailbox
 * table` and `undeliverable address` (`reject_unverified_recipient`); Sendmail `… User unknown`;
 * Exim `Unrouteable address` and `Unknown local part`; qmail `no mailbox here by that name`; OpenSMTPD and
 * Mimecast `Invalid Recipient`; Google `does not exist`; Apple `user does not exist`, `recipient no
 * longer on server`; Yandex `No such user!` (under 5.7.1); Barracuda `No such user`; Proofpoint `User
 * email address is marked as invalid` (under 5.7.1); Microsoft `Recipient not found by SMTP address
 * lookup`, DBEB `Recipient address rejected: Access denied` (5.4.1), Trend Micro (5.7.1) and Postfix
 * access(5) `REJECT` the same; Mail.ru `user not found`; Yahoo `doesn't have a yahoo.com account`,
 * `is no longer valid`, `mailbox not found`. A domain that "does not exist" is not a mailbox.
 */
const NOT_FOUND =
  /user unknown|unknown user|no such (?:user|mailbox|recipient|person|account|address)|(?:user|mailbox|recipient|account|addressee|address) (?:not found|unknown|is unknown)|(?<!domain )(?:does not|doesn'?t|do not) exists?|invalid (?:recipient|mailbox|user|e-?mail address|address)|unknown (?:recipient|local[- ]part|mailbox|address)|recipient (?:invalid|unknown)|unrout(?:e)?able address|no mailbox|not a valid (?:mailbox|user|recipient|e-?mail address)|marked as invalid|undeliverable address|recipient address rejected: access denied|doesn'?t have an? .{0,40}?account|no longer (?:on (?:this )?server|available|valid)|not our customer/i;

/**
 * RFC 5321 §4.2.2's own text for 550, "Requested action not taken: mailbox unavailable (e.g., mailbox
 * not found, no access, or command rejected for policy reasons)": ambiguous by definition. GMX and
 * Web.de use it bare for unknown users and for policy; Outlook.com with 5.5.0 for unknown users.
 */
const MAILBOX_UNAVAILABLE = /mailbox (?:is )?(?:unavailable|not available)|requested action not taken/i;

// ---------------------------------------------------------------------------------------------------

/** The ordered rules. The first match decides; `classifyReply()` falls back to `unexpected_reply`. */
export const REPLY_RULES = [
  // 1. Positive replies. RFC 5321 §4.3.2: 250/251 are RCPT's success replies.
  { id: 'rcpt-accepted', stages: ['rcpt'], codes: [250, 251], reason: 'accepted' },
  // RFC 5321 §3.5.3: 252 "Cannot VRFY user, but will accept message and attempt delivery" — the server
  // says it did not verify: like an accept-all server, its acceptance proves nothing.
  { id: 'rcpt-cannot-verify', stages: ['rcpt'], codes: [252], reason: 'accept_all_provider' },
  // Any other 2xx, or a 3xx (354 belongs to DATA), is not a reply RCPT can give (RFC 5321 §4.3.2).
  { id: 'rcpt-odd-positive', stages: ['rcpt'], classes: [2, 3], reason: 'protocol_error' },
  // A positive reply at another stage says nothing about a mailbox.
  { id: 'positive-outside-rcpt', classes: [2, 3], reason: 'unexpected_reply' },

  // 2. Stages whose refusals say nothing about the mailbox.
  // RFC 3207 §4: 454 "TLS not available due to temporary reason", 501/5xx to STARTTLS.
  { id: 'starttls-refused', stages: ['starttls'], reason: 'tls_error' },
  { id: 'outside-transaction', stages: ['connect', 'rset', 'quit'], reason: 'unexpected_reply' },

  // 3. Greylisting named as such, before anything else reads "Recipient address rejected" (§B.1.1).
  { id: 'greylisted', classes: [4], text: GREYLIST, reason: 'greylisted' },
  // Mimecast's greylisting reply (Mimecast KB DOC-1369#451; triplet retry 1 min to 12 h).
  {
    id: 'mimecast-greylisting',
    classes: [4],
    text: /internal resource temporarily unavailable/i,
    reason: 'greylisted',
  },
  // Proofpoint / Postfix `reject_unverified_recipient`: `421 4.1.1 … unverified address: Address
  // verification in progress` — the answer is not known yet; ask again (Proofpoint and Postfix's verify(8)).
  {
    id: 'verification-in-progress',
    classes: [4],
    text: /unverified address|verification in progress/i,
    unlessText: /sender address rejected/i,
    reason: 'greylisted',
  },
  // Yahoo `421 4.7.0 [GL01] Message from (ip) temporarily deferred` (postmaster.yahooinc.com/error-codes):
  // deferral of an unknown sending IP, retried later.
  { id: 'yahoo-gl01', classes: [4], text: /\[GL01\]/i, reason: 'greylisted' },

  // 4. Rate limits whose text mentions the IP or its reputation, so they must precede the sender rules.
  // Microsoft 4.7.500–4.7.699 "Server busy, please try again later", 4.7.650/4.7.651 "temporarily rate
  // limited due to IP reputation" (Exchange Online NDR reference; sisimai rhost-microsoft-05).
  { id: 'microsoft-throttling', classes: [4], enhanced: /^7\.[56]\d\d$/, reason: 'rate_limited' },
  // Google 450 4.2.1 / 550 5.2.1 "The user you are trying to contact is receiving mail at a rate that
  // prevents additional messages from being delivered" (p=ReceivingRate, p=ReceivingRatePerm), Yahoo
  // `450 User is receiving mail too quickly`. About the recipient's inflow: it suggests the mailbox
  // exists (Reacher reads it so) but proves nothing either way, and the 5xx form is still a rate limit.
  {
    id: 'recipient-receiving-rate',
    classes: [4, 5],
    text: /receiving mail (?:at a rate|too quickly)|receivingrate/i,
    reason: 'rate_limited',
  },
  // Yandex `450 4.2.1 The recipient has exceeded message rate limit`; Microsoft 5.2.121/5.2.122 "The
  // recipient has exceeded their limit for the number of messages they can receive per hour".
  {
    id: 'recipient-receive-limit',
    classes: [4, 5],
    text: /recipient has exceeded|receive limit|messages they can receive/i,
    reason: 'rate_limited',
  },
  // Yahoo `421 4.7.0 [TSS04] Messages from ip temporarily deferred due to unexpected volume or user
  // complaints` (postmaster.yahooinc.com/error-codes): slow down, per the brief and §B.1.4.
  { id: 'yahoo-tss04', text: /\[TSS04\]/i, reason: 'rate_limited' },
  // Outlook.com legacy `421 RP-001 … We have limits for how many messages can be sent per hour`.
  { id: 'outlook-rp-limits', text: /\bRP-00\d\b/, reason: 'rate_limited' },

  // 5. The sender: never "mailbox not found" (docs/verdicts.md, "Replies about the sender").
  { id: 'tls-required', text: TLS_REQUIRED, reason: 'tls_error' },
  { id: 'sender-verify-failed', text: SENDER_VERIFY, reason: 'sender_blocked' },
  { id: 'relay-denied', text: RELAY, reason: 'sender_blocked' },
  { id: 'blocklisted', text: BLOCKLIST, reason: 'sender_blocked' },
  // Yahoo `[TSS09]` permanent deferral, `[TS01-03]`, `[BL21-23]` blocklists, `[DM..]`/`[RL..]`
  // (postmaster.yahooinc.com/error-codes).
  { id: 'yahoo-sender-codes', text: /\[(?:TSS?|BL|DM|RL)\d\d\]/i, reason: 'sender_blocked' },
  // Microsoft EOP access-denied range: 5.7.501–503, 5.7.505–5.7.799 (5.7.506 bad HELO, 5.7.511 banned
  // sender, 5.7.513 customer block list, 5.7.606–649 banned sending IP, 5.7.7xx tenant thresholds,
  // 5.7.750 unregistered domains) — 5.7.504 is the DBEB "recipient … isn't valid" and is left out.
  {
    id: 'microsoft-access-denied',
    classes: [5],
    enhanced: /^7\.(?:50[1-35-9]|5[1-9]\d|[67]\d\d)$/,
    reason: 'sender_blocked',
  },
  // Outlook.com / Microsoft anti-spam codes: S3140/S3150 IP block list, S8001/S8002 Spamhaus HELO/MAIL
  // FROM, legacy SC-00x/DY-00x/OU-00x ("does not relay dynamically-assigned IP ranges").
  {
    id: 'microsoft-sender-codes',
    text: /\(S(?:3140|3150|8001|8002)\)|\b(?:SC|DY|OU)-00\d\b/,
    reason: 'sender_blocked',
  },
  // RFC 7372 §3 (X.7.23 SPF, X.7.24 SPF error, X.7.25 reverse DNS, X.7.26 multiple authentication
  // failures), RFC 7505 §4.2 (X.7.27 sender address has null MX), Google 4.7.28 "unusual rate of
  // unsolicited mail originating from your IP"; Google 4.7.23 / 5.7.25 PTR.
  { id: 'sender-auth-codes', classes: [4, 5], enhanced: /^7\.2[3-8]$/, reason: 'sender_blocked' },
  // RFC 3463 X.1.7 "Bad sender's mailbox address syntax", X.1.8 "Bad sender's system address".
  { id: 'sender-address-codes', classes: [4, 5], enhanced: /^1\.[78]$/, reason: 'sender_blocked' },
  { id: 'sender-rejected', text: SENDER, reason: 'sender_blocked' },
  { id: 'client-host-rejected', text: CLIENT_HOST, reason: 'sender_blocked' },
  { id: 'helo-rejected', text: HELO, reason: 'sender_blocked' },
  { id: 'sender-authentication', text: SENDER_AUTH, reason: 'sender_blocked' },
  { id: 'sender-reputation', text: REPUTATION, reason: 'sender_blocked' },
  { id: 'policy-block', text: POLICY_BLOCK, reason: 'sender_blocked' },

  // 6. Other rate limits. RFC 3463 X.5.3 "Too many recipients", X.4.5 "Mail system congestion".
  { id: 'rate-limit', classes: [4, 5], text: RATE, reason: 'rate_limited' },
  { id: 'too-many-recipients-code', classes: [4, 5], enhanced: /^(?:5\.3|4\.5)$/, reason: 'rate_limited' },

  // 7. 5xx at the session stages: about the client, never a mailbox.
  // RFC 7504 §3: 521 "Host does not accept mail", sent instead of (or in reply to the first command
  // after) the greeting.
  {
    id: 'host-rejects-mail',
    codes: [521],
    stages: ['greeting', 'ehlo', 'helo', 'mail'],
    reason: 'domain_rejects_mail',
  },
  // RFC 5321 §4.2.3: 500–504 are syntax and sequence errors, 555 unrecognised MAIL parameters (the
  // verifier falls back to HELO after an EHLO 500/502, §4.1.4).
  {
    id: 'session-command-error',
    codes: [500, 501, 502, 503, 504, 555],
    stages: ['greeting', 'ehlo', 'helo', 'mail'],
    reason: 'protocol_error',
  },
  // RFC 5321 §3.1: a 554 greeting means "no SMTP service here" for this client; any other 5xx before
  // RCPT refuses the client or its MAIL FROM (GMX `554-… Nemesis ESMTP Service not available`).
  {
    id: 'session-refused',
    classes: [5],
    stages: ['greeting', 'ehlo', 'helo', 'mail'],
    reason: 'sender_blocked',
  },

  // 8. A full mailbox: the one 4xx that says the mailbox exists. RFC 3463 X.2.2 "Mailbox full".
  { id: 'mailbox-full-code', classes: [4, 5], stages: ['rcpt'], enhanced: /^2\.2$/, reason: 'mailbox_full' },
  { id: 'mailbox-full-text', classes: [4, 5], stages: ['rcpt'], text: FULL, reason: 'mailbox_full' },

  // 9. The rest of 4xx: never undeliverable (RFC 5321 §4.2.1: "the error condition is temporary").
  // A 421 closes the channel (RFC 5321 §3.8); asking to come back later is a throttle.
  { id: 'closing-try-later', codes: [421], text: TRY_LATER, reason: 'rate_limited' },
  { id: 'transient-try-later', classes: [4], text: TRY_LATER, reason: 'greylisted' },
  { id: 'transient-other', classes: [4], reason: 'unexpected_reply' },

  // 10. 5xx at RCPT.
  // RFC 7504 §3 / RFC 7505 §4.1: 556 "Domain does not accept mail" (`556 5.1.10 Recipient address has
  // null MX`), 521 "Host does not accept mail".
  { id: 'domain-rejects-mail', codes: [521, 556], stages: ['rcpt'], reason: 'domain_rejects_mail' },
  // Outlook.com: `550 5.5.0 Requested action not taken: mailbox unavailable` is its unknown-user reply;
  // its blocks carry S3150/SC-001 codes (caught above).
  {
    id: 'outlook-mailbox-unavailable',
    providers: ['outlook'],
    classes: [5],
    stages: ['rcpt'],
    text: MAILBOX_UNAVAILABLE,
    reason: 'mailbox_not_found',
  },
  // Proton Mail `550 5.5.1 Protocol error` at RCPT: tied to the client's HELO identity
  // (jeremydumais/CPP-SMTPClient-library #57), not to the recipient.
  {
    id: 'proton-protocol-error',
    providers: ['proton'],
    classes: [5],
    stages: ['rcpt'],
    enhanced: /^5\.1$/,
    reason: 'sender_blocked',
  },
  // Zoho `552 5.1.1 <x> Mailbox delivery failure policy error`: listed for disabled *and* full mailboxes
  // (docs/verdicts.md), two different verdicts; not guessed.
  {
    id: 'zoho-delivery-policy',
    classes: [5],
    stages: ['rcpt'],
    text: /mailbox delivery (?:failure|restricted)[^.]{0,20}policy/i,
    reason: 'unexpected_reply',
  },
  // Yandex `550 5.7.1 Policy rejection on the target address`: a policy about the recipient, not a
  // statement that it does not exist; no public source maps it to unknown users. Not guessed.
  {
    id: 'yandex-policy-on-target',
    classes: [5],
    stages: ['rcpt'],
    text: /policy rejection on the target address/i,
    reason: 'unexpected_reply',
  },
  { id: 'mailbox-disabled', classes: [5], stages: ['rcpt'], text: DISABLED, reason: 'mailbox_disabled' },
  // RFC 3463 X.1.2 "Bad destination system address: … does not exist or is incapable of accepting mail"
  // (Google `553 5.1.2 We weren't able to find the recipient domain`).
  {
    id: 'destination-system-code',
    classes: [5],
    stages: ['rcpt'],
    enhanced: /^1\.2$/,
    reason: 'domain_rejects_mail',
  },
  // RFC 3463 X.1.3 "Bad destination mailbox address syntax": the server could not parse what we sent
  // (an address the syntax layer accepted); a protocol disagreement, not a missing mailbox.
  {
    id: 'recipient-syntax-code',
    classes: [5],
    stages: ['rcpt'],
    enhanced: /^1\.3$/,
    reason: 'protocol_error',
  },
  {
    id: 'mailbox-not-found-text',
    classes: [5],
    stages: ['rcpt'],
    text: NOT_FOUND,
    unlessText: /\bdomain\b.{0,60}(?:does not|doesn'?t) exist/i,
    reason: 'mailbox_not_found',
  },
  // RFC 3463 X.1.0 other address status (IronPort `550 #5.1.0 Address rejected.`), X.1.1 bad destination
  // mailbox, X.1.6 "mailbox has moved, no forwarding address" (Apple `550 5.1.6 recipient no longer on
  // server`); RFC 5248 X.1.10 "Recipient address has null MX" (Microsoft uses it for
  // `RESOLVER.ADR.RecipientNotFound`).
  {
    id: 'mailbox-not-found-code',
    classes: [5],
    stages: ['rcpt'],
    enhanced: /^1\.(?:0|1|6|10)$/,
    reason: 'mailbox_not_found',
  },
  // RFC 5321 §3.4: 551 "User not local; please try <forward-path>": no mailbox here.
  { id: 'user-not-local', codes: [551], stages: ['rcpt'], reason: 'mailbox_not_found' },
  // The ambiguous text (GMX/Web.de bare, or Outlook.com's without the provider known). Another
  // recipient accepted in the same session means the server is not refusing *us*, which leaves the
  // recipient as the reason; without that evidence it is not guessed (docs/verdicts.md, "Ambiguous replies"). Under an
  // X.7.x code the server itself calls it policy, which evidence about the sender does not undo.
  {
    id: 'mailbox-unavailable-confirmed',
    classes: [5],
    stages: ['rcpt'],
    text: MAILBOX_UNAVAILABLE,
    unlessEnhanced: /^7\./,
    requires: 'otherRecipientAccepted',
    reason: 'mailbox_not_found',
  },
  {
    id: 'mailbox-unavailable-ambiguous',
    classes: [5],
    stages: ['rcpt'],
    text: MAILBOX_UNAVAILABLE,
    unlessEnhanced: /^7\./,
    reason: 'unexpected_reply',
  },

  // 11. Leftover codes. RFC 3463 X.7.x "Security or policy status" (X.7.1: "the sender is not
  // authorized to send to the destination"), e.g. Apple `550 5.7.1 [CS01] Message rejected due to local
  // policy`, Microsoft `RESOLVER.RST.NotAuthorized`.
  { id: 'policy-code', classes: [5], enhanced: /^7\.\d{1,3}$/, reason: 'sender_blocked' },
  // RFC 3463 X.5.x "Mail delivery protocol status"; RFC 5321 §4.2.3 500–504, 555 (MAIL/RCPT parameters).
  { id: 'protocol-code', classes: [5], enhanced: /^5\.\d{1,3}$/, reason: 'protocol_error' },
  { id: 'protocol-reply-code', codes: [500, 501, 502, 503, 504, 555], reason: 'protocol_error' },
  // A bare 550/553/554 with text that names neither the mailbox nor the sender: not guessed.
  { id: 'permanent-other', classes: [5], reason: 'unexpected_reply' },
] as const satisfies readonly ReplyRule[];

/** The id of a rule in `REPLY_RULES`, plus the two decided outside the table. */
export type ReplyRuleId = (typeof REPLY_RULES)[number]['id'] | 'code-out-of-range' | 'unrecognised';
