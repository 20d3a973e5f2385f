/**
 * `npm run bench:syntax`: rcpt's parseAddress() against validator's isEmail() on the same 1,000,000
 * addresses, in the same process, then rcpt's suggestAddress() (which bulk runs on every row) alone. The list is generated from a seeded PRNG (identical on every run):
 * big providers, corporate domains, subdomains, plus-tags and dots, some IDN and UTF-8 local parts, and
 * about 7% invalid inputs of the kinds users type. Both functions are warmed up, then run in
 * alternating rounds; the median rate of each is reported.
 *
 * Usage: node --import tsx bench/syntax.bench.ts [count] [rounds]
 */
import isEmailModule from 'validator/lib/isEmail.js';

import { parseAddress, suggestAddress } from '../src/syntax/index.js';

// validator is CommonJS: Node hands an ES import `module.exports`, which also carries `.default`.
const isEmail = isEmailModule.default;

const COUNT = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 5);

/** mulberry32: a tiny deterministic PRNG, so every run measures the same list. */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = mulberry32(20261128);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const chance = (p: number): boolean => random() < p;

const FIRST = [
  'james',
  'mary',
  'john',
  'patricia',
  'robert',
  'jennifer',
  'michael',
  'linda',
  'david',
  'elizabeth',
  'wei',
  'fatima',
  'olga',
  'hans',
  'marie',
  'jose',
  'ana',
  'yuki',
  'priya',
  'lars',
];
const LAST = [
  'smith',
  'johnson',
  'williams',
  'brown',
  'jones',
  'garcia',
  'miller',
  'davis',
  'mueller',
  'schmidt',
  'dubois',
  'rossi',
  'kowalski',
  'ivanov',
  'tanaka',
  'kim',
  'nguyen',
  'silva',
  'patel',
  'jensen',
];
const PROVIDERS = [
  'gmail.com',
  'gmail.com',
  'gmail.com',
  'yahoo.com',
  'hotmail.com',
  'outlook.com',
  'icloud.com',
  'aol.com',
  'gmx.de',
  'web.de',
  'yandex.ru',
  'mail.ru',
  'qq.com',
  'live.com',
  'hotmail.co.uk',
  'yahoo.fr',
  'orange.fr',
  'comcast.net',
  'protonmail.com',
  'msn.com',
];
const WORDS = [
  'acme',
  'globex',
  'initech',
  'umbrella',
  'stark',
  'wayne',
  'hooli',
  'vandelay',
  'soylent',
  'tyrell',
  'cyberdyne',
  'wonka',
  'gringotts',
  'oscorp',
  'aperture',
  'massive',
  'dynamic',
  'blue',
  'north',
  'green',
];
const TLDS = [
  'com',
  'com',
  'com',
  'net',
  'org',
  'io',
  'de',
  'co.uk',
  'fr',
  'nl',
  'com.au',
  'ca',
  'ch',
  'se',
  'jp',
];
const SUBS = ['mail', 'corp', 'eu', 'us', 'students', 'staff', 'dept.cs', 'alumni'];
const IDN_DOMAINS = [
  'bücher.de',
  'münchen.de',
  'пример.рф',
  'xn--bcher-kva.de',
  'straße.de',
  '例え.jp',
  'παράδειγμα.gr',
  'café.fr',
];
const UTF8_LOCALS = ['jöran', 'müller', 'ñoño', '用户', 'δοκιμή', 'коля'];

function localPart(): string {
  const first = pick(FIRST);
  const last = pick(LAST);
  let local: string;
  switch (Math.floor(random() * 6)) {
    case 0:
      local = `${first}.${last}`;
      break;
    case 1:
      local = `${first}${last}`;
      break;
    case 2:
      local = `${first[0] ?? 'x'}.${last}`;
      break;
    case 3:
      local = `${first}_${last}${Math.floor(random() * 100)}`;
      break;
    case 4:
      local = `${first}${Math.floor(random() * 10000)}`;
      break;
    default:
      local = `${last}.${first}`;
  }
  if (chance(0.08)) local += `+${pick(['news', 'shop', 'work', 'x1'])}`;
  if (chance(0.1)) local = `${local.charAt(0).toUpperCase()}${local.slice(1)}`;
  return local;
}

