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
import type { ReplyCategory, ReplyCategoryInfo, ReplyRule } from './classification.js';

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
 * `on our block list (S3150)`, GMX `IP address is block listed`; a client refused as an open relay
 * (`no access from mail server [192.0.2.1] which is an open relay`: open-relay lists such as ORDB).
 */
const BLOCKLIST =
  /spamhaus|spamcop|barracudacentral|cloudmark|prs\.proofpoint|ipcheck\.proofpoint|dnsbl|\brbl\b|blocked using|block ?list|black ?list|\blisted (?:at|in|on|by)\b|\bis listed\b|\bsorbs\b|abuseat|uceprotect|mail-abuse|\bpsbl\b|abusix|senderbase|\bsbrs\b|\b(?:is|as) an open relay\b/i;

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
 * restrictions`, Google `IP not in whitelist for RCPT domain`, RFC 5321 §4.2.2's "command rejected for policy
 * reasons" (`550 Denied by policy`, Yahoo Japan `554 Message not allowed - … not accepted for policy reasons`), Barracuda `Policy Rejection- Abuse` (but not Yandex's ambiguous `Policy rejection on
 * the target address`), Microsoft `Access denied, banned sender` / `Access denied, bad HELO`, and any
 * `blocked` / `banned` wording, which no server uses for a mailbox that does not exist.
 */
const POLICY_BLOCK =
  /administrative prohibition|denied by policy|(?:rejected|refused|not accepted) for policy reasons|envelope (?:blocked|rejected)|host network not allowed|policy restrictions|policy rejection(?! on the target)|(?:local|security|site) polic(?:y|ies)|access denied, (?:banned|bad)|\bblocked\b|\bbanned\b|not allowed to (?:connect|send)|not in (?:the )?(?:white|allow) ?list|\b(?:your|sending|client|remote) (?:ip|host|server|network)\b[^.]{0,40}\b(?:not allowed|refused|rejected|denied)/i;

/**
 * Authentication of the sender: SPF (Postfix policyd-spf `openspf.net/Why`), DMARC, DKIM, Google
 * `5.7.26 … unauthenticated`, Microsoft `5.7.57 Client not authenticated`, and a server asking the client to
 * use SMTP AUTH (RFC 4954 §6 `530 5.7.0 Authentication required`; `Please turn on SMTP Authentication in
 * your mail client`).
 */
const SENDER_AUTH =
  /unauthenticated|not authenticated|authentication required|turn on smtp auth|smtp auth(?:entication)? (?:is )?(?:required|needed)/i;

/**
 * Reputation and spam wording: Google `not authorized to send email directly to our servers`,
 * `unusual rate of unsolicited mail`; Mail.ru `spam message rejected`; Barracuda `sending MTA's poor
 * reputation`; Trend Micro `Email Reputation`.
 */
const REPUTATION = /not authori[sz]ed to send (?:e-?mail )?directly|unsolicited|\bspam\b|reputation/i;

/**
 * The client's own name and address: Postfix `Client host rejected: cannot find your hostname` /
 * `… reverse hostname`, Google `does not have a PTR record`, GMX `Bad DNS PTR resource record` and
 * `Invalid DNS MX or A/AAAA resource record` (of the sender's domain), Sendmail's FEATURE(`require_rdns')
 * `Access denied. IP name lookup failed [192.0.2.1]` (cf/feature/require_rdns.m4).
 */
const RDNS =
  /\bptr\b|\brdns\b|reverse (?:dns|hostname|lookup|dns entry)|cannot find your (?:reverse )?hostname|resource record|ip name lookup failed/i;
/**
 * The client's IP address judged against the sender's domain: a reply saying the domain "mismatches client
 * ip" or that the IP is "invalid for sending mail of domain" reports the check RFC 7208 §2.4 defines for
 * SPF (is this client IP address allowed to send for the MAIL FROM domain?) or a receiver's own variant
 * of it (an "MX+ mismatch" refusal: the sending IP must be an MX of the envelope domain or have reverse DNS
 * within it). Either way the sending host and its domain are refused, never a mailbox.
 */
const SENDER_IP_MISMATCH =
  /\bmismatch(?:es|ed)? (?:the )?(?:client|sending|connecting) ip\b|\b(?:invalid|unauthori[sz]ed) ip (?:address )?for sending (?:e-?)?mail\b/i;
/** Postfix `Client host rejected: …` for any other client restriction (access(5), `reject_unknown_client_hostname` aside). */
const CLIENT_HOST = /client host (?:\[[^\]]*\] )?(?:rejected|refused|blocked)/i;

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
 * RCPT domain`, `421 4.7.29 … rate limited because you're not using a TLS connection` and `550 5.7.29
 * … blocked because it wasn't sent over a TLS connection` (its bulk-sender requirements); Exchange
 * `530 5.7.57 … requires a secure connection`.
 */
