/**
 * Entries of `email-providers/all.json` that are typos of a big provider's domain, not providers.
 * That list was harvested from sign-up data, so it holds what users typed, slips included. Left in,
 * these would count as "free providers" and be protected from typo correction. Found by running the
 * suggestion rules over every all.json domain (2026-11, email-providers 2.26.0) and reviewing each hit:
 * all are the provider's name with one slip, and most are on mailchecker's blocklist, which collects
 * typo-squatting domains. Hits that are real services stayed out: `y7mail.com` (Yahoo!7 Australia),
 * `prontomail.com`, `proto2mail.com`, `ymail4.com`.
 *
 * `gmai.com` is one of them: it is not Google's (Google's mail domains are gmail.com and
 * googlemail.com); it is a typo-squat listed by mailchecker, and mail sent there does not reach the
 * Gmail user who meant it.
 */
export const KNOWN_TYPO_DOMAINS: readonly string[] = [
  'gamil.com',
  'gmai.com',
  'gmail.co',
  'gmail.com.com',
  'gmail.om',
  'gmal.com',
  'gmial.com',
  'homail.com',
  'hotmai.com',
  'hotmail.cm',
  'hotmail.con',
  'hotmails.com',
  'hotmial.com',
  'yaho.com',
  'yahoo.om',
];