function domain(): string {
  const roll = random();
  if (roll < 0.5) return pick(PROVIDERS);
  if (roll < 0.88) return `${pick(WORDS)}${chance(0.3) ? `-${pick(WORDS)}` : ''}.${pick(TLDS)}`;
  return `${pick(SUBS)}.${pick(WORDS)}.${pick(TLDS)}`;
}

/** Invalid inputs of the kinds people type (about 7% of the list). */
function invalidAddress(): string {
  const good = `${localPart()}@${domain()}`;
  switch (Math.floor(random() * 10)) {
    case 0:
      return good.replace('@', '');
    case 1:
      return good.replace('@', '@@');
    case 2:
      return `${good} `;
    case 3:
      return `${pick(FIRST)} ${pick(LAST)} <${good}>`;
    case 4:
      return good.replace(/\.(?=[^.]*$)/, ',');
    case 5:
      return `${good}.`;
    case 6:
      return good.replace('@', '..@');
    case 7:
      return `.${good}`;
    case 8:
      return good.replace('@', ' @');
    default:
      return `${localPart()}@localhost`;
  }
}

function generate(count: number): string[] {
  const list: string[] = [];
  for (let index = 0; index < count; index++) {
    const roll = random();
    if (roll < 0.07) list.push(invalidAddress());
    else if (roll < 0.08) list.push(`${localPart()}@${pick(IDN_DOMAINS)}`);
    else if (roll < 0.085) list.push(`${pick(UTF8_LOCALS)}@${domain()}`);
    else {
      const address = `${localPart()}@${domain()}`;
      list.push(chance(0.03) ? address.toUpperCase() : address);
    }
  }
  return list;
}

function runRcpt(list: readonly string[]): number {
  let valid = 0;
  for (const address of list) if (parseAddress(address).valid) valid++;
  return valid;
}

function runSuggest(list: readonly string[]): number {
  let suggested = 0;
  for (const address of list) if (suggestAddress(address) !== null) suggested++;
  return suggested;
}

function runValidator(list: readonly string[]): number {
  let valid = 0;
  for (const address of list) if (isEmail(address)) valid++;
  return valid;
}

function measure(
  run: (list: readonly string[]) => number,
  list: readonly string[],
): { rate: number; valid: number } {
  const start = process.hrtime.bigint();
  const valid = run(list);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { rate: list.length / seconds, valid };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};
const format = (rate: number): string => `${(rate / 1e6).toFixed(2)} M/s`;

const list = generate(COUNT);
const warmup = list.slice(0, Math.min(100_000, list.length));
runRcpt(warmup);
runValidator(warmup);

const rcptRates: number[] = [];
const validatorRates: number[] = [];
let rcptValid = 0;
let validatorValid = 0;
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order so neither always runs on a warmer or colder heap.
  const order = round % 2 === 0 ? ['rcpt', 'validator'] : ['validator', 'rcpt'];
  for (const name of order) {
    if (name === 'rcpt') {
      const result = measure(runRcpt, list);
      rcptRates.push(result.rate);
      rcptValid = result.valid;
    } else {
      const result = measure(runValidator, list);
      validatorRates.push(result.rate);
      validatorValid = result.valid;
    }
  }
}

runSuggest(warmup);
const suggestRates: number[] = [];
let suggested = 0;
for (let round = 0; round < ROUNDS; round++) {
  const result = measure(runSuggest, list);
  suggestRates.push(result.rate);
  suggested = result.valid;
}

const rcpt = median(rcptRates);
const validator = median(validatorRates);
console.log(
  `node ${process.version}, ${list.length.toLocaleString('en')} addresses, ${ROUNDS} rounds (median)`,
);
console.log(`rcpt parseAddress   ${format(rcpt).padStart(10)}   valid: ${rcptValid.toLocaleString('en')}`);
console.log(
  `validator isEmail   ${format(validator).padStart(10)}   valid: ${validatorValid.toLocaleString('en')}`,
);
console.log(`ratio rcpt/validator ${(rcpt / validator).toFixed(2)}x`);
console.log(
  `rcpt suggestAddress ${format(median(suggestRates)).padStart(10)}   suggestions: ${suggested.toLocaleString('en')}`,
);
