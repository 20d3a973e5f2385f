/**
 * Data for `suggestAddress()`: which domains a typo may be corrected to, which must never be
 * corrected, and which top-level-domain slips are certain. Curated by hand; each group says why.
 * False corrections are worse than misses: a suggestion that rewrites a real address sends a user's
 * mail to a stranger, a missed typo only costs a bounce.
 */

/**
 * Mail domains a typo may be corrected *to*. Only providers with a distinctive second-level name are
 * here: a name that is also a common word or very short (`mail`, `live`, `me`, `web`, `free`,
 * `orange`, `naver`, `gmx`, `aol`) has real neighbours (`mall.com`, `life.com`, `orage.fr`,
 * `never.com`) that a fuzzy match would wrongly "correct". Those are protected instead (below).
 */
export const TYPO_TARGETS: readonly string[] = [
  // Google
  'gmail.com',
  'googlemail.com',
  // Yahoo (incl. its ymail.com / rocketmail.com brands) and national domains with many users
  'yahoo.com',
  'yahoo.co.uk',
  'yahoo.fr',
  'yahoo.de',
  'yahoo.it',
  'yahoo.es',
  'yahoo.ca',
  'yahoo.com.br',
  'yahoo.co.in',
  'yahoo.co.jp',
  'yahoo.com.au',
  'ymail.com',
  'rocketmail.com',
  // Microsoft consumer mail
  'hotmail.com',
  'hotmail.co.uk',
  'hotmail.fr',
  'hotmail.de',
  'hotmail.it',
  'hotmail.es',
  'hotmail.com.br',
  'outlook.com',
  'outlook.fr',
  'outlook.de',
  'outlook.es',
  // Apple, Proton, Tuta, Fastmail
  'icloud.com',
  'protonmail.com',
  'protonmail.ch',
  'tutanota.com',
  'fastmail.com',
  // Russia
  'yandex.ru',
  'yandex.com',
  'rambler.ru',
  // US and UK ISPs
  'comcast.net',
  'verizon.net',
  'sbcglobal.net',
  'bellsouth.net',
  'earthlink.net',
  'optonline.net',
  'btinternet.com',
  'virginmedia.com',
  // France, Germany
  'wanadoo.fr',
  'laposte.net',
  't-online.de',
];

/**
 * Real mail domains that sit close to a target and must never be corrected, whatever the packaged
 * lists say. Most come from the providers' own sign-up pages; the rest are real services whose names
 * are one edit from a target.
 */
export const PROTECTED_DOMAINS: readonly string[] = [
  // United Internet: GMX, WEB.DE and mail.com brands (mail.com also sells email.com, usa.com, …)
  'gmx.com',
  'gmx.de',
  'gmx.net',
  'gmx.at',
  'gmx.ch',
  'gmx.fr',
  'gmx.es',
  'gmx.us',
  'gmx.co.uk',
  'gmx.li',
  'web.de',
  'mail.com',
  'email.com',
  'usa.com',
  'mail.de',
  'mail.ee',
  'mailo.com',
  // Apple, Microsoft, AOL, Yahoo, Google short domains
  'me.com',
  'mac.com',
  'live.com',
  'live.co.uk',
  'live.fr',
  'live.de',
  'msn.com',
  'aol.com',
  'aim.com',
  'ymail.com',
  'yahoo.co.uk',
  'yahoo.fr',
  'hotmail.co.uk',
  'google.com',
  // Russia and Eastern Europe
  'ya.ru',
  'mail.ru',
  'inbox.ru',
  'list.ru',
  'bk.ru',
  'yandex.ua',
  'yandex.by',
  'yandex.kz',
  'ukr.net',
  // Germany, France, Italy, Netherlands
  't-online.de',
  'freenet.de',
  'posteo.de',
  'orange.fr',
  'free.fr',
  'sfr.fr',
  'neuf.fr',
  'libero.it',
  'virgilio.it',
  'tiscali.it',
  'ziggo.nl',
  'kpnmail.nl',
  // Proton
  'proton.me',
  'pm.me',
  'protonmail.ch',
  // US ISPs and services
  'comcast.net',
  'att.net',
  'cox.net',
  'charter.net',
  'juno.com',
  'netzero.net',
  'earthling.net',
  'pocketmail.com',
  'cloud.com',
  'hey.com',
  'zoho.com',
  // Asia
  'qq.com',
  '163.com',
  '126.com',
  'yeah.net',
  'naver.com',
  'daum.net',
  'hanmail.net',
];

/**
 * What a top-level label that is not in the root zone (`.con`, `.c0m`, `.nry`, `.couk`) is corrected
 * to, for any domain: the one of these within 1 of it, counting a neighbouring key as half a slip (see
 * `keyboardDistance`). Such a domain can receive no mail, so the fix can never rewrite a real address.
 */
export const COMMON_SUFFIXES: readonly string[] = ['com', 'net', 'org', 'co.uk'];

/**
 * Names that are not in the root zone but are reserved for local use (RFC 6761 `.test`, `.example`,
 * `.invalid`, `.localhost`; RFC 6762 `.local`; RFC 7686 `.onion`; RFC 9476 `.alt`; ICANN's
 * `.internal`): never corrected, a test network or an intranet may use them on purpose.
 */
export const SPECIAL_USE_TLDS: ReadonlySet<string> = new Set([
  'test',
  'example',
  'invalid',
  'localhost',
  'local',
  'onion',
  'alt',
  'internal',
]);

/**
 * Provider names whose first letter may be the slip: dropped (`otmail`, `ahoo`) or a neighbouring key
 * (`jotmail`, `tahoo`). These are the biggest providers, the ones most slips are made on, and their
 * name minus or with another first letter is not a mail service. Left out: `gmail` (`mail.com`,
 * `fmail.com`, `hmail`, `vmail` are real services), `icloud` (`cloud.com`, `ucloud`, `ocloud` are cloud
 * companies), `ymail` (`mail.com`).
 */
export const LOOSE_START_NAMES: ReadonlySet<string> = new Set([
  'yahoo',
  'hotmail',
  'outlook',
  'googlemail',
  'protonmail',
]);

/**
 * Top-level slips that are real TLDs (`.co` Colombia, `.cm` Cameroon, `.om` Oman, `.ne` Niger): they
 * are corrected only after a typo-target name (`gmail.cm` → `gmail.com`), and only when the result
 * is a typo target, because `shop.cm` may well be a Cameroonian shop. `.c` and `.nt` are not in the root
 * zone, but after a target name they mean `.com` and `.net` (`yahoo.c` is not `yahoo.ca`).
 */
export const TARGET_TLD_FIXES: ReadonlyMap<string, string> = new Map([
  ['co', 'com'],
  ['cm', 'com'],
  ['om', 'com'],
  ['c', 'com'],
  ['ne', 'net'],
  ['nt', 'net'],
]);

/** Public suffixes of two labels used by the targets, so `hotmial.co.uk` splits as `hotmial` + `co.uk`. */
export const TWO_LABEL_SUFFIXES: ReadonlySet<string> = new Set([
  'co.uk',
  'co.jp',
  'co.in',
  'com.br',
  'com.au',
  'com.ar',
  'com.mx',
  'co.nz',
  'co.za',
]);

/**
 * Entries of `email-providers/all.json` that are typo domains of a target, not providers (the list
 * was harvested from sign-up data, typos included). Without this list they would be protected as
 * "known real" and never corrected. Each was checked: it is the target's name with a slip, registered
 * by someone other than the provider (typo-squatting) or not used for mail at all.
 */
export const KNOWN_TYPO_DOMAINS: readonly string[] = [];
