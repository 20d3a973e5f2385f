/**
 * What bounces say in words, without a reply code: each rule maps a diagnosis an MTA writes itself to
 * the RFC 3463 status code that names the same condition, so the explanation goes through the same
 * reply knowledge as a server's reply (`explainReply`). Ordered: the first match decides. Matched
 * against the recipient's lines, then against the whole text before the original message.
 */
export interface BounceTextRule {
  readonly id: string;
  readonly text: RegExp;
  /** The RFC 3463 status the diagnosis amounts to. */
  readonly status: string;
  /**
   * The same condition in the plain words of RFC 3463 (or the MTA whose wording is best known), which
   * is what gets explained: a bounce's own sentence may hold words the reply rules read otherwise
   * (Domino's `not listed in Domino Directory` is no blocklist).
   */
  readonly words: string;
  /**
   * The class is the condition's own (an expired message, a network failure, a null MX), not the
   * report's `Status` class.
   */
  readonly keepClass?: boolean;
  /** Where the wording is documented: the MTA's source or manual, the provider's page, the RFC. */
  readonly source: string;
}

export const BOUNCE_TEXT_RULES: readonly BounceTextRule[] = [
  {
    // procmail, the local delivery agent, reports its own failures (procmail(1), DIAGNOSTICS:
    // `Couldn't create "…"`, `Lock failure on "…"`, `Error while writing to "…"`): the delivery program
    // failed, whatever else the lines it quotes say. RFC 3463 X.3.0.
    id: 'procmail',
    text: /\bprocmail: (?:couldn't create|lock failure|error while writing|couldn't (?:chdir|open|write)|unable to treat as directory)/i,
    status: '5.3.0',
    words: 'Local delivery program failed',
    source: 'procmail(1), DIAGNOSTICS; RFC 3463 X.3.0',
  },
  {
    // Gmail's `You're sending this from a different address or alias using the 'Send mail as' feature.
    // The settings for your 'Send mail as' account are misconfigured` (support.google.com/mail/
    // ?p=CustomFromDenied): the sender's own address is refused, as Postfix's
    // reject_sender_login_mismatch refuses it (`Sender address rejected: not owned by user`).
    id: 'send-mail-as',
    text: /'send mail as'|p=CustomFromDenied/i,
    status: '5.7.1',
    words: 'Sender address rejected: not owned by user',
    source: "Google, Gmail Help: 'Send mail as' (support.google.com/mail/?p=CustomFromDenied)",
  },
  {
    // Google Groups: `the group you tried to contact (…) may not exist, or you may not have permission
    // to post messages to the group` (in the sender's language, with a link to Google Groups help):
    // the group refuses the sender, which says nothing about an address. RFC 3463 X.7.1.
    id: 'google-groups-refused',
    text: /groups\.google\.com\/support|permission to post messages to the group/i,
    status: '5.7.1',
    words: 'Delivery not authorized, message refused',
    source: 'Google Groups Help (groups.google.com/support): posting permissions; RFC 3463 X.7.1',
  },
  {
    // A mailing-list manager refusing a post from an address that is not subscribed: fml's
    // RejectHandler answers `You <sender> are not member (<list> ML)` and sends its deny file
    // (`You are not a member of this mailing list <list@…>`). The list refuses the sender; the list
    // address itself is fine. RFC 3463 X.7.1.
    id: 'list-not-member',
    text: /\bare not (?:a )?member\b|not a member of (?:this|the) (?:mailing )?list|not member article/i,
    status: '5.7.1',
    words: 'Delivery not authorized, message refused',
    source: 'fml 4 kern/fml.pl RejectHandler (https://github.com/fmlorg/fml4); RFC 3463 X.7.1',
  },
  {
    // Quota: Exim `mailbox is full`, Courier `Mailbox over quota`, KDDI `As their mailbox is full`,
    // Exchange `The recipient's mailbox is full`. RFC 3463 X.2.2. Before the expiry: Exim writes the
    // last error before `retry timeout exceeded` (`mailbox is full: retry timeout exceeded`), and the
    // full mailbox is the reason the retries failed.
    id: 'mailbox-full',
    text: /mail ?(?:box|folder) (?:is )?full|mailbox exceed|over ?quota|quota (?:exceeded|full)|exceeded (?:the )?(?:storage|quota|mailbox size)|insufficient (?:disk )?space|mail ?box size limit|disk quota|too much mail|一杯/i,
    status: '4.2.2',
    words: 'Mailbox full',
    source: 'Exim specification (quota), Courier, Microsoft Exchange NDR 5.2.2; RFC 3463 X.2.2',
  },
  {
    // Sendmail `Message could not be delivered for 5 days`, `Cannot send message for 4 days`, Exim
    // `retry timeout exceeded`, Postfix `delivery temporarily suspended` after the queue lifetime
    // (`maximal_queue_lifetime`), qmail `I'm not going to try again; this message has been in the
    // queue too long`, Microsoft `message expired`, Courier `Delivery to this address has been delayed
    // … and will be returned`. RFC 3463 X.4.7: delivery time expired.
    id: 'expired',
    text: /could not be delivered for (?:more than )?\d+|cannot send message for (?:more than )?\d+|retry time(?:out)? (?:exceeded|expired|not reached for any host)|been in the queue too long|message (?:has )?expired|delivery time expired|expired after|too long in (?:the )?queue|no (?:successful )?delivery (?:within|in) |maximum time|was not delivered within|giving up after|after multiple retries|all hosts have been failing for a long time|envelope expired|delivery failed \d+ attempts|will be retried for|have been unable to deliver|could not deliver for the last|aborted after [\d.]+ hours?/i,
    status: '4.4.7',
    words: 'Delivery time expired',
    keepClass: true,
    source:
      'Sendmail (Timeout.queuereturn), Exim retry rules, Postfix maximal_queue_lifetime, qmail-send queuelifetime; RFC 3463 X.4.7',
  },
  {
    // RFC 7505 null MX: Postfix `Domain … does not accept mail (nullMX)`, Gmail `The domain … doesn't
    // receive email according to the administrator: returned NULL MX`. RFC 7505 §4.2: 556 X.1.10.
    id: 'domain-accepts-no-mail',
    text: /does not accept (?:e-?)?mail|doesn't receive e-?mail|null ?mx|indicated no smtp service/i,
    status: '5.1.10',
    words: 'Domain does not accept mail',
    keepClass: true,
    source: 'RFC 7505 §4.2 (null MX: 556 X.1.10); Postfix nullMX; Gmail NULL MX',
  },
  {
    // A DNS failure that may pass: Postfix `Name service error for domain …: Host not found, try
    // again`, glibc `Temporary failure in name resolution`, OpenSMTPD `Temporary failure in MX lookup`
    // and `No MX found for domain` (mta.c: DNS_RETRY and DNS_ENOTFOUND are IMSG_DELIVERY_TEMPFAIL;
    // only DNS_ENONAME, `Domain does not exist`, is permanent). RFC 3463 X.4.3: directory server
    // failure.
    id: 'dns-temporary',
    text: /host not found, try again|temporary failure in (?:name resolution|mx lookup)|no mx found for (?:domain|destination)|name server (?:timeout|failure)|servfail/i,
    status: '4.4.3',
    words: 'Directory server failure',
    keepClass: true,
    source:
      'Postfix smtp(8) (Host not found, try again), glibc EAI_AGAIN, OpenSMTPD usr.sbin/smtpd/mta.c (DNS_RETRY, DNS_ENOTFOUND: temporary); RFC 3463 X.4.3',
  },
  {
    // Exim names an address no router would accept with the router's `cannot_route_message` (Exim
    // specification, generic router options: "used when an address cannot be routed because Exim has run
    // out of routers"; default `Unrouteable address`). cPanel's Exim configuration sets it to `The mail
    // server could not deliver mail to <address>. The account or domain may not exist, they may be
    // blacklisted, or missing the proper dns entries.`: a failure of the sending server's own routing
    // (no usable DNS for the domain), before any remote server was asked, so the "blacklisted" in it is
    // no remote refusal. The same words inside a sender verification (`Verification failed for <x>`,
    // `Sender verify failed`) are about the sender, and are left to the reply rules. RFC 3463 X.1.2.
    id: 'exim-cannot-route',
    text: /^(?![\s\S]*(?:sender verif|verification failed for))[\s\S]*?could not deliver mail to\b[\s\S]{0,300}?account\s+or\s+domain\s+may\s+not\s+exist/i,
    status: '5.1.2',
    words: 'Host or domain name not found',
    source:
      'Exim specification, generic router option cannot_route_message (default Unrouteable address); cPanel Exim configuration; RFC 3463 X.1.2',
  },
  {
    // Postfix `Host or domain name not found`, Exim `all relevant MX records point to non-existent
    // hosts` and `Unrouteable address`, Sendmail `Host unknown (Name server: …: host not found)`,
    // qmail `Sorry, I couldn't find any host named`, Gmail `DNS Error: Domain name not found`.
    // RFC 3463 X.1.2: bad destination system address.
    id: 'host-unknown',
    text: /host or domain name not found|domain name not found|host unknown|unknown host|couldn't find any host|could not find any host|non-existent hosts?|unrout(?:e)?able (?:address|domain|mail domain)|no such domain|domain (?:does not exist|not found)|name or service not known|nxdomain|no mx (?:record|host)s?|dns error|dns lookup failure|couldn't find a mail exchanger|could not find a mail exchanger|could not find a gateway|domain is not reachable/i,
    status: '5.1.2',
    words: 'Host or domain name not found',
    source: 'Postfix, Exim (Unrouteable address), Sendmail (Host unknown), qmail; RFC 3463 X.1.2',
  },
  {
    // Recipient account states: Exchange `The recipient's mailbox is disabled`, Gmail `The account … is
    // disabled`, Yahoo `This account has been disabled or discontinued`, RFC 3463 X.2.1.
    id: 'mailbox-disabled',
    text: /(?:account|mailbox|user) (?:has been |is )?(?:disabled|suspended|deactivated|inactive|locked|frozen|discontinued|blocked)|(?:disabled|inactive|suspended|expired) (?:account|mailbox|user)/i,
    status: '5.2.1',
    words: 'Mailbox disabled, not accepting messages',
    source: 'Microsoft Exchange, Gmail, Yahoo account states; RFC 3463 X.2.1',
  },
  {
    // Unknown recipient in words: Exchange 2003 `The recipient name is not recognized`, IMail `Unknown
    // user:`, X2 `This user doesn't have a … account`, Notes `User … not listed in public Name &
    // Address Book`, Courier `Unknown local user`, Google Groups `… group does not exist`, Microsoft
    // DBEB `5.4.1 Recipient address rejected: Access denied` quoted by a gateway (Microsoft's 5.4.1
    // NDR page: the recipient does not exist in the tenant), Verizon's MMS gateway `No valid
    // recipients for this MM` (its one recipient). RFC 3463 X.1.1.
    id: 'mailbox-unknown',
    text: /user unknown|unknown (?:local )?user|unknown recipient|no such (?:user|mailbox|recipient|address|person)|recipient (?:name )?is not recognized|(?:does ?n[o']t|doesn't) have an? [^.]{0,60}account|(?:mailbox|user|recipient|address|account) (?:does not exist|doesn't exist|not found|unknown|unavailable)|not listed in (?:public )?(?:name|domino)|invalid (?:recipient|mailbox|address|final delivery userid)|no mailbox|not a valid (?:user|mailbox|recipient)|check if (?:the )?address is correct|recipient address rejected: access denied|no valid recipients?\b/i,
    status: '5.1.1',
    words: 'User unknown',
    source: 'Exchange 2003, IMail, Lotus Notes, Courier, Microsoft 5.4.1 NDR page; RFC 3463 X.1.1',
  },
  {
    // A recipient written as a name-addr whose display name is malformed (Exim moan.c
    // ERRMESS_BADADDRESS: `x@example.com <y@example.org>: malformed address: <y@example.org> may not
    // follow x@example.com`): the header's wording is wrong, not the mailbox, which was never tried.
    // RFC 3463 X.6.0 (a problem with the message's form); RFC 5322 §3.4 (name-addr).
    id: 'malformed-header-address',
    text: /malformed address in the message header/i,
    status: '5.6.0',
    words: 'Message header malformed',
    source: 'Exim src/src/moan.c (ERRMESS_BADADDRESS); RFC 5322 §3.4; RFC 3463 X.6.0',
  },
  {
    // A recipient address the MTA could not parse: Exim's `malformed address: …` notice (moan.c,
    // ERRMESS_BADADDRESS, subject `Mail failure - malformed recipient address`). RFC 3463 X.1.3: bad
    // destination mailbox address syntax.
    id: 'malformed-address',
    text: /malformed (?:recipient )?address|incorrectly constructed/i,
    status: '5.1.3',
    words: 'Bad destination mailbox address syntax',
    source: 'Exim src/src/moan.c (ERRMESS_BADADDRESS, "malformed recipient address"); RFC 3463 X.1.3',
  },
  {
    // RFC 3463 X.1.6: destination mailbox has moved, no forwarding address.
    id: 'mailbox-moved',
    text: /has moved|no longer (?:with|at|available at)|no forwarding address/i,
    status: '5.1.6',
    words: 'Mailbox has moved',
    source: 'RFC 3463 X.1.6 (destination mailbox has moved, no forwarding address)',
  },
  {
    // Sizes: Exim `message too big`, Sendmail `Message size exceeds fixed maximum message size`.
    // RFC 3463 X.3.4.
    id: 'message-too-big',
    text: /message (?:is )?too (?:big|large)|size limit exceeded|size exceeds|exceeds (?:the )?(?:maximum )?(?:message )?size|message size limit/i,
    status: '5.3.4',
    words: 'Message too big for system',
    source: 'Exim, Sendmail (Message size exceeds fixed maximum); RFC 1870; RFC 3463 X.3.4',
  },
  {
    // Relaying: Sendmail `Relaying denied`, Exim `relay not permitted`. RFC 3463 X.7.1.
    id: 'relay-denied',
    text: /relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited|disallowed)|unable to relay/i,
    status: '5.7.1',
    words: 'Relay access denied',
    source: 'Sendmail (Relaying denied), Exim (relay not permitted); RFC 3463 X.7.1',
  },
  {
    // The sender named as blocked: Exim ACLs `you are sending to/from an address that has been
    // blacklisted`, DNSBL rejections quoted without their reply. RFC 3463 X.7.1.
    id: 'sender-blocked',
    text: /black ?listed|block ?listed|blocked (?:by|using|because)|\bspam\b|not (?:allowed|permitted|authori[sz]ed) to (?:send|post)|permission to post/i,
    status: '5.7.1',
    words: 'Client host blocked',
    source: 'Exim ACLs, DNSBL rejections (RFC 5782); RFC 3463 X.7.1',
  },
  {
    // Local delivery programs: Sendmail `unknown mailer error`, Exim `Child process of … returned`,
    // Postfix `Command died with status`, procmail/maildrop exit codes. Sendmail's summary line
    // (`550 5.0.0 <a@example.com>... Insufficient permission`) gives a local program's exit status in
    // the words of its sysexits table (sysexits.c SysExMsg: 66 `Cannot open input`, 71 `Operating
    // system error`, 72 `System file missing`, 73 `Can't create output`, 77 `Insufficient
    // permission`, 78 `Local configuration error`); what the program wrote above it, when a rule
    // reads it, decides first (bounce-text.ts). RFC 3463 X.3.0.
    id: 'mailer-error',
    text: /mailer error|unknown mailer|command died|child process of|returned (?:a )?(?:non-zero|error) (?:exit )?(?:code|status)|exit (?:code|status) \d|pipe to \||\.\.\. (?:insufficient permission|can't create output|cannot open input|operating system error|system file missing|local configuration error)\b/i,
    status: '5.3.0',
    words: 'Local delivery program failed',
    source:
      'Sendmail (unknown mailer error; sysexits.c SysExMsg), Exim (Child process of … returned), Postfix pipe(8); sysexits(3); RFC 3463 X.3.0',
  },
  {
    // A mail loop stopped: fml's `Loop Alert: Duplicated Message-ID` (a post it has already
    // distributed, DupMessageIdP) and `fml <list> has detected a loop condition`, qmail `This message
    // is looping`. RFC 3463 X.4.6: routing loop detected.
    id: 'mail-loop',
    text: /duplicated message-id|has detected a loop condition|message is looping|mail loop detected/i,
    status: '5.4.6',
    words: 'Routing loop detected',
    source:
      'fml 4 kern/fml.pl MailLoopP, DupMessageIdP (https://github.com/fmlorg/fml4); qmail-local; RFC 3463 X.4.6',
  },
  {
    // Network: Postfix `connect to …: Connection timed out`, Sendmail `Deferred: Connection refused by`,
    // qmail `Sorry, I wasn't able to establish an SMTP connection`, `lost connection`. RFC 3463 X.4.1
    // (no answer from host) and X.4.2 (bad connection).
    id: 'network',
    text: /did not accept our requests to connect|network error|connection (?:timed out|refused|reset|closed|lost)|lost connection|timed out|no route to host|network is unreachable|couldn't connect|unable to connect|wasn't able to establish|could not connect|connect to [^\s]+ failed/i,
    status: '4.4.1',
    words: 'Connection timed out',
    keepClass: true,
    source: 'Postfix smtp(8), Sendmail (Deferred: Connection refused), qmail-remote; RFC 3463 X.4.1, X.4.2',
  },
];

/** The first rule whose wording the text holds. */
export function matchBounceText(text: string): BounceTextRule | null {
  return BOUNCE_TEXT_RULES.find((rule) => rule.text.test(text)) ?? null;
}

/**
 * The reply a rule's condition amounts to (`550 5.1.1 User unknown`), in the class of the report's
 * status when there is one (a `4.0.0` report of a missing host is a temporary failure), unless the
 * condition has its own class. RFC 7505's null MX is 556.
 */
export function replyForRule(rule: BounceTextRule, reportStatus: string | null): string {
  const reportClass = reportStatus?.[0];
  const cls =
    rule.keepClass === true || reportClass === undefined || reportClass === '2'
      ? rule.status[0]
      : reportClass;
  const code = rule.id === 'domain-accepts-no-mail' && cls === '5' ? '556' : `${cls ?? '5'}50`;
  return `${code} ${cls ?? '5'}${rule.status.slice(1)} ${rule.words}`;
}

/**
 * Evidence that a message is a bounce: a sender that is a mail system (RFC 3464 §2 suggests
 * `MAILER-DAEMON`, `postmaster`), Exim's `X-Failed-Recipients`, or a subject one of the MTAs uses
 * (Postfix `Undelivered Mail Returned to Sender`, Sendmail `Returned mail:`, qmail `failure notice`,
 * Exim `Mail delivery failed`, Microsoft `Undeliverable:`, Gmail `Delivery Status Notification`).
 */
export const BOUNCE_SENDER =
  /mailer-daemon|post_?master|mail delivery (?:subsystem|system)|mail ?administrator|mail-?system|\bmaildelivery\b|returned ?mail/i;
export const BOUNCE_SUBJECT =
  /undeliver|undelivered|delivery (?:status|failure|failed|notification|problem|has failed)|returned mail|returning message|failure notice|mail delivery|non-?deliver|could not be delivered|not delivered|delivery report|mail system error|mail failure|rejected|bounce|メールエラー|配信|délivr|unzustellbar|nicht zugestellt|no entregado/i;

/**
 * Automatic replies (RFC 3834): `Auto-Submitted: auto-replied`, and the headers vacation programs set
 * instead (`X-Autoreply`, `X-Autorespond`, `Precedence: auto_reply`, Microsoft
 * `X-MS-Exchange-Inbox-Rules-Loop`/`X-Auto-Response-Suppress` are not enough alone), or a subject like
 * `Out of Office`, `Automatic reply:`, `Auto:`, `Vacation`, `Abwesenheitsnotiz`, `Réponse automatique`.
 */
export const AUTO_REPLY_SUBJECT =
  /out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response|antwort)|^auto:|vacation|abwesen|réponse automatique|respuesta automática|risposta automatica|自動応答|不在/i;

/**
 * Notices of mailing-list managers that refuse a post to a list: not bounces by their sender or
 * subject, but a failed delivery to the list address all the same, which the notice names in angle
 * brackets (`<list@example.org>`). Told apart by the manager's own header and the subject it writes.
 */
export interface ListManagerNotice {
  readonly id: string;
  /** The header that names the list manager, lower-case, and what it says. */
  readonly header: string;
  readonly software: RegExp;
  readonly subject: RegExp;
  readonly source: string;
}

export const LIST_MANAGER_NOTICES: readonly ListManagerNotice[] = [
  {
    // fml 4 (kern/fml.pl): RejectHandler's `You <sender> are not member (<list> ML)` and the
    // maintainer's `Loop Alert: Duplicated Message-ID (<list> ML)`, both with `X-MLServer: fml […]`.
    id: 'fml',
    header: 'x-mlserver',
    software: /^\s*fml\b/i,
    subject: /^you \S+ are not member\b|^loop alert: /i,
    source: 'fml 4 kern/fml.pl (RejectHandler, MailLoopP, DupMessageIdP), https://github.com/fmlorg/fml4',
  },
];