const TLS_REQUIRED =
  /must issue a starttls|starttls (?:is )?required|\btls (?:is )?required|encryption required|requires? (?:a )?(?:secure|encrypted|tls) connection|(?:\bnot|n't) (?:using|sent over) (?:a )?tls connection/i;

/**
 * Rates and limits: Postfix anvil `Error: too many connections/recipients from …`, `421 … Error: too many
 * errors` (`smtpd_hard_error_limit`), `452 4.5.3 Error: too many recipients`; Microsoft `452 4.5.3 Too
 * many recipients`, `Server busy`; Yahoo `421 Max message per connection reached`; Apple `deferred due
 * to excessive volume`; Yahoo `[TSS04] … unexpected volume`; IronPort `452 Too many recipients received
 * this hour`; Google `452 4.5.3 Domain policy size per transaction exceeded, please try this recipient
 * in a separate transaction`, `550 5.4.5 Daily sending quota exceeded`, `Peak SMTP relay limit exceeded`;
 * Exchange `452 … Exceed Recipient Limit`; Postfix postscreen `421 4.3.2 All server ports are busy`;
 * Exchange Online `5.2.2 Submission quota exceeded` (the sender's recipient or message rate limit, not a
 * full mailbox, whatever its X.2.2 says).
 */
const RATE =
  /rate[- ]limit|too many (?:recipients|connections|messages|errors|concurrent|sessions|commands|invalid|unknown)|too (?:fast|quickly|frequent)|excessive (?:volume|number|rate|connections)|unexpected volume|server busy|\bmax(?:imum)? (?:number of )?(?:messages?|recipients|connections) per\b|concurrent (?:server )?connections|recipient (?:limit|quota)|limits? for how many messages|sending quota|relay limit|separate transaction|received this hour|all server ports are busy|submission ?quota/i;

/**
 * "Ask again later": rspamd's greylisting `Try again later`, Exim `please try later`, Barracuda
 * `please try again later`, Yandex `please come back later`.
 */
const TRY_LATER = /\b(?:try|retry|come back|resend|call back)\b[^.]{0,40}\blater\b|\btry again\b/i;

/**
 * A full mailbox: Google `The email account that you tried to reach is over quota`, `inbox is out of
 * storage space`; Apple `user is over quota`; Yandex `Mailbox size limit exceeded`; GMX (RFC 5321's 552
 * text) `exceeded storage allocation`; Dovecot LMTP `Mailbox is full`; Exchange `mailbox full`; Yandex
 * `Mailbox size exceeded`, `Account is full`. Not Postfix's `452 4.3.1 Insufficient system storage` (the server's disk), nor a bare "quota exceeded"
 * (Google `550 5.7.1 Email quota exceeded` is the *sender's* quota).
 */
const FULL =
  /over ?quota|mailbox (?:is )?full|mailbox size exceeded|account is full|inbox is full|out of storage space|mailbox size limit|exceeded storage allocation|(?:mailbox|user|disk|storage) quota (?:exceeded|full)|quota (?:exceeded|full) for (?:user|mailbox)/i;

/**
 * A disabled account, only when the text is about the account (Reacher's bare `disabled`/`inactive`
 * substrings also match unrelated texts): Google `The email account that you tried to reach is
 * disabled` / `is inactive`; Mail.ru `account is disabled`; Yahoo `This mailbox is disabled (554.30)`,
 * `This account has been disabled or discontinued`; Apple `inactive email address`; Coremail/NetEase
 * `User suspended`, `user is locked`; frozen and locked accounts (`Mailbox is frozen`, `User <address>
 * temporarily locked`); RFC 4954 §6's X.7.13 text `User account disabled` and its recipient form
 * `Disabled recipient address`.
 */
const DISABLED =
  /\b(?:account|mailbox|user|address)(?: that you tried to reach)? (?:is|has been|was) (?:temporarily )?(?:disabled|deactivated|inactive|suspended|closed|locked|frozen|discontinued|terminated)|\b(?:account|mailbox|user) (?:disabled|deactivated|suspended|frozen|locked)\b|\binactive (?:e-?mail address|account|mailbox|user|recipient)|disabled or discontinued|\bdisabled (?:recipient|account|mailbox|user)\b|\buser \S+@\S+ (?:is )?(?:temporar(?:il)?y )?(?:locked|frozen|suspended|disabled)\b/i;

/**
 * The recipient's account blocked by its provider, said in so many words: Yandex documents its `550
 * 5.7.1 Policy rejection on the target address` as "your recipient's account has been blocked due to
 * User Agreement violations"; `The recipient account is blocked` (Orange). Read before the policy
 * wording, which `blocked` would otherwise claim for the sender.
 */
const RECIPIENT_BLOCKED =
  /\brecipient(?:'s)? (?:e-?mail )?(?:account|mailbox) (?:is|has been|was) (?:temporarily )?(?:blocked|locked|frozen|suspended|disabled)\b/i;

/**
 * The mailbox does not exist: Postfix `User unknown in local recipient table` / `… virtual mailbox
 * table` and `undeliverable address` (`reject_unverified_recipient`); Sendmail `… User unknown`;
 * Exim `Unrouteable address` and `Unknown local part`; qmail `no mailbox here by that name`; OpenSMTPD and
 * Mimecast `Invalid Recipient`; Google `does not exist`; Apple `user does not exist`, `recipient no
 * longer on server`; Yandex `No such user!` (under 5.7.1); Barracuda `No such user`; Proofpoint `User
 * email address is marked as invalid` (under 5.7.1); Microsoft `Recipient not found by SMTP address
 * lookup`, DBEB `Recipient address rejected: Access denied` (5.4.1), Trend Micro (5.7.1) and Postfix
 * access(5) `REJECT` the same; Mail.ru `user not found`; Yahoo `doesn't have a yahoo.com account`,
 * `is no longer valid`, `mailbox not found`; Apple `unknown or illegal alias`; NTT PC InfoSphere `550 can't
 * accept user... (#5.7.1)` (its documented reply for an address that does not exist). A domain that
 * "does not exist" is not a mailbox.
 */
const NOT_FOUND =
  /user unknown|unknown user|no such (?:user|mailbox|recipient|person|account|address)|(?:user|mailbox|recipient|account|addressee|address) (?:not found|unknown|is unknown)|(?<!domain )(?:does not|doesn'?t|do not) exists?|invalid (?:recipient|mailbox|user|e-?mail address|address)|unknown (?:recipient|local[- ]part|mailbox|address)|recipient (?:invalid|unknown)|unrout(?:e)?able address|no mailbox|not a valid (?:mailbox|user|recipient|e-?mail address)|marked as invalid|undeliverable address|recipient address rejected: access denied|recipientnotfound|not found by smtp address lookup|doesn'?t have an? .{0,40}?account|no longer (?:on (?:this )?server|available|valid)|not our customer|unknown or illegal alias|can'?t accept user/i;

/**
 * RFC 5321 §4.2.2's own text for 550, "Requested action not taken: mailbox unavailable (e.g., mailbox
 * not found, no access, or command rejected for policy reasons)": ambiguous by definition. GMX and
 * Web.de use it bare for unknown users and for policy; Outlook.com with 5.5.0 for unknown users.
 */
/**
 * A domain or host name (not an address) that "does not exist": `553 mail.example.com does not exist`,
 * `Domain example.com does not exist`. RFC 3463 X.1.2, not a mailbox.
 */
const HOST_DOES_NOT_EXIST = /(?:^|[\s<])(?:[a-z0-9-]+\.){2,}[a-z]{2,}\.?>? (?:does not|doesn'?t) exist/i;
/** Either form: not the mailbox-not-found rule's (a domain "that does not exist here" is left unguessed). */
const DOMAIN_DOES_NOT_EXIST = new RegExp(
  `\\bdomain\\b.{0,60}(?:does not|doesn'?t) exist|${HOST_DOES_NOT_EXIST.source}`,
  'i',
);

const MAILBOX_UNAVAILABLE = /mailbox (?:is )?(?:unavailable|not available)|requested action not taken/i;

/** Authentication of the sender, by mechanism: RFC 7208 SPF (Postfix policyd-spf `openspf.net/Why`). */
const SPF = /\bspf\b|openspf|sender policy framework/i;
/** RFC 6376 DKIM (Google `5.7.27 … DKIM`, Yahoo/AOL "DKIM signature"). */
const DKIM = /\bdkim\b|domainkeys/i;
/**
 * RFC 7489 DMARC (Google `5.7.26 Unauthenticated email from … is not accepted due to domain's DMARC
 * policy`), and its identifier alignment (§3.1) named without the word: Google `4.7.32`/`5.7.32 … the
 * From: header (RFC5322) in this message isn't aligned with either the authenticated SPF or DKIM
 * organizational domain`, which names DKIM and SPF only as what the From: domain failed to align with.
 */
const DMARC = /\bdmarc\b|(?:\bnot|n't) aligned with/i;

/**
 * Spam named in a refusal of the *message* (SpamAssassin/rspamd/Amavis `Message rejected as spam`,
 * Mail.ru `spam message rejected`, Google `550 5.7.1 … likely unsolicited mail`, Proofpoint `Message
 * rejected due to local spam policy`, Yandex `Message rejected under suspicion of SPAM`, `Sorry, message looks
 * like SPAM to me`). The same reason as the sender rules; a finer category.
 */
const SPAM_CONTENT =
  /\b(?:message|content|mail|e-?mail)\b[^.]{0,40}\b(?:spam|junk)\b|\bspam\b[^.]{0,20}\b(?:detected|content|message|score|policy)\b|(?:looks|considered|classified|identified|detected|flagged|rejected) (?:as |like )?(?:spam|junk)\b|likely unsolicited|suspicion of spam|looks like spam/i;

/**
 * Malware in the message: ClamAV/Amavis `554 5.7.0 Reject, id=… - INFECTED: Eicar-Test-Signature`,
 * Exim malware ACL `This message contains a virus`, Microsoft `5.7.1 … malware`, Google `552 5.7.0 This
 * message was blocked because its content presents a potential security issue`.
 */
const VIRUS = /\bvirus\b|\bmalware\b|\binfected\b|\btrojan\b|content presents a potential security issue/i;

/**
 * The message breaks the format rules: Google `550 5.7.1 … this message is not RFC 5322 compliant`,
 * `Messages missing a valid address in the From: header … are not accepted`, `Messages with multiple
 * addresses in From: header are not accepted`, `554 5.6.0 Mail message is malformed`.
 */
const FORMAT =
  /\brfc[- ]?5322\b[^.]{0,20}\bcomplian|\bFrom: header\b|multiple addresses in From|message is malformed|malformed message/i;

/**
 * The message is too big: RFC 1870 §6 (`552 5.3.4 Message size exceeds fixed maximum message size`,
 * Postfix `message_size_limit`), Exim `message too big`, Google `552 5.3.4 Your message exceeded
 * Google's message size limits`, Microsoft `5.3.4 … message size exceeds`.
 */
const SIZE =
  /message (?:size|length) exceeds|(?:message|mail|e-?mail)(?: is)? too (?:large|big|long)|message exceeded [^.]{0,40}size|exceeds? (?:the )?(?:fixed |maximum |max )*(?:message )?size|size limit exceeded for (?:this )?message/i;

/**
 * Delivery gave up after retrying (RFC 3463 X.4.7 "Delivery time expired"): Postfix `delivery temporarily
 * suspended … (message expired)` / `Message expired`, Exim `retry timeout exceeded`, Sendmail `Cannot
 * send message for 5 days`, Exchange `4.4.7 Message expired`.
 */
const EXPIRED =
  /message expired|delivery time expired|retry time(?:out)? (?:not reached|exceeded)|too long in (?:the )?queue|cannot send message for \d+ days?/i;

/** Stages whose refusal may be about the recipient: RCPT, and DATA (per-recipient replies after the message). */
const RECIPIENT_STAGES = ['rcpt', 'data'] as const;

// ---------------------------------------------------------------------------------------------------

/**
 * What each category says and what to do about it: the side and action that `explainReply()` reports.
 * Rules may override the advice (a provider's own delisting page) or the side.
 */
export const REPLY_CATEGORIES = {
  accepted: {
    side: null,
    action: 'none',
    meaning: 'The server accepted the command.',
    advice: 'Nothing to do.',
  },
  accepted_unverified: {
    side: null,
    action: 'none',
    meaning:
      'The server will accept the message but says it did not check the mailbox (RFC 5321 §3.5.3): the address may or may not exist.',
    advice: 'Nothing to do now; a later bounce would settle it.',
  },
  mailbox_unknown: {
    side: 'recipient',
    action: 'remove_address',
    meaning: 'The mailbox does not exist at this domain.',
    advice: 'Remove the address (or correct a typo); sending again will bounce again.',
  },
  mailbox_unknown_temporary: {
    side: 'recipient',
    action: 'retry_later',
    meaning:
      'The server says the mailbox does not exist, but refuses only for now (a 4xx, RFC 3463 X.1.1 in the persistent transient class): Postfix, for one, answers so for a recipient its address verification found to bounce and for an unknown user under soft_bounce.',
    advice:
      'Do not remove the address on this reply alone: send again later; if the same answer comes back for days, treat the address as gone.',
  },
  mailbox_disabled: {
    side: 'recipient',
    action: 'remove_address',
    meaning: 'The mailbox exists but is disabled, suspended, locked or frozen: it does not receive mail.',
    advice:
      'Remove the address (or suppress it for months); accounts are rarely re-enabled, and mailing them hurts your reputation.',
  },
  mailbox_full: {
    side: 'recipient',
    action: 'retry_later',
    meaning: 'The mailbox exists but is over its storage quota.',
    advice:
      'Retry later; if it is still full after several days the mailbox is probably abandoned: suppress the address.',
  },
  mailbox_moved: {
    side: 'recipient',
    action: 'remove_address',
    meaning: 'The mailbox has moved or is no longer at this server (RFC 3463 X.1.6, RFC 5321 551).',
    advice: 'Remove the address; use the new address if the reply names one.',
  },
  mailbox_unavailable: {
    side: null,
    action: 'investigate',
    meaning:
      'RFC 5321\'s own 550 text ("mailbox unavailable: mailbox not found, no access, or command rejected for policy reasons"): it does not say which.',
    advice:
      'Do not remove the address on this reply alone: check whether other recipients at the same server were accepted, or verify it.',
  },
  recipient_refused: {
    side: 'recipient',
    action: 'contact_postmaster',
    meaning: 'The receiving site refused this recipient by a policy of its own; the mailbox may well exist.',
    advice: 'Reach the recipient by another channel, or ask the receiving postmaster.',
  },
  recipient_syntax: {
    side: 'recipient',
    action: 'remove_address',
    meaning: 'The receiving server says the recipient address is not valid syntax (RFC 3463 X.1.3).',
    advice: 'Correct the address; as written it cannot be delivered there.',
  },
  domain_unknown: {
    side: 'recipient',
    action: 'remove_address',
    meaning: 'The recipient domain does not exist or has no mail server (RFC 3463 X.1.2).',
    advice: 'Remove the address or correct the domain (a typo?).',
  },
  domain_no_mail: {
    side: 'recipient',
    action: 'remove_address',
    meaning: 'The domain or host says it accepts no mail at all (RFC 7504 521/556, RFC 7505 null MX).',
    advice: 'Remove the address: this domain does not receive mail.',
  },
  relay_denied: {
    side: 'sender',
    action: 'contact_postmaster',
    meaning:
      'The server refused to relay: it does not consider itself the destination for this domain, or does not trust the client.',
    advice:
      "Check the recipient domain's MX records and that you are sending to the right server; it says nothing about the mailbox.",
  },
  sender_blocklisted: {
    side: 'sender',
    action: 'request_delisting',
    meaning: 'The sending IP address or domain is on a blocklist the receiver uses.',
    advice:
      'Find why (compromised host, spam complaints, dynamic IP), fix it, then ask the blocklist for delisting.',
  },
  sender_spf: {
    side: 'sender',
    action: 'fix_sender',
    meaning: "The sender's SPF record (RFC 7208) does not authorise the sending IP address.",
    advice:
      "Add the sending IP address (or its provider's include:) to the SPF record of the MAIL FROM domain.",
  },
  sender_dkim: {
    side: 'sender',
    action: 'fix_sender',
    meaning: 'The message has no valid DKIM signature (RFC 6376) where the receiver requires one.',
    advice: 'Sign outgoing mail with DKIM for the From domain and publish the key.',
  },
  sender_dmarc: {
    side: 'sender',
    action: 'fix_sender',
    meaning: "The message failed the From domain's DMARC policy (RFC 7489).",
    advice: 'Align SPF or DKIM with the From domain, or change the DMARC policy.',
  },
  sender_authentication: {
    side: 'sender',
    action: 'fix_sender',
    meaning: 'The receiver requires authenticated mail (SPF, DKIM, DMARC) and this sender did not pass.',
    advice: 'Publish SPF, sign with DKIM and publish a DMARC record for the sending domain.',
  },
  sender_rdns: {
    side: 'sender',
    action: 'fix_sender',
    meaning: 'The sending IP address has no usable reverse DNS (PTR) record, or it does not match.',
    advice: 'Ask whoever owns the IP address for a PTR record naming the host, which resolves back to it.',
  },
  sender_helo: {
    side: 'sender',
    action: 'fix_sender',
    meaning: 'The server refused the name the client gave in HELO/EHLO.',
    advice: 'Use a fully-qualified host name that resolves to the sending IP address as the HELO name.',
  },
  sender_reputation: {
    side: 'sender',
    action: 'contact_postmaster',
    meaning: 'The receiver refused mail because of the sending IP address or domain reputation.',
    advice:
      "Slow down, clean the list, check complaint rates, and use the provider's postmaster/sender support pages.",
  },
  sender_address: {
    side: 'sender',
    action: 'fix_sender',
    meaning: 'The server refused the envelope sender (MAIL FROM) address or its domain.',
    advice: 'Use a MAIL FROM address at a domain that exists, receives mail and passes sender verification.',
  },
  sender_policy: {
    side: 'sender',
    action: 'contact_postmaster',
    meaning:
      "The server refused the client by a local policy (access list, geography, the sender's network).",
    advice: "Ask the receiving site's postmaster; it says nothing about the mailbox.",
  },
  content_spam: {
    side: 'message',
    action: 'fix_message',
    meaning: 'The receiver judged the message to be spam.',
    advice: 'Check the content, links and authentication of the message; it says nothing about the mailbox.',
  },
  content_virus: {
    side: 'message',
    action: 'fix_message',
    meaning: 'The receiver found malware in the message.',
    advice: 'Remove the attachment or link that was flagged; scan the sending system.',
  },
  content_size: {
    side: 'message',
    action: 'fix_message',
    meaning: 'The message is larger than the receiver accepts (RFC 1870, RFC 3463 X.3.4 / X.2.3).',
    advice: 'Send a smaller message (a link instead of the attachment).',
  },
  content_rejected: {
    side: 'message',
    action: 'fix_message',
    meaning: 'The receiver refused the content or format of the message.',
    advice: 'Check the message against the text of the reply.',
  },
  rate_limited: {
    side: 'sender',
    action: 'retry_later',
    meaning: 'The server is limiting how fast this client may send (connections, messages or recipients).',
    advice: 'Slow down and retry later; it says nothing about the mailbox.',
  },
  greylisted: {
    side: 'network',
    action: 'retry_later',
    meaning: 'A temporary refusal that asks the client to come back later (greylisting, RFC 6647).',
    advice: 'Retry later from the same IP address with the same sender; most servers accept the retry.',
  },
  tls_required: {
    side: 'sender',
    action: 'fix_sender',
    meaning: 'The server requires an encrypted (STARTTLS) connection.',
    advice: 'Send with STARTTLS (RFC 3207).',
  },
  tls_failed: {
    side: 'network',
    action: 'retry_later',
    meaning: 'STARTTLS was refused or failed.',
    advice: 'Retry later, or check the TLS setup of the client.',
  },
  server_error: {
    side: 'network',
    action: 'retry_later',
    meaning: 'The receiving mail system had a problem of its own (RFC 3463 X.3.x).',
    advice: 'Retry later; it says nothing about the mailbox.',
  },
  network_error: {
    side: 'network',
    action: 'retry_later',
    meaning: 'A routing or network problem between the servers (RFC 3463 X.4.x).',
    advice: 'Retry later; check the DNS of the recipient domain if it persists.',
  },
  expired: {
    side: 'network',
    action: 'retry_later',
    meaning: 'Delivery was retried until the sending server gave up (RFC 3463 X.4.7).',
    advice: 'Look at the last temporary error behind it; the address itself is not known to be bad.',
  },
  protocol_error: {
    side: 'sender',
    action: 'investigate',
    meaning: 'The server did not understand a command or its parameters (RFC 5321 §4.2.3 500–504, 555).',
    advice: 'Check the client software; it says nothing about the mailbox.',
  },
  unrecognised: {
    side: null,
    action: 'investigate',
    meaning: 'No rule recognises this reply; its code alone does not say whether the address is at fault.',
    advice: 'Read the text; do not remove the address on this reply alone.',
  },
  not_a_reply: {
    side: null,
    action: 'investigate',
    meaning: 'This is not an SMTP reply: no reply code (RFC 5321 §4.2: three digits, 2xx to 5xx).',
    advice: 'Paste the line that starts with the server\'s three-digit code, such as "550 5.1.1 …".',
  },
} as const satisfies Record<ReplyCategory, ReplyCategoryInfo>;

/** The ordered rules. The first match decides; `classifyReply()` falls back to `unexpected_reply`. */
export const REPLY_RULES = [
  // 1. Positive replies. RFC 5321 §4.3.2: 250/251 are RCPT's success replies.
  {
    id: 'rcpt-accepted',
    stages: ['rcpt'],
    codes: [250, 251],
    reason: 'accepted',
    category: 'accepted',
    source: 'RFC 5321 §4.3.2 (RCPT: 250, 251)',
  },
  // RFC 5321 §4.1.1.4: 250 after the message is the server taking responsibility for delivery.
  {
    id: 'data-accepted',
    stages: ['data'],
    codes: [250],
    reason: 'accepted',
    category: 'accepted',
    source: 'RFC 5321 §4.1.1.4 (DATA: 250 after the end of data)',
  },
  // RFC 5321 §3.5.3: 252 "Cannot VRFY user, but will accept message and attempt delivery" — the server
  // says it did not verify: like an accept-all server, its acceptance proves nothing.
  {
    id: 'rcpt-cannot-verify',
    stages: ['rcpt'],
    codes: [252],
    reason: 'accept_all_provider',
    category: 'accepted_unverified',
    source: 'RFC 5321 §3.5.3 (252 Cannot VRFY user, but will accept message)',
  },
  // Any other 2xx, or a 3xx (354 belongs to DATA), is not a reply RCPT can give (RFC 5321 §4.3.2).
  {
    id: 'rcpt-odd-positive',
    stages: ['rcpt'],
    classes: [2, 3],
    reason: 'protocol_error',
    category: 'protocol_error',
    source: 'RFC 5321 §4.3.2 (the replies RCPT may give)',
  },
  // A positive reply at another stage says nothing about a mailbox.
  {
    id: 'positive-outside-rcpt',
    classes: [2, 3],
    reason: 'unexpected_reply',
    category: 'accepted',
    source: 'RFC 5321 §4.2.1 (2yz positive completion, 3yz positive intermediate)',
  },

  // 2. Stages whose refusals say nothing about the mailbox.
  // RFC 3207 §4: 454 "TLS not available due to temporary reason", 501/5xx to STARTTLS.
  {
    id: 'starttls-refused',
    stages: ['starttls'],
    reason: 'tls_error',
    category: 'tls_failed',
    source: 'RFC 3207 §4 (STARTTLS replies 454, 501)',
  },
  {
    id: 'outside-transaction',
    stages: ['connect', 'rset', 'quit'],
    reason: 'unexpected_reply',
    category: 'unrecognised',
    source: 'RFC 5321 §4.1.1.5, §4.1.1.10 (RSET, QUIT): no mail transaction',
  },

  // 3. Greylisting named as such, before anything else reads "Recipient address rejected" (§B.1.1).
  {
    id: 'greylisted',
    classes: [4],
    text: GREYLIST,
    reason: 'greylisted',
    category: 'greylisted',
    source: 'RFC 6647 §2.1; postgrey, milter-greylist, Barracuda "Greylisted for 5 minutes"',
  },
  // Mimecast's greylisting reply (Mimecast KB DOC-1369#451; triplet retry 1 min to 12 h).
  {
    id: 'mimecast-greylisting',
    classes: [4],
    text: /internal resource temporarily unavailable/i,
    reason: 'greylisted',
    category: 'greylisted',
    source: 'Mimecast SMTP error codes (451 Internal resource temporarily unavailable: greylisting)',
    url: 'https://community.mimecast.com/docs/DOC-1369',
  },
  // Proofpoint / Postfix `reject_unverified_recipient`: `421 4.1.1 … unverified address: Address
  // verification in progress` — the answer is not known yet; ask again (Proofpoint and Postfix's verify(8)).
  {
    id: 'verification-in-progress',
    classes: [4],
    text: /unverified address|verification in progress/i,
    unlessText: /sender address rejected/i,
    reason: 'greylisted',
    category: 'greylisted',
    source: 'Postfix postconf(5) reject_unverified_recipient, unverified_recipient_defer_code (450)',
    url: 'https://www.postfix.org/ADDRESS_VERIFICATION_README.html',
  },
  // Yahoo `421 4.7.0 [GL01] Message from (ip) temporarily deferred` (postmaster.yahooinc.com/error-codes):
  // deferral of an unknown sending IP, retried later.
  {
    id: 'yahoo-gl01',
    classes: [4],
    text: /\[GL01\]/i,
    reason: 'greylisted',
    category: 'greylisted',
    source: 'Yahoo SMTP error codes ([GL01] temporarily deferred)',
    url: 'https://senders.yahooinc.com/smtp-error-codes/',
  },

  // 4. Rate limits whose text mentions the IP or its reputation, so they must precede the sender rules.
  // Microsoft 4.7.500–4.7.699 "Server busy, please try again later", 4.7.650/4.7.651 "temporarily rate
  // limited due to IP reputation" (Exchange Online NDR reference; sisimai rhost-microsoft-05).
  {
    id: 'microsoft-throttling',
    classes: [4],
    enhanced: /^7\.[56]\d\d$/,
    reason: 'rate_limited',
    category: 'rate_limited',
    source: 'Microsoft, Email non-delivery reports and SMTP errors in Exchange Online (4.7.500-699)',
    url: 'https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online',
  },
  // Google 450 4.2.1 / 550 5.2.1 "The user you are trying to contact is receiving mail at a rate that
  // prevents additional messages from being delivered" (p=ReceivingRate, p=ReceivingRatePerm), Yahoo
  // `450 User is receiving mail too quickly`. About the recipient's inflow: it suggests the mailbox
  // exists (Reacher reads it so) but proves nothing either way, and the 5xx form is still a rate limit.
  {
    id: 'recipient-receiving-rate',
    classes: [4, 5],
    text: /receiving mail (?:at a rate|too quickly)|receivingrate/i,
    reason: 'rate_limited',
    category: 'rate_limited',
    side: 'recipient',
    source: 'Google SMTP error reference (4.2.1/5.2.1 receiving mail at a rate)',
    url: 'https://support.google.com/a/answer/3726730',
  },
  // Yandex `450 4.2.1 The recipient has exceeded message rate limit`; Microsoft 5.2.121/5.2.122 "The
  // recipient has exceeded their limit for the number of messages they can receive per hour".
  {
    id: 'recipient-receive-limit',
    classes: [4, 5],
    text: /recipient has exceeded|receive limit|messages they can receive/i,
    reason: 'rate_limited',
    category: 'rate_limited',
    side: 'recipient',
    source: 'Microsoft Exchange Online NDR 5.2.121/5.2.122; Yandex 450 4.2.1 recipient rate limit',
    url: 'https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online',
  },
  // Yahoo `421 4.7.0 [TSS04] Messages from ip temporarily deferred due to unexpected volume or user
  // complaints` (postmaster.yahooinc.com/error-codes): slow down, per the brief and §B.1.4.
  {
    id: 'yahoo-tss04',
    text: /\[TSS04\]/i,
    reason: 'rate_limited',
    category: 'rate_limited',
    source: 'Yahoo SMTP error codes ([TSS04] unexpected volume or user complaints)',
    url: 'https://senders.yahooinc.com/smtp-error-codes/',
  },
  // Outlook.com legacy `421 RP-001 … We have limits for how many messages can be sent per hour`.
  {
    id: 'outlook-rp-limits',
    text: /\bRP-00\d\b/,
    reason: 'rate_limited',
    category: 'rate_limited',
    source: 'Outlook.com postmaster, RP-001/RP-002/RP-003 rate limits',
    url: 'https://sendersupport.olc.protection.outlook.com/pm/troubleshooting.aspx',
  },

  // The receiving server's own disk: Sendmail `452 4.4.5 Insufficient disk space; try again later`
  // (srvrsmtp.c, under the X.4.5 congestion code), Postfix `452 4.3.1 Insufficient system storage`
  // (smtpd.c, queue_minfree), RFC 5321 §4.2.2 452 "insufficient system storage": not a rate limit.
  {
    id: 'server-storage',
    classes: [4, 5],
    text: /insufficient (?:disk space|system storage)/i,
    reason: 'unexpected_reply',
    category: 'server_error',
    source: 'RFC 5321 §4.2.2 (452 insufficient system storage); Sendmail srvrsmtp.c, Postfix smtpd.c',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-4.2.2',
  },

  // 5. The sender: never "mailbox not found" (docs/verdicts.md, "Replies about the sender").
  // Amazon SES refuses to send from an identity that is not verified in the region: `554 Message
  // rejected: Email address is not verified. The following identities failed the check in region …`
  // (AWS knowledge center, "ses-554-400-message-rejected-error"): the sender's address.
  {
    id: 'ses-identity-not-verified',
    text: /address is not verified|identities failed the check/i,
    reason: 'sender_blocked',
    category: 'sender_address',
    source: 'Amazon SES: 554 Message rejected: Email address is not verified (unverified sending identity)',
    url: 'https://repost.aws/knowledge-center/ses-554-400-message-rejected-error',
  },
  // RFC 7504 §3: "Host does not accept mail" (521) and "Domain does not accept mail" (556) are the
  // recipient side's: a status the report adds (`5.7.27`, the *sender's* null MX) does not make it
  // the sender's.
  {
    id: 'host-does-not-accept-mail',
    // 521 and 556 themselves are RFC 7504's codes, read at their stages below.
    codes: [550, 551, 552, 553, 554],
    stages: RECIPIENT_STAGES,
    text: /\b(?:host|domain) does not accept (?:e-?)?mail/i,
    unlessText: /\bsender\b/i,
    reason: 'domain_rejects_mail',
    category: 'domain_no_mail',
    source: 'RFC 7504 §3 (521 Host does not accept mail, 556 Domain does not accept mail)',
    url: 'https://www.rfc-editor.org/rfc/rfc7504#section-3',
  },
  {
    id: 'tls-required',
    text: TLS_REQUIRED,
    reason: 'tls_error',
    category: 'tls_required',
    source: 'RFC 3207 §4 (530 Must issue a STARTTLS command first); Google 5.7.0, Exchange 5.7.57',
  },
  {
    id: 'sender-verify-failed',
    text: SENDER_VERIFY,
    reason: 'sender_blocked',
    category: 'sender_address',
    source: 'Exim specification, "verify = sender" callouts (Sender verify failed)',
    url: 'https://www.exim.org/exim-html-current/doc/html/spec_html/ch-access_control_lists.html',
  },
  {
    id: 'relay-denied',
    text: RELAY,
    reason: 'sender_blocked',
    category: 'relay_denied',
    source: 'Postfix smtpd_check.c reject_unauth_destination (Relay access denied); Sendmail, Exim, qmail',
    url: 'https://www.postfix.org/postconf.5.html#reject_unauth_destination',
  },
  // Postfix postscreen(8) refuses a client that failed its tests (permanent blocklist, DNSBL score,
  // pregreeting) with `550 5.3.2 Service currently unavailable`, or `521 5.3.2 …` when it drops the
  // connection: a block of the client, not RFC 7504's "host does not accept mail".
  {
    id: 'postscreen-refused',
    classes: [5],
    text: /service currently unavailable/i,
    reason: 'sender_blocked',
    category: 'sender_policy',
    source: 'Postfix postscreen.c (550/521 5.3.2 Service currently unavailable), POSTSCREEN_README',
    url: 'https://www.postfix.org/POSTSCREEN_README.html',
  },
  // Mimecast `550 Rejected by header based Anti-Spoofing policy` (a spoofed internal sender) and `451
  // Message temporarily deferred due to unresolvable RFC.5321 from domain` (the MAIL FROM domain).
  {
    id: 'mimecast-anti-spoofing',
    text: /anti-?spoofing/i,
    reason: 'sender_blocked',
    category: 'sender_authentication',
    source: 'Mimecast SMTP error codes (Rejected by header based Anti-Spoofing policy)',
    url: 'https://community.mimecast.com/docs/DOC-1369',
  },
  {
    id: 'mimecast-unresolvable-sender',
    text: /unresolvable RFC\.?5321 from domain/i,
    reason: 'sender_blocked',
    category: 'sender_address',
    source: 'Mimecast SMTP error codes (unresolvable RFC.5321 from domain)',
    url: 'https://community.mimecast.com/docs/DOC-1369',
  },
  {
    id: 'blocklisted',
    text: BLOCKLIST,
    reason: 'sender_blocked',
    category: 'sender_blocklisted',
    source: 'RFC 5782 (DNS blocklists); Postfix reject_rbl_client, Exim dnslists',
    url: 'https://www.postfix.org/postconf.5.html#reject_rbl_client',
  },
  // Yahoo `[TSS09]` permanent deferral, `[TS01-03]`, `[BL21-23]` blocklists (named ones are caught above),
  // `[DM..]`/`[RL..]` (postmaster.yahooinc.com/error-codes).
  {
    id: 'yahoo-sender-codes',
    text: /\[(?:TSS?|BL|DM|RL)\d\d\]/i,
    reason: 'sender_blocked',
    category: 'sender_reputation',
    source: 'Yahoo SMTP error codes ([TSS09], [TS01]-[TS03], [BL21]-[BL23])',
    url: 'https://senders.yahooinc.com/smtp-error-codes/',
  },
  // T-Online (Deutsche Telekom) refuses hosts of bad or unknown reputation, naming the client's IP:
  // `554 IP=192.0.2.1 - A problem occurred. (Ask your postmaster for help or to contact … to clarify.)
  // (BL)` and `554 IP=192.0.2.1 - None/bad reputation. Ask your postmaster … for reset. (NOWL)`.
  // T-Online to Spam Resource: "our system does not accept e-mail from hosts with bad or unknown
  // reputation". The sending host, not the mailbox.
  {
    id: 't-online-reputation',
    text: /\bIP=[0-9a-f.:]+ - (?:A problem occurred|None\/bad reputation)\b/i,
    reason: 'sender_blocked',
    category: 'sender_reputation',
    source:
      'T-Online, quoted by Spam Resource (2020): hosts of bad or unknown reputation are refused ((BL), (NOWL))',
    url: 'https://www.spamresource.com/2020/06/whoops-t-onlinede-not-accepting-mail.html',
  },
  // GoDaddy (secureserver.net) tags its refusals of the sender's From: with IB codes: `IB501` blank
  // From, `IB502` an IP address as From, `IB506` "From: Domain is invalid. Provide a valid From:" (the
  // domain has no MX or address record), whatever enhanced code comes with them (GoDaddy Help, "Fix
  // rejected email with a bounce error", sender bounces). The sender's address, not the mailbox.
  {
    id: 'godaddy-sender-from',
    classes: [5],
    text: /\bIB50[126]\b/,
    reason: 'sender_blocked',
    category: 'sender_address',
    source: 'GoDaddy Help, Fix rejected email with a bounce error (sender bounces IB501, IB502, IB506)',
    url: 'https://www.godaddy.com/help/fix-rejected-email-with-a-bounce-error-40685',
  },
  // Codes of Microsoft's access-denied range whose own description names a finer cause than a block of
  // the sender (Exchange Online NDR reference): 5.7.509 "sending domain … does not pass DMARC verification
  // and has a DMARC policy of reject", 5.7.515 "sending domain … does not meet the required
  // authentication level" (Outlook.com's SPF, DKIM and DMARC requirements for high-volume senders),
  // 5.7.508 "… has exceeded permitted limits within $range range" (too many messages from an IPv6 range
  // too fast) and, outside the range, 5.1.90 "you've reached your daily limit for message recipients"
  // (the sender's recipient rate limit), 5.7.512 "message must be RFC 5322 section 3.6.2 compliant" (no valid From: address in
  // the message).
  {
    id: 'microsoft-dmarc-code',
    classes: [5],
    enhanced: /^7\.509$/,
    reason: 'sender_blocked',
    category: 'sender_dmarc',
    source: 'Microsoft Exchange Online NDR reference (5.7.509 does not pass DMARC verification)',
    url: 'https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online',
  },
  {
    id: 'microsoft-authentication-level',
    classes: [5],
    enhanced: /^7\.515$/,
    reason: 'sender_blocked',
    category: 'sender_authentication',
    source: 'Microsoft Support, Fix NDR error 550 5.7.515 in Outlook.com (required authentication level)',
    url: 'https://support.microsoft.com/en-us/topic/fix-ndr-error-550-5-7-515-in-outlook-com-34cfe8f8-6fbf-457e-9e8b-9e4dbaf4e0ef',
  },
  {
    id: 'microsoft-sender-limits',
    classes: [5],
    enhanced: /^(?:7\.508|1\.90)$/,
    reason: 'rate_limited',
    category: 'rate_limited',
    source:
      'Microsoft Exchange Online NDR reference (5.7.508 exceeded permitted limits within range; 5.1.90 daily limit for message recipients)',
    url: 'https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online',
  },
  {
    id: 'microsoft-from-header',
    classes: [5],
    enhanced: /^7\.512$/,
    reason: 'unexpected_reply',
    category: 'content_rejected',
    source:
      'Microsoft Exchange Online NDR reference (5.7.512 message must be RFC 5322 section 3.6.2 compliant)',
    url: 'https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online',
  },
  // Microsoft EOP access-denied range: 5.7.501–503, 5.7.506–5.7.799 (5.7.506 bad HELO, 5.7.511 banned
  // sender, 5.7.513 customer block list, 5.7.606–649 banned sending IP, 5.7.7xx tenant thresholds,
  // 5.7.750 unregistered domains) — 5.7.504 is the DBEB "recipient … isn't valid" and is left out, and
  // 5.7.505 "banned recipient" is a restriction on the recipient (below).
  {
    id: 'microsoft-access-denied',
    classes: [5],
    enhanced: /^7\.(?:50[1-36-9]|5[1-9]\d|[67]\d\d)$/,
    reason: 'sender_blocked',
    category: 'sender_policy',
    source: 'Microsoft Exchange Online NDR reference (5.7.501-5.7.799, not 5.7.504)',
    url: 'https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online',
  },
  // Microsoft 5.7.124 "sender not in the group's allowed senders list", 5.7.133–5.7.136 "the group / mailbox
  // accepts mail only from authenticated (internal) senders", 5.7.12 "Sender was not authenticated by
  // organization" (the recipient address is set up to reject messages from outside its organization),
  // 5.7.505 "Access denied, banned recipient": a restriction the recipient's organisation set on that
  // recipient, neither a missing mailbox nor a block of the sending server.
  {
    id: 'microsoft-recipient-restriction',
    classes: [5],
    stages: RECIPIENT_STAGES,
    enhanced: /^7\.(?:12|124|13[3-6]|505)$/,
    reason: 'unexpected_reply',
    category: 'recipient_refused',
    source: 'Microsoft Exchange Online NDR reference (5.7.12, 5.7.124, 5.7.133-5.7.136, 5.7.505)',
    url: 'https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online',
  },
  // Outlook.com / Microsoft anti-spam codes: S3140/S3150 IP block list, S8001/S8002 Spamhaus HELO/MAIL
  // FROM, legacy SC-00x/DY-00x/OU-00x ("does not relay dynamically-assigned IP ranges").
  {
    id: 'microsoft-sender-codes',
    text: /\(S(?:3140|3150|8001|8002)\)|\b(?:SC|DY|OU)-00\d\b/,
    reason: 'sender_blocked',
    category: 'sender_blocklisted',
    source: 'Outlook.com postmaster troubleshooting (S3140, S3150, SC-001, DY-001, OU-001)',
    url: 'https://sendersupport.olc.protection.outlook.com/pm/troubleshooting.aspx',
    advice: 'Ask Microsoft for delisting through its sender support form (sender.office.com).',
  },
  // RFC 7372 §3: X.7.23 "SPF validation failed", X.7.24 "SPF validation error".
  {
    id: 'sender-spf-codes',
    classes: [4, 5],
    enhanced: /^7\.2[34]$/,
    reason: 'sender_blocked',
    category: 'sender_spf',
    source: 'RFC 7372 §3.2 (X.7.23, X.7.24 SPF)',
    url: 'https://www.rfc-editor.org/rfc/rfc7372#section-3.2',
  },
  // RFC 7372 §3.3: X.7.25 "Reverse DNS validation failed" (Google `5.7.25 … does not have a PTR record`).
  {
    id: 'sender-rdns-code',
    classes: [4, 5],
    enhanced: /^7\.25$/,
    reason: 'sender_blocked',
    category: 'sender_rdns',
    source: 'RFC 7372 §3.3 (X.7.25 reverse DNS validation failed)',
    url: 'https://www.rfc-editor.org/rfc/rfc7372#section-3.3',
  },
  // RFC 7372 §3.4 X.7.26 "Multiple authentication checks failed"; RFC 7505 §4.2 X.7.27 "Sender address
  // has null MX", which Google also uses for SPF failures (`421 4.7.27 … SPF authentication didn't pass`).
  {
    id: 'sender-auth-codes',
    classes: [4, 5],
    enhanced: /^7\.2[67]$/,
    reason: 'sender_blocked',
    category: 'sender_authentication',
    source: 'RFC 7372 §3.4 (X.7.26), RFC 7505 §4.2 (X.7.27); Google 5.7.26 / 4.7.27',
    url: 'https://www.rfc-editor.org/rfc/rfc7372#section-3.4',
  },
  // Google 4.7.28 "Our system has detected an unusual rate of unsolicited mail originating from your IP
  // address" (X.7.28 "Mail flood detection", IANA enhanced status code registry).
  {
    id: 'sender-flood-code',
    classes: [4, 5],
    enhanced: /^7\.28$/,
    reason: 'sender_blocked',
    category: 'sender_reputation',
    source: 'IANA SMTP enhanced status codes (X.7.28 mail flood detection); Google 4.7.28',
    url: 'https://support.google.com/a/answer/3726730',
  },
  // RFC 3463 X.1.7 "Bad sender's mailbox address syntax", X.1.8 "Bad sender's system address".
  {
    id: 'sender-address-codes',
    classes: [4, 5],
    enhanced: /^1\.[78]$/,
    reason: 'sender_blocked',
    category: 'sender_address',
    source: "RFC 3463 §3.2 (X.1.7 bad sender's mailbox address syntax, X.1.8 bad sender's system address)",
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.2',
  },
  {
    id: 'sender-dmarc',
    text: DMARC,
    reason: 'sender_blocked',
    category: 'sender_dmarc',
    source: 'RFC 7489 §6.6.3 (DMARC reject); Google 5.7.26 DMARC policy',
    url: 'https://support.google.com/a/answer/3726730',
  },
  {
    id: 'sender-dkim',
    text: DKIM,
    reason: 'sender_blocked',
    category: 'sender_dkim',
    source: 'RFC 6376; Google 5.7.27 / Yahoo sender requirements (DKIM)',
    url: 'https://support.google.com/a/answer/3726730',
  },
  {
    id: 'sender-spf',
    text: SPF,
    reason: 'sender_blocked',
    category: 'sender_spf',
    source: 'RFC 7208 §8.4 (SPF fail); Postfix policyd-spf',
    url: 'https://www.rfc-editor.org/rfc/rfc7208#section-8.4',
  },
  {
    id: 'sender-rejected',
    text: SENDER,
    reason: 'sender_blocked',
    category: 'sender_address',
    source:
      'Postfix smtpd_check.c (Sender address rejected: …); Sendmail (Domain of sender address … does not exist)',
    url: 'https://www.postfix.org/postconf.5.html#smtpd_sender_restrictions',
  },
  {
    id: 'sender-rdns',
    text: RDNS,
    reason: 'sender_blocked',
    category: 'sender_rdns',
    source: 'Postfix reject_unknown_client_hostname (cannot find your hostname); Google 5.7.25 PTR',
    url: 'https://www.postfix.org/postconf.5.html#reject_unknown_client_hostname',
  },
  {
    id: 'sender-ip-mismatch',
    text: SENDER_IP_MISMATCH,
    reason: 'sender_blocked',
    category: 'sender_policy',
    source:
      'RFC 7208 §2.4 (the MAIL FROM domain checked against the client IP address); an "MX+ mismatch" refusal (the sending IP does not match the envelope domain), documented by SpamButcher',
    url: 'https://www.rfc-editor.org/rfc/rfc7208#section-2.4',
  },
  {
    id: 'client-host-rejected',
    text: CLIENT_HOST,
    reason: 'sender_blocked',
    category: 'sender_policy',
    source: 'Postfix smtpd_check.c (Client host rejected: …), smtpd_client_restrictions',
    url: 'https://www.postfix.org/postconf.5.html#smtpd_client_restrictions',
  },
  {
    id: 'helo-rejected',
    text: HELO,
    reason: 'sender_blocked',
    category: 'sender_helo',
    source: 'Postfix smtpd_helo_restrictions (Helo command rejected); Microsoft 5.7.506 Bad HELO',
    url: 'https://www.postfix.org/postconf.5.html#smtpd_helo_restrictions',
  },
  {
    id: 'sender-authentication',
    text: SENDER_AUTH,
    reason: 'sender_blocked',
    category: 'sender_authentication',
    source: 'Google 5.7.26 unauthenticated; Microsoft 5.7.57 client not authenticated',
    url: 'https://support.google.com/a/answer/3726730',
  },
  {
    id: 'content-format',
    text: FORMAT,
    reason: 'unexpected_reply',
    category: 'content_rejected',
    source: 'Google SMTP error reference (5.7.1 not RFC 5322 compliant, From: header; 5.6.0 malformed)',
    url: 'https://support.google.com/a/answer/3726730',
  },
  {
    id: 'content-spam',
    text: SPAM_CONTENT,
    reason: 'sender_blocked',
    category: 'content_spam',
    source: 'SpamAssassin/rspamd/Amavis spam rejections; Google 5.7.1 likely unsolicited mail',
    url: 'https://support.google.com/a/answer/3726730',
  },
  {
    id: 'sender-reputation',
    text: REPUTATION,
    reason: 'sender_blocked',
    category: 'sender_reputation',
    source: 'Google 5.7.1 not authorized to send directly; Barracuda poor reputation; Trend Micro ERS',
    url: 'https://support.google.com/a/answer/3726730',
  },
  // Malware is about the message; before the policy wording, which "blocked" would otherwise claim.
  {
    id: 'content-virus',
    text: VIRUS,
    reason: 'unexpected_reply',
    category: 'content_virus',
    source: 'Amavis/ClamAV (554 5.7.0 Reject … INFECTED), Exim malware ACL condition',
    url: 'https://www.exim.org/exim-html-current/doc/html/spec_html/ch-content_scanning_at_acl_time.html',
  },
  // A recipient server refusing what the message holds (Broadcom's Email Security.cloud article on
  // the bounces it relays lists them as "the recipient server finds something suspicious in the
  // message content"): `550 5.7.1 Message rejected due to content restrictions`, `554 Denied (Mode:
  // normal)`, `552 MS-Office file containing VBA macros found inside of the email`. The message, not
  // the mailbox nor the sender; before the policy wording and X.7.1, which would claim the sender.
  {
    id: 'content-restrictions',
    classes: [5],
    text: /\bcontent restrictions?\b|\bVBA macros?\b|\bdenied \(mode: [a-z]+\)/i,
    reason: 'unexpected_reply',
    category: 'content_rejected',
    source:
      'Broadcom Email Security.cloud KB 162445 (outbound mail returned by MAILER-DAEMON@messagelabs.com): suspicious message content',
    url: 'https://knowledge.broadcom.com/external/article/162445/outbound-mail-returned-by-mailerdaemonme.html',
  },
  {
    id: 'recipient-account-blocked',
    classes: [5],
    stages: RECIPIENT_STAGES,
    text: RECIPIENT_BLOCKED,
    reason: 'mailbox_disabled',
    category: 'mailbox_disabled',
    source: "Yandex Mail, non-delivery to Yandex (the recipient's account has been blocked)",
    url: 'https://yandex.com/support/mail/bounces/yandex.html',
  },
  {
    id: 'policy-block',
    text: POLICY_BLOCK,
    reason: 'sender_blocked',
    category: 'sender_policy',
    source: 'Exim default ACL (Administrative prohibition); Mimecast, GMX, Barracuda policy rejections',
  },

  // 6. Other rate limits. RFC 3463 X.5.3 "Too many recipients", X.4.5 "Mail system congestion".
  {
    id: 'rate-limit',
    classes: [4, 5],
    text: RATE,
    reason: 'rate_limited',
    category: 'rate_limited',
    source:
      'Postfix anvil (too many connections/recipients), smtpd_hard_error_limit; Microsoft, Yahoo, Apple, Google limits',
    url: 'https://www.postfix.org/TUNING_README.html',
  },
  {
    id: 'too-many-recipients-code',
    classes: [4, 5],
    enhanced: /^(?:5\.3|4\.5)$/,
    reason: 'rate_limited',
    category: 'rate_limited',
    source: 'RFC 3463 §3.5, §3.4 (X.5.3 too many recipients, X.4.5 mail system congestion)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.5',
  },
  // The message is too big: about the message, never the mailbox (RFC 1870 §6, RFC 3463 X.3.4, X.2.3).
  {
    id: 'content-size-code',
    classes: [4, 5],
    enhanced: /^(?:3\.4|2\.3)$/,
    reason: 'unexpected_reply',
    category: 'content_size',
    source:
      'RFC 3463 §3.3 X.2.3 (message length exceeds administrative limit), §3.4 X.3.4 (message too big for system)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.3',
  },
  {
    id: 'content-size',
    classes: [4, 5],
    text: SIZE,
    reason: 'unexpected_reply',
    category: 'content_size',
    source: 'RFC 1870 §6 (552 message size exceeds fixed maximum); Postfix message_size_limit',
    url: 'https://www.rfc-editor.org/rfc/rfc1870#section-6',
  },
  // RFC 3463 X.6.x "Message content or media status" (X.6.0 other, X.6.1 media not supported, X.6.3
  // conversion required but not supported): the message, not the mailbox.
  {
    id: 'content-format-code',
    classes: [4, 5],
    enhanced: /^6\.\d{1,3}$/,
    reason: 'unexpected_reply',
    category: 'content_rejected',
    source: 'RFC 3463 §3.7 (X.6.x message content or media status)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.7',
  },
  // RFC 3463 X.4.7 "Delivery time expired": the sending MTA gave up, not the receiving one refusing.
  {
    id: 'delivery-expired',
    classes: [4, 5],
    enhanced: /^4\.7$/,
    reason: 'unexpected_reply',
    category: 'expired',
    source: 'RFC 3463 §3.5 (X.4.7 delivery time expired)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.5',
  },
  {
    id: 'delivery-expired-text',
    classes: [4, 5],
    text: EXPIRED,
    reason: 'unexpected_reply',
    category: 'expired',
    source:
      'Postfix (message expired), Exim (retry timeout exceeded), Sendmail (Cannot send message for N days)',
  },

  // 7. 5xx at the session stages: about the client, never a mailbox.
  // RFC 7504 §3: 521 "Host does not accept mail", sent instead of (or in reply to the first command
  // after) the greeting.
  {
    id: 'host-rejects-mail',
    codes: [521],
    stages: ['greeting', 'ehlo', 'helo', 'mail'],
    reason: 'domain_rejects_mail',
    category: 'domain_no_mail',
    source: 'RFC 7504 §3 (521 host does not accept mail)',
    url: 'https://www.rfc-editor.org/rfc/rfc7504#section-3',
  },
  // RFC 5321 §4.1.1.1: the HELO/EHLO argument is the client's domain; a server that refuses it as
  // invalid (`501 5.0.0 Invalid domain name`; qmail-remote reports it as "Connected to … but my name
  // was rejected") refuses the client's name, not a syntax of the command.
  {
    id: 'helo-name-invalid',
    classes: [5],
    stages: ['ehlo', 'helo'],
    text: /invalid (?:domain|host) ?name|(?:bad|invalid|not a valid) (?:domain|host)\b/i,
    reason: 'sender_blocked',
    category: 'sender_helo',
    source: 'RFC 5321 §4.1.1.1 (HELO domain); qmail-remote.c (my name was rejected)',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1',
  },
  // RFC 5321 §4.2.3: 500–504 are syntax and sequence errors, 555 unrecognised MAIL parameters (the
  // verifier falls back to HELO after an EHLO 500/502, §4.1.4).
  {
    id: 'session-command-error',
    codes: [500, 501, 502, 503, 504, 555],
    stages: ['greeting', 'ehlo', 'helo', 'mail'],
    reason: 'protocol_error',
    category: 'protocol_error',
    source: 'RFC 5321 §4.2.3 (500-504, 555)',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-4.2.3',
  },
  // RFC 5321 §3.1: a 554 greeting means "no SMTP service here" for this client; any other 5xx before
  // RCPT refuses the client or its MAIL FROM (GMX `554-… Nemesis ESMTP Service not available`).
  {
    id: 'session-refused',
    classes: [5],
    stages: ['greeting', 'ehlo', 'helo', 'mail'],
    reason: 'sender_blocked',
    category: 'sender_policy',
    source: 'RFC 5321 §3.1 (554 greeting: no SMTP service here), §4.2.2',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-3.1',
  },

  // 8. A full mailbox: the one 4xx that says the mailbox exists. RFC 3463 X.2.2 "Mailbox full".
  {
    id: 'mailbox-full-code',
    classes: [4, 5],
    stages: RECIPIENT_STAGES,
    enhanced: /^2\.2$/,
    reason: 'mailbox_full',
    category: 'mailbox_full',
    source: 'RFC 3463 §3.3 (X.2.2 mailbox full)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.3',
  },
  {
    id: 'mailbox-full-text',
    classes: [4, 5],
    stages: RECIPIENT_STAGES,
    text: FULL,
    reason: 'mailbox_full',
    category: 'mailbox_full',
    source: 'Google 4.2.2/5.2.2 over quota; Apple, Yandex, Dovecot LMTP (Mailbox is full), RFC 5321 552',
    url: 'https://support.google.com/a/answer/3726730',
  },

  // 9. The rest of 4xx: never undeliverable (RFC 5321 §4.2.1: "the error condition is temporary").
  // A 421 closes the channel (RFC 5321 §3.8); asking to come back later is a throttle.
  {
    id: 'closing-try-later',
    codes: [421],
    text: TRY_LATER,
    reason: 'rate_limited',
    category: 'rate_limited',
    source: 'RFC 5321 §3.8 (421 service not available, closing transmission channel)',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-3.8',
  },
  {
    id: 'transient-try-later',
    classes: [4],
    text: TRY_LATER,
    reason: 'greylisted',
    category: 'greylisted',
    source: 'RFC 5321 §4.2.1 (4yz transient negative completion); rspamd, Exim, Barracuda "try again later"',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1',
  },
  // A 450 that names the recipient as unknown: RFC 5321 §4.2.2 makes 450 "mailbox unavailable" for now,
  // and the words (or RFC 3463 X.1.1, "the mailbox specified in the address does not exist", in its
  // persistent transient class) say why. Postfix answers so by default for a recipient its address
  // verification found to bounce (unverified_recipient_reject_code 450: `450 4.1.1 <x>: Recipient
  // address rejected: undeliverable address: …`), for an unknown local user when an administrator sets
  // unknown_local_recipient_reject_code to 450, and for every unknown user under soft_bounce (its 5xx
  // become 4xx). About the mailbox, not the server's own trouble, but never undeliverable: a 4xx is
  // temporary (RFC 5321 §4.2.1), so the verdict stays unknown and the advice is to try again.
  {
    id: 'transient-mailbox-unknown',
    codes: [450],
    stages: RECIPIENT_STAGES,
    text: NOT_FOUND,
    unlessText: DOMAIN_DOES_NOT_EXIST,
    reason: 'unexpected_reply',
    category: 'mailbox_unknown_temporary',
    source:
      'RFC 5321 §4.2.2 (450 mailbox unavailable); RFC 3463 §3.2 (X.1.1); Postfix postconf(5) unverified_recipient_reject_code (450), unknown_local_recipient_reject_code, soft_bounce',
    url: 'https://www.postfix.org/postconf.5.html#unverified_recipient_reject_code',
  },
  // RFC 3463 X.3.x "Mail system status" (X.3.1 system full, X.3.2 not accepting messages) and X.4.x
  // "Network and routing status": the receiving system's own trouble.
  {
    id: 'transient-server-error',
    classes: [4],
    enhanced: /^3\.\d{1,3}$/,
    reason: 'unexpected_reply',
    category: 'server_error',
    source: 'RFC 3463 §3.4 (X.3.x mail system status)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.4',
  },
  {
    id: 'transient-network-error',
    classes: [4],
    enhanced: /^4\.\d{1,3}$/,
    reason: 'unexpected_reply',
    category: 'network_error',
    source: 'RFC 3463 §3.5 (X.4.x network and routing status)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.5',
  },
  // RFC 5321 §4.2.2: 450 is "mailbox unavailable (e.g., mailbox busy or temporarily blocked for policy
  // reasons)". Before RCPT no recipient has been named, so a 450 to HELO/EHLO or MAIL refuses the client
  // or its sender for now: Postfix answers 450 by default for its client and sender checks
  // (unknown_client_reject_code and unknown_hostname_reject_code for a client or HELO name that does not
  // resolve back, unverified_sender_defer_code, defer_code), and RFC 5321 §4.3.2 lists no 450 reply to
  // MAIL for the server's own trouble (451, 452, 455). An enhanced code that names another subject
  // (X.2 mailbox, X.3 system, X.4 network, X.5 protocol, X.6 content; RFC 3463 §3) decides instead.
  {
    id: 'session-deferred',
    codes: [450],
    stages: ['ehlo', 'helo', 'mail'],
    unlessEnhanced: /^[2-6]\.\d{1,3}$/,
    reason: 'sender_blocked',
    category: 'sender_policy',
    source:
      'RFC 5321 §4.2.2 (450 temporarily blocked for policy reasons), §4.3.2; Postfix postconf(5) unknown_client_reject_code, unverified_sender_defer_code, defer_code (450)',
    url: 'https://www.postfix.org/postconf.5.html#unknown_client_reject_code',
  },
  {
    id: 'transient-other',
    classes: [4],
    reason: 'unexpected_reply',
    category: 'server_error',
    source: 'RFC 5321 §4.2.1 (4yz: the error condition is temporary)',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1',
  },

  // 10. 5xx at RCPT (and at DATA, where a per-recipient reply answers for the recipient).
  // RFC 7504 §3 / RFC 7505 §4.1: 556 "Domain does not accept mail" (`556 5.1.10 Recipient address has
  // null MX`), 521 "Host does not accept mail".
  {
    id: 'domain-rejects-mail',
    codes: [521, 556],
    stages: RECIPIENT_STAGES,
    reason: 'domain_rejects_mail',
    category: 'domain_no_mail',
    source: 'RFC 7504 §3 (521, 556), RFC 7505 §4.1 (556 5.1.10 null MX)',
    url: 'https://www.rfc-editor.org/rfc/rfc7504#section-3',
  },
  // Outlook.com: `550 5.5.0 Requested action not taken: mailbox unavailable` is its unknown-user reply;
  // its blocks carry S3150/SC-001 codes (caught above).
  {
    id: 'outlook-mailbox-unavailable',
    providers: ['outlook'],
    classes: [5],
    stages: RECIPIENT_STAGES,
    text: MAILBOX_UNAVAILABLE,
    reason: 'mailbox_not_found',
    category: 'mailbox_unknown',
    source: 'Outlook.com: 550 5.5.0 Requested action not taken: mailbox unavailable for unknown users',
    url: 'https://sendersupport.olc.protection.outlook.com/pm/troubleshooting.aspx',
  },
  // NTT docomo answers `550 Unknown user <address>` for an address that does not exist and for a
  // recipient whose reception settings refuse the sender (NTT Communications support FAQ; an ESP's
  // notes on docomo's replies): from docomo the words do not settle that the mailbox is gone.
  {
    id: 'docomo-unknown-user',
    providers: ['docomo'],
    classes: [5],
    stages: RECIPIENT_STAGES,
    text: /\bunknown user\b/i,
    reason: 'unexpected_reply',
    category: 'mailbox_unavailable',
    source:
      'NTT Communications support FAQ (docomo "Unknown user": a wrong address, or the recipient refusing the sender); Sendmagic, docomo reply codes',
    url: 'https://support.ntt.com/mail/faq/detail/pid2300000e64',
  },
  // Proton Mail `550 5.5.1 Protocol error` at RCPT: tied to the client's HELO identity
  // (jeremydumais/CPP-SMTPClient-library #57), not to the recipient.
  {
    id: 'proton-protocol-error',
    providers: ['proton'],
    classes: [5],
    stages: RECIPIENT_STAGES,
    enhanced: /^5\.1$/,
    reason: 'sender_blocked',
    category: 'sender_helo',
    source: 'Proton Mail 550 5.5.1 Protocol error at RCPT (jeremydumais/CPP-SMTPClient-library#57)',
  },
  // Zoho `552 5.1.1 <x> Mailbox delivery failure policy error`: listed for disabled *and* full mailboxes
  // (docs/verdicts.md), two different verdicts; not guessed.
  {
    id: 'zoho-delivery-policy',
    classes: [5],
    stages: RECIPIENT_STAGES,
    text: /mailbox delivery (?:failure|restricted)[^.]{0,20}policy/i,
    reason: 'unexpected_reply',
    category: 'recipient_refused',
    source: 'Zoho Mail bounce reasons (Mailbox delivery failure policy error: disabled or full)',
    url: 'https://www.zoho.com/mail/help/adminconsole/email-bounce-back.html',
  },
  // Yandex `550 5.7.1 Policy rejection on the target address`: Yandex's own bounce reference says it means
  // "your recipient's account has been blocked due to User Agreement violations" (the owner can unblock
  // it): a disabled mailbox, not a missing one, and not a refusal of the sender.
  {
    id: 'yandex-policy-on-target',
    classes: [5],
    stages: RECIPIENT_STAGES,
    text: /policy rejection on the target address/i,
    reason: 'mailbox_disabled',
    category: 'mailbox_disabled',
    source: 'Yandex Mail, non-delivery to Yandex (Policy rejection on the target address: account blocked)',
    url: 'https://yandex.com/support/mail/bounces/yandex.html',
  },
  {
    id: 'mailbox-disabled',
    classes: [5],
    stages: RECIPIENT_STAGES,
    text: DISABLED,
    reason: 'mailbox_disabled',
    category: 'mailbox_disabled',
    source: 'Google 5.2.1 (account disabled/inactive), Yahoo 554.30, Mail.ru, Apple (inactive email address)',
    url: 'https://support.google.com/a/answer/3726730',
  },
  // RFC 4954 §6 `525 5.7.13 User account disabled` (IANA: "Sometimes a system administrator will have to
  // disable a user's account"). At RCPT the only account in question is the recipient's.
  {
    id: 'mailbox-disabled-code',
    classes: [5],
    stages: RECIPIENT_STAGES,
    enhanced: /^7\.13$/,
    reason: 'mailbox_disabled',
    category: 'mailbox_disabled',
    source: 'RFC 4954 §6 (525 5.7.13 User account disabled), IANA enhanced status codes X.7.13',
    url: 'https://www.rfc-editor.org/rfc/rfc4954#section-6',
  },
  // RFC 3463 X.1.2 "Bad destination system address": … does not exist or is incapable of accepting mail"
  // (Google `553 5.1.2 We weren't able to find the recipient domain`).
  {
    id: 'destination-system-code',
    classes: [5],
    stages: RECIPIENT_STAGES,
    enhanced: /^1\.2$/,
    reason: 'domain_rejects_mail',
    category: 'domain_unknown',
    source: 'RFC 3463 §3.2 (X.1.2 bad destination system address)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.2',
  },
  // RFC 3463 X.1.3 "Bad destination mailbox address syntax: The destination address was syntactically
  // invalid": however the address reads to rcpt's syntax check, this server will never deliver to it as
  // written, which for the address is what a missing mailbox is.
  {
    id: 'recipient-syntax-code',
    classes: [5],
    stages: RECIPIENT_STAGES,
    enhanced: /^1\.3$/,
    reason: 'mailbox_not_found',
    category: 'recipient_syntax',
    source: 'RFC 3463 §3.2 (X.1.3 bad destination mailbox address syntax)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.2',
  },
  {
    id: 'mailbox-not-found-text',
    classes: [5],
    stages: RECIPIENT_STAGES,
    text: NOT_FOUND,
    unlessText: DOMAIN_DOES_NOT_EXIST,
    reason: 'mailbox_not_found',
    category: 'mailbox_unknown',
    source:
      'Postfix (User unknown in local recipient table), Sendmail, Exim (Unrouteable address), qmail, Google, Apple, Yahoo',
    url: 'https://www.postfix.org/postconf.5.html#local_recipient_maps',
  },
  // RFC 3463 X.1.6 "Destination mailbox has moved, No forwarding address" (Apple `550 5.1.6 recipient no
  // longer on server`); RFC 5321 §3.4 551 "User not local; please try <forward-path>".
  {
    id: 'mailbox-moved-code',
    classes: [5],
    stages: RECIPIENT_STAGES,
    enhanced: /^1\.6$/,
    reason: 'mailbox_not_found',
    category: 'mailbox_moved',
    source: 'RFC 3463 §3.2 (X.1.6 destination mailbox has moved, no forwarding address)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.2',
  },
  // RFC 3463 X.1.0 other address status (IronPort `550 #5.1.0 Address rejected.`), X.1.1 bad destination
  // mailbox.
  {
    id: 'mailbox-not-found-code',
    classes: [5],
    stages: RECIPIENT_STAGES,
    enhanced: /^1\.[01]$/,
    reason: 'mailbox_not_found',
    category: 'mailbox_unknown',
    source: 'RFC 3463 §3.2 (X.1.0, X.1.1 bad destination mailbox address)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.2',
  },
  // RFC 7505 §4.2: X.1.10 "Recipient address has null MX": the domain accepts no mail. Microsoft also
  // sends 5.1.10 with `RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup`,
  // whose words the not-found rule above reads first; the code alone is RFC 7505's.
  {
    id: 'null-mx-code',
    classes: [5],
    stages: RECIPIENT_STAGES,
    enhanced: /^1\.10$/,
    reason: 'domain_rejects_mail',
    category: 'domain_no_mail',
    source: 'RFC 7505 §4.2 (X.1.10 recipient address has null MX)',
    url: 'https://www.rfc-editor.org/rfc/rfc7505#section-4.2',
  },
  // A host name that does not exist (`553 mail.example.com does not exist`): RFC 3463 X.1.2.
  {
    id: 'host-does-not-exist',
    classes: [5],
    stages: RECIPIENT_STAGES,
    text: HOST_DOES_NOT_EXIST,
    reason: 'domain_rejects_mail',
    category: 'domain_unknown',
    source: 'RFC 3463 §3.2 (X.1.2 bad destination system address: does not exist)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.2',
  },
  // RFC 5321 §3.4: 551 "User not local; please try <forward-path>": no mailbox here. Not under an X.7.x
  // code, which the server uses to say "delivery not authorized" (RFC 3463 X.7.1): a policy, left to
  // policy-code below.
  {
    id: 'user-not-local',
    codes: [551],
    stages: RECIPIENT_STAGES,
    unlessEnhanced: /^7\./,
    reason: 'mailbox_not_found',
    category: 'mailbox_moved',
    source: 'RFC 5321 §3.4 (551 User not local; please try <forward-path>)',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-3.4',
  },
  // The ambiguous text (GMX/Web.de bare, or Outlook.com's without the provider known). Another
  // recipient accepted in the same session means the server is not refusing *us*, which leaves the
  // recipient as the reason; without that evidence it is not guessed (docs/verdicts.md, "Ambiguous replies"). Under an
  // X.7.x code the server itself calls it policy, which evidence about the sender does not undo.
  {
    id: 'mailbox-unavailable-confirmed',
    classes: [5],
    stages: RECIPIENT_STAGES,
    text: MAILBOX_UNAVAILABLE,
    unlessEnhanced: /^7\./,
    requires: 'otherRecipientAccepted',
    reason: 'mailbox_not_found',
    category: 'mailbox_unknown',
    source: 'RFC 5321 §4.2.2 (550 mailbox unavailable), with another recipient of the session accepted',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-4.2.2',
  },
  {
    id: 'mailbox-unavailable-ambiguous',
    classes: [5],
    stages: RECIPIENT_STAGES,
    text: MAILBOX_UNAVAILABLE,
    unlessEnhanced: /^7\./,
    reason: 'unexpected_reply',
    category: 'mailbox_unavailable',
    source: 'RFC 5321 §4.2.2 (550: mailbox not found, no access, or command rejected for policy reasons)',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-4.2.2',
  },

  // Orange (orange.fr, wanadoo.fr) and La Poste (laposte.net) tag their refusals with codes `OFR_506`,
  // `OFR004_105`, `LPN007_510`: blocks and temporary refusals of the sending IP for its reputation or
  // volume ("Service refuse. Veuillez essayer plus tard", "Mail rejete. Mail rejected"). Their codes
  // for the recipient (`OFR_416 Invalid recipient`, `LPN007_426 The recipient account is blocked`)
  // say so in words, which the rules above read first (Orange postmaster; Postmastery's list of Orange
  // OFR codes). The code comes in lower case too (`Mail rejected. ofr_506 [506]` from
  // smtp-in.orange.fr, quoted in public bounce reports).
  {
    id: 'orange-laposte-codes',
    text: /\b(?:OFR|LPN)\d*_\d{3}\b/i,
    reason: 'sender_blocked',
    category: 'sender_reputation',
    source: 'Orange postmaster (postmaster.orange.fr) and its OFR/LPN reply codes',
    url: 'https://www.postmastery.com/orange-postmaster-smtp-error-codes-ofr/',
  },

  // 11. Leftover codes. RFC 3463 X.7.x "Security or policy status" (X.7.1: "the sender is not
  // authorized to send to the destination"), e.g. Apple `550 5.7.1 [CS01] Message rejected due to local
  // policy`, Microsoft `RESOLVER.RST.NotAuthorized`.
  {
    id: 'policy-code',
    classes: [5],
    enhanced: /^7\.\d{1,3}$/,
    reason: 'sender_blocked',
    category: 'sender_policy',
    source: 'RFC 3463 §3.8 (X.7.x security or policy status; X.7.1 delivery not authorized)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.8',
  },
  // A message line longer than SMTP allows, refused after the data: RFC 5321 §4.5.3.1.6 caps a text
  // line at 1,000 octets with its CRLF, and servers that enforce it answer "line too long" (KumoMTA
  // line_length_hard_limit; Oracle Messaging Server rejectsmtplonglines), Exim-style `500 Line limit
  // exceeded`. The message's form, not the mailbox: only a reply to DATA reads so (at RCPT the same
  // words would be about a command line, RFC 5321 §4.5.3.1.4).
  {
    id: 'data-line-too-long',
    stages: ['data'],
    classes: [5],
    text: /\bline (?:too long|limit exceeded|length (?:exceeds|exceeded|limit))|lines? (?:are |is )?too long\b/i,
    reason: 'unexpected_reply',
    category: 'content_rejected',
    source: 'RFC 5321 §4.5.3.1.6 (text line ≤ 1000 octets); KumoMTA line_length_hard_limit ("line too long")',
    url: 'https://docs.kumomta.com/reference/kumo/start_esmtp_listener/line_length_hard_limit/',
  },
  // RFC 3463 X.5.x "Mail delivery protocol status"; RFC 5321 §4.2.3 500–504, 555 (MAIL/RCPT parameters).
  {
    id: 'protocol-code',
    classes: [5],
    enhanced: /^5\.\d{1,3}$/,
    reason: 'protocol_error',
    category: 'protocol_error',
    source: 'RFC 3463 §3.6 (X.5.x mail delivery protocol status)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.6',
  },
  {
    id: 'protocol-reply-code',
    codes: [500, 501, 502, 503, 504, 555],
    reason: 'protocol_error',
    category: 'protocol_error',
    source: 'RFC 5321 §4.2.3 (500-504, 555)',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-4.2.3',
  },
  {
    id: 'server-error-code',
    classes: [5],
    enhanced: /^3\.\d{1,3}$/,
    reason: 'unexpected_reply',
    category: 'server_error',
    source: 'RFC 3463 §3.4 (X.3.x mail system status)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.4',
  },
  // RFC 3463 X.4.4 "Unable to route": the next hop could not be found in the DNS ("a DNS lookup
  // returning only an SOA record … is one example"); final (5.x), the destination domain has no mail
  // route: Postfix `5.4.4 Host or domain name not found`, Microsoft 5.4.4 `HostUnknown`.
  {
    id: 'unroutable-code',
    classes: [5],
    stages: RECIPIENT_STAGES,
    enhanced: /^4\.4$/,
    reason: 'domain_rejects_mail',
    category: 'domain_unknown',
    source: 'RFC 3463 §3.5 (X.4.4 unable to route); Postfix smtp(8) 5.4.4 Host or domain name not found',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.5',
  },
  // X.4.1 with a refusal in words (`550 5.4.1 All recipient addresses rejected : Access denied`,
  // `541 5.4.1 Mail rejected by destination domain`): the destination's own access rules refused the
  // recipient (Microsoft's Exchange Online NDR reference for 5.4.1: the recipient domain's
  // access/connector settings), which names no missing mailbox.
  {
    id: 'destination-refused-code',
    classes: [5],
    stages: RECIPIENT_STAGES,
    enhanced: /^4\.1$/,
    text: /access denied|rejected|refused/i,
    reason: 'unexpected_reply',
    category: 'recipient_refused',
    source: 'Microsoft Exchange Online NDR reference (5.4.1 access denied); RFC 3463 §3.5',
    url: 'https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/fix-error-code-550-5-4-1-in-exchange-online',
  },
  {
    id: 'network-error-code',
    classes: [5],
    enhanced: /^4\.\d{1,3}$/,
    reason: 'unexpected_reply',
    category: 'network_error',
    source: 'RFC 3463 §3.5 (X.4.x network and routing status)',
    url: 'https://www.rfc-editor.org/rfc/rfc3463#section-3.5',
  },
  // RFC 5321 §4.3.2 lists 550 in the data phase as a "rejection for policy reasons"; by DATA every
  // recipient has been accepted, so a 550 whose words name no mailbox refuses the transaction (its
  // sender, its client or its message) on policy, not an address.
  {
    id: 'data-policy-refused',
    codes: [550],
    stages: ['data'],
    reason: 'sender_blocked',
    category: 'sender_policy',
    source: 'RFC 5321 §4.3.2 (DATA: 450, 550 rejections for policy reasons)',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-4.3.2',
  },
  // A bare 550/553/554 with text that names neither the mailbox nor the sender: not guessed.
  {
    id: 'permanent-other',
    classes: [5],
    reason: 'unexpected_reply',
    category: 'unrecognised',
    source: 'RFC 5321 §4.2.1 (5yz permanent negative completion: says nothing more)',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1',
  },
] as const satisfies readonly ReplyRule[];

/** The id of a rule in `REPLY_RULES`, plus the two decided outside the table. */
export type ReplyRuleId = (typeof REPLY_RULES)[number]['id'] | 'code-out-of-range' | 'unrecognised';

/** The category, source and advice of the two outcomes decided outside the table. */
export const OUTSIDE_RULES = {
  'code-out-of-range': {
    category: 'not_a_reply',
    source: 'RFC 5321 §4.2 (reply codes are three digits, 2yz to 5yz)',
    url: 'https://www.rfc-editor.org/rfc/rfc5321#section-4.2',
  },
  unrecognised: {
    category: 'unrecognised',
    source: 'no rule matched',
    url: null,
  },
} as const;
