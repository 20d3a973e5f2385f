import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parseAddress } from '../../../src/syntax/index.js';
import { SYNTAX_ERROR_CODES, type SyntaxErrorCode } from '../../../src/types.js';

/** An invalid case: the input, the exact code, and the exact index (UTF-16 code units) of the error. */
type InvalidCase = readonly [input: string, code: SyntaxErrorCode, index: number];

const L63 = 'a'.repeat(63);

const groups: Record<string, readonly InvalidCase[]> = {
  // Inputs that are not addresses at all.
  'empty, too long': [
    ['', 'EMPTY', 0],
    ['x'.repeat(5000), 'TOO_LONG', 4096],
    [`${'a'.repeat(4000)}@${'b'.repeat(100)}.com`, 'TOO_LONG', 4096],
  ],
  // README "White space": not trimmed; ECMAScript String.prototype.trim() characters at the ends.
  'white space (README; RFC 5321 has no FWS)': [
    [' a@example.com', 'WHITESPACE', 0],
    ['a@example.com ', 'WHITESPACE', 13],
    ['\ta@example.com', 'WHITESPACE', 0],
    ['a@example.com\n', 'WHITESPACE', 13],
    ['a@example.com\r\n', 'WHITESPACE', 14],
    ['\u00a0a@example.com', 'WHITESPACE', 0],
    ['a@example.com\u3000', 'WHITESPACE', 13],
    ['\ufeffa@example.com', 'WHITESPACE', 0],
    ['a b@example.com', 'WHITESPACE', 1],
    ['a@exa mple.com', 'WHITESPACE', 5],
    ['a @example.com', 'WHITESPACE', 1],
    ['a@ example.com', 'WHITESPACE', 2],
    ['a@example .com', 'WHITESPACE', 9],
    ['a\u00a0b@example.com', 'WHITESPACE', 1],
    ['a\u2003b@example.com', 'WHITESPACE', 1],
    ['a@exa\u3000mple.com', 'WHITESPACE', 5],
    ['a@[1.2.3.4 ]', 'WHITESPACE', 10],
    // Obsolete RFC 5322 §4.4 obs-local-part with CFWS around the dots.
    ['a. b@example.com', 'WHITESPACE', 2],
    ['a .b@example.com', 'WHITESPACE', 1],
    ['this is"not\\allowed@example.com', 'WHITESPACE', 4],
  ],
  // RFC 5321 §4.1.2: no control characters anywhere, not even in a Quoted-string (qtextSMTP has none).
  'control characters (RFC 5321 §4.1.2 qtextSMTP, quoted-pairSMTP)': [
    ['a\u0000b@example.com', 'CONTROL_CHAR', 1],
    ['a\rb@example.com', 'CONTROL_CHAR', 1],
    ['a\nb@example.com', 'CONTROL_CHAR', 1],
    ['a\tb@example.com', 'CONTROL_CHAR', 1],
    ['a\u001bb@example.com', 'CONTROL_CHAR', 1],
    ['a\u007f@example.com', 'CONTROL_CHAR', 1],
    ['a\u0085@example.com', 'CONTROL_CHAR', 1],
    ['a\u009f@example.com', 'CONTROL_CHAR', 1],
    ['a@exa\nmple.com', 'CONTROL_CHAR', 5],
    ['a@example\u0000.com', 'CONTROL_CHAR', 9],
    ['a@exam\u0085ple.com', 'CONTROL_CHAR', 6],
    ['"a\nb"@example.com', 'CONTROL_CHAR', 2],
    ['"a\rb"@example.com', 'CONTROL_CHAR', 2],
    ['"a\tb"@example.com', 'CONTROL_CHAR', 2],
    ['"a\u0000"@example.com', 'CONTROL_CHAR', 2],
    ['"\\\n"@example.com', 'CONTROL_CHAR', 2],
    ['"\\\u0000"@example.com', 'CONTROL_CHAR', 2],
    ['"a\u0090"@example.com', 'CONTROL_CHAR', 2],
    ['a@[1.2.3.4\u0000]', 'CONTROL_CHAR', 10],
    // SMTP command injection: the CR is reported, not the angle brackets.
    ['bob@example.com\r\nRCPT TO:<x@example.com>', 'CONTROL_CHAR', 15],
    ['bob\r\n@example.com', 'CONTROL_CHAR', 3],
  ],
  // RFC 5322 §3.4 name-addr is message-header syntax, not a mailbox.
  'display names, angle brackets (RFC 5322 §3.4)': [
    ['Bob <bob@example.com>', 'DISPLAY_NAME', 4],
    ['<bob@example.com>', 'DISPLAY_NAME', 0],
    ['"Bob Smith" <bob@example.com>', 'DISPLAY_NAME', 12],
    ['Bob<bob@example.com>', 'DISPLAY_NAME', 3],
    ['"bob@example.com" <bob@example.com>', 'DISPLAY_NAME', 18],
    ['=?utf-8?q?Bob?= <bob@example.com>', 'DISPLAY_NAME', 16],
  ],
  // RFC 5322 §3.2.2 comments (CFWS) are not part of an RFC 5321 Mailbox.
  'comments (RFC 5322 §3.2.2)': [
    ['bob(comment)@example.com', 'COMMENT', 3],
    ['(comment)bob@example.com', 'COMMENT', 0],
    ['bob@(comment)example.com', 'COMMENT', 4],
    ['bob@example.com(comment)', 'COMMENT', 15],
    ['bob@example.com (Bob)', 'COMMENT', 16],
    ['bob@exa(c)mple.com', 'COMMENT', 7],
    ['bob)@example.com', 'COMMENT', 3],
  ],
  // RFC 5321 §4.1.2 Mailbox = Local-part "@" ( Domain / address-literal ).
  'no "@" (RFC 5321 §4.1.2 Mailbox)': [
    ['bob', 'NO_AT', 3],
    ['bob.example.com', 'NO_AT', 15],
    ['"bob"', 'NO_AT', 5],
    ['"bob@example.com"', 'NO_AT', 17],
    ['bob＠example.com', 'NO_AT', 15],
    ['Abc.example.com', 'NO_AT', 15],
  ],
  'empty local part': [
    ['@example.com', 'LOCAL_EMPTY', 0],
    ['@', 'LOCAL_EMPTY', 0],
    ['@@example.com', 'LOCAL_EMPTY', 0],
  ],
  // RFC 5321 §4.1.2 Dot-string = Atom *("." Atom): no empty atoms.
  'dots in a Dot-string (RFC 5321 §4.1.2)': [
    ['.a@example.com', 'LEADING_DOT', 0],
    ['.@example.com', 'LEADING_DOT', 0],
    ['..@example.com', 'LEADING_DOT', 0],
    ['a.@example.com', 'TRAILING_DOT', 1],
    ['a.b.@example.com', 'TRAILING_DOT', 3],
    ['a..b@example.com', 'CONSECUTIVE_DOTS', 2],
    ['john..doe@example.com', 'CONSECUTIVE_DOTS', 5],
    ['a...b@example.com', 'CONSECUTIVE_DOTS', 2],
    ['a.b..c@example.com', 'CONSECUTIVE_DOTS', 4],
    ['ü..ü@example.com', 'CONSECUTIVE_DOTS', 2],
  ],
  // RFC 5322 §3.2.3 specials outside a Quoted-string; examples from Wikipedia's invalid list.
  'specials outside quotes (RFC 5321 §4.1.2, RFC 5322 §3.2.3)': [
    ['a"b@example.com', 'UNQUOTED_SPECIAL', 1],
    ['a,b@example.com', 'UNQUOTED_SPECIAL', 1],
    ['a:b@example.com', 'UNQUOTED_SPECIAL', 1],
    ['a;b@example.com', 'UNQUOTED_SPECIAL', 1],
    ['a[b@example.com', 'UNQUOTED_SPECIAL', 1],
    ['a]b@example.com', 'UNQUOTED_SPECIAL', 1],
    ['a\\b@example.com', 'UNQUOTED_SPECIAL', 1],
    ['a<b@example.com', 'UNQUOTED_SPECIAL', 1],
    ['a>b@example.com', 'UNQUOTED_SPECIAL', 1],
    ['a."b"@example.com', 'UNQUOTED_SPECIAL', 2],
    ['just"not"right@example.com', 'UNQUOTED_SPECIAL', 4],
    ['this\\ still\\"not\\\\allowed@example.com', 'UNQUOTED_SPECIAL', 4],
    ['a"b(c)d,e:f;g<h>i[j\\k]l@example.com', 'UNQUOTED_SPECIAL', 1],
    ['mailto:bob@example.com', 'UNQUOTED_SPECIAL', 6],
    ['[bob]@example.com', 'UNQUOTED_SPECIAL', 0],
    ['bob;alice@example.com', 'UNQUOTED_SPECIAL', 3],
  ],
  'unterminated quoted strings': [
    ['"abc@example.com', 'UNTERMINATED_QUOTE', 0],
    ['"abc\\"@example.com', 'UNTERMINATED_QUOTE', 0],
    ['"', 'UNTERMINATED_QUOTE', 0],
    ['"\\', 'UNTERMINATED_QUOTE', 0],
    ['"a\\"', 'UNTERMINATED_QUOTE', 0],
  ],
  // RFC 5321 §4.1.2 quoted-pairSMTP = %d92 %d32-126; RFC 6531 does not extend it.
  'quoted-pair of a non-ASCII character': [
    ['"a\\é"@example.com', 'QUOTED_INVALID_CHAR', 3],
    ['"\\ü"@example.com', 'QUOTED_INVALID_CHAR', 2],
    ['"\\\u00a0"@example.com', 'QUOTED_INVALID_CHAR', 2],
  ],
  // RFC 5321 Local-part is one Quoted-string; RFC 5322 §4.4 obs-local-part ("a".b) is obsolete.
  'text after a closing quote (obs-local-part)': [
    ['"a".b@example.com', 'TEXT_AFTER_QUOTE', 3],
    ['"a"b@example.com', 'TEXT_AFTER_QUOTE', 3],
    ['"a""b"@example.com', 'TEXT_AFTER_QUOTE', 3],
    ['"a" @example.com', 'TEXT_AFTER_QUOTE', 3],
    ['"a"."b"@example.com', 'TEXT_AFTER_QUOTE', 3],
    ['""a@example.com', 'TEXT_AFTER_QUOTE', 2],
  ],
  // RFC 3629: UTF-8 cannot encode a lone surrogate; JavaScript strings can hold one.
  'unpaired surrogates (RFC 3629)': [
    ['a\ud800@example.com', 'INVALID_UTF8', 1],
    ['a\udc00b@example.com', 'INVALID_UTF8', 1],
    ['"\ud800"@example.com', 'INVALID_UTF8', 1],
    ['a@exa\ud83dmple.com', 'INVALID_UTF8', 5],
    ['\ude00\ud83d@example.com', 'INVALID_UTF8', 0],
  ],
  // RFC 5321 §4.5.3.1.1: 64 octets, counted in UTF-8 (RFC 6531 §3.4), quotes included.
  'local part over 64 octets (RFC 5321 §4.5.3.1.1)': [
    [`${'a'.repeat(65)}@example.com`, 'LOCAL_TOO_LONG', 64],
    [`${'a'.repeat(100)}@example.com`, 'LOCAL_TOO_LONG', 64],
    [`${'é'.repeat(33)}@example.com`, 'LOCAL_TOO_LONG', 32],
    [`${'用'.repeat(22)}@example.com`, 'LOCAL_TOO_LONG', 21],
    [`${'😀'.repeat(17)}@example.com`, 'LOCAL_TOO_LONG', 32],
    [`"${'q'.repeat(63)}"@example.com`, 'LOCAL_TOO_LONG', 64],
  ],
  'empty domain': [
    ['a@', 'DOMAIN_EMPTY', 2],
    ['"a"@', 'DOMAIN_EMPTY', 4],
  ],
  // RFC 5321 §4.1.2 Domain = sub-domain *("." sub-domain): no empty labels.
  'empty labels (RFC 5321 §4.1.2)': [
    ['a@.example.com', 'LABEL_EMPTY', 2],
    ['a@example..com', 'LABEL_EMPTY', 10],
    ['a@.', 'LABEL_EMPTY', 2],
    ['a@..', 'LABEL_EMPTY', 2],
    ['a@example.com..', 'LABEL_EMPTY', 14],
    ['a@bücher..de', 'LABEL_EMPTY', 9],
  ],
  // README: RFC 5321 domains have no root dot; `a@example.com.` is refused with its own code.
  'trailing root dot (README)': [
    ['a@example.com.', 'DOMAIN_TRAILING_DOT', 13],
    ['a@example.', 'DOMAIN_TRAILING_DOT', 9],
    ['a@bücher.de.', 'DOMAIN_TRAILING_DOT', 11],
  ],
  // RFC 5321 §4.1.2 sub-domain: letters, digits, hyphens (LDH, RFC 952 / RFC 1123 §2.1).
  'characters outside LDH (RFC 5321 §4.1.2 sub-domain)': [
    ['a@exa_mple.com', 'DOMAIN_INVALID_CHAR', 5],
    ['a@_dmarc.example.com', 'DOMAIN_INVALID_CHAR', 2],
    ['a@example!.com', 'DOMAIN_INVALID_CHAR', 9],
    ['a@example,com', 'DOMAIN_INVALID_CHAR', 9],
    ['a@example/com', 'DOMAIN_INVALID_CHAR', 9],
    ['a@example*.com', 'DOMAIN_INVALID_CHAR', 9],
    ["a@ex'ample.com", 'DOMAIN_INVALID_CHAR', 4],
    ['a@b@example.com', 'DOMAIN_INVALID_CHAR', 3],
    ['A@b@c@example.com', 'DOMAIN_INVALID_CHAR', 3],
    ['a@example.com>', 'DOMAIN_INVALID_CHAR', 13],
    ['a@example.com]', 'DOMAIN_INVALID_CHAR', 13],
    ['a@example.com:25', 'DOMAIN_INVALID_CHAR', 13],
    ['a@example.com/path', 'DOMAIN_INVALID_CHAR', 13],
    ['a@exa"mple.com', 'DOMAIN_INVALID_CHAR', 5],
    ['a@example.com;b@example.com', 'DOMAIN_INVALID_CHAR', 13],
    ['a@example.com,b@example.com', 'DOMAIN_INVALID_CHAR', 13],
    ['a@x.y.z%example.com', 'DOMAIN_INVALID_CHAR', 7],
    ['a@foo+bar.com', 'DOMAIN_INVALID_CHAR', 5],
  ],
  // RFC 5321 §4.1.2 sub-domain = Let-dig [Ldh-str]: starts and ends with a letter or digit.
  'hyphens at label ends (RFC 5321 §4.1.2 Let-dig)': [
    ['a@-example.com', 'LABEL_HYPHEN', 2],
    ['a@example-.com', 'LABEL_HYPHEN', 9],
    ['a@example.-com', 'LABEL_HYPHEN', 10],
    ['a@example.com-', 'LABEL_HYPHEN', 13],
    ['a@-.com', 'LABEL_HYPHEN', 2],
    ['a@xn--.com', 'LABEL_HYPHEN', 5],
    ['a@-bücher.de', 'LABEL_HYPHEN', 2],
    ['a@bücher-.de', 'LABEL_HYPHEN', 8],
  ],
  // RFC 1035 §2.3.4 (labels 63 octets); RFC 5321 §4.5.3.1.2 (domain 255 octets).
  'label and domain length (RFC 1035 §2.3.4, RFC 5321 §4.5.3.1.2)': [
    [`a@${'a'.repeat(64)}.com`, 'LABEL_TOO_LONG', 65],
    [`a@example.${'b'.repeat(64)}`, 'LABEL_TOO_LONG', 73],
    [`a@${'a'.repeat(56)}ü.com`, 'LABEL_TOO_LONG', 2],
    [`a@${L63}.${L63}.${L63}.${L63}.com`, 'DOMAIN_TOO_LONG', 257],
    // 20 "ü" are a 26-octet A-label: 26 + 4 × 64 = 282 octets.
    [`a@${'ü'.repeat(20)}.${L63}.${L63}.${L63}.${L63}`, 'DOMAIN_TOO_LONG', 2],
  ],
  // RFC 5321 §4.5.3.1.3: a path ("<" address ">") is at most 256 octets.
  'path over 256 octets (RFC 5321 §4.5.3.1.3)': [
    [`${'l'.repeat(64)}@${L63}.${L63}.${'c'.repeat(60)}.com`, 'PATH_TOO_LONG', 254],
    [`${'l'.repeat(60)}@${L63}.${L63}.${L63}.com`, 'PATH_TOO_LONG', 254],
    [`${'é'.repeat(32)}@${L63}.${L63}.${'c'.repeat(60)}.com`, 'PATH_TOO_LONG', 222],
    // 55 "ü" are a 61-octet A-label: 64 + 1 + (63 + 1 + 63 + 1 + 61 + 4) = 258 octets.
    [`${'l'.repeat(64)}@${L63}.${L63}.${'ü'.repeat(55)}.com`, 'PATH_TOO_LONG', 65],
  ],
  // README: a dotless domain is no public mail domain (ICANN SSAC 053 on dotless domains).
  'dotless domains (README)': [
    ['user@localhost', 'DOMAIN_DOTLESS', 5],
    ['admin@mailserver1', 'DOMAIN_DOTLESS', 6],
    ['a@com', 'DOMAIN_DOTLESS', 2],
    ['a@123', 'DOMAIN_DOTLESS', 2],
    ['a@bücher', 'DOMAIN_DOTLESS', 2],
    ['a@xn--bcher-kva', 'DOMAIN_DOTLESS', 2],
    ['root@Localhost', 'DOMAIN_DOTLESS', 5],
  ],
  // RFC 3696 §2: a top-level domain is never all-numeric; an IP address needs brackets.
  'numeric top-level label (RFC 3696 §2)': [
    ['a@1.2.3.4', 'NUMERIC_TLD', 8],
    ['a@192.168.0.1', 'NUMERIC_TLD', 12],
    ['a@example.123', 'NUMERIC_TLD', 10],
    ['a@example.0', 'NUMERIC_TLD', 10],
    ['a@bücher.42', 'NUMERIC_TLD', 9],
  ],
  // RFC 5890-5893 through tr46, plus RFC 5892's derived property (README "IDNA").
  'IDNA 2008 (RFC 5890-5893)': [
    ['a@xn--garbage.com', 'IDNA_INVALID', 2],
    ['a@xn--a.com', 'IDNA_INVALID', 2],
    ['a@xn--abc-.com', 'LABEL_HYPHEN', 9],
    ['a@example.xn--9999999999999', 'IDNA_INVALID', 10],
    ['a@XN--GARBAGE.com', 'IDNA_INVALID', 2],
    ['a@xn--bcher-kva.xn--garbage', 'IDNA_INVALID', 16],
    ['a@ｅxample.com', 'IDNA_INVALID', 2],
    ['a@example。com', 'IDNA_INVALID', 2],
    ['a@\u00adexample.com', 'IDNA_INVALID', 2],
    ['a@ab--ü.de', 'IDNA_INVALID', 2],
    ['a@\u0301x.com', 'IDNA_INVALID', 2],
    ['a@a\u200db.com', 'IDNA_INVALID', 2],
    ['a@0א.com', 'IDNA_INVALID', 2],
    ['a@☃.com', 'IDNA_INVALID', 2],
    ['a@xn--n3h.com', 'IDNA_INVALID', 2],
    ['a@😀.com', 'IDNA_INVALID', 2],
    ['a@€uro.com', 'IDNA_INVALID', 2],
    ['a@paypal⁄login.com', 'IDNA_INVALID', 2],
    ['a@a·b.com', 'IDNA_INVALID', 2],
    ['a@a・b.jp', 'IDNA_INVALID', 2],
    ['a@ﾃｽﾄ.jp', 'IDNA_INVALID', 2],
    ['a@ⓔxample.com', 'IDNA_INVALID', 2],
    ['a@ǅ.com', 'IDNA_INVALID', 2],
    ['a@example.ｃｏｍ', 'IDNA_INVALID', 10],
  ],
  // RFC 5321 §4.1.3 grammar, exactly.
  'address literals (RFC 5321 §4.1.3)': [
    ['a@[1.2.3]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[1.2.3.4.5]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[256.1.1.1]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[1.2.3.1000]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[1.2.3.-1]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[1.2.3.]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[1..2.3]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[0x7f.0.0.1]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[1.2.3.4', 'ADDRESS_LITERAL_INVALID', 10],
    ['a@[1.2.3.4]x', 'ADDRESS_LITERAL_INVALID', 11],
    ['a@[1.2.3.4].com', 'ADDRESS_LITERAL_INVALID', 11],
    ['a@[]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[example.com]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[IPv6:1.2.3.4]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:1::2::3]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:1:2:3:4:5:6:7]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:1:2:3:4:5:6:7:8:9]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:1:2:3:4:5:6:7::]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:::1:2:3:4:5:6:7]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:1:2:3::4:5:6:7]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:12345::]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:g::]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6::1]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:1:]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6::::]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:1:2:3:4:5::1.2.3.4]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:1:2:3:4:5:6:7:1.2.3.4]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:1:2:3:4:5:1.2.3.4]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:::1:2:3:4:5:1.2.3.4]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:::1.2.3.256]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:::1.2.3]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:::ffff:1.2.3.4:1]', 'ADDRESS_LITERAL_INVALID', 8],
    ['a@[IPv6:fe80::1%eth0]', 'ADDRESS_LITERAL_INVALID', 8],
    // General-address-literal: the IANA registry holds no tag but IPv6 (README).
    ['a@[x400:c=us;a=attmail]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[tag:content]', 'ADDRESS_LITERAL_INVALID', 3],
    ['a@[IPv4:1.2.3.4]', 'ADDRESS_LITERAL_INVALID', 3],
  ],
  // Invalid addresses of the isemail test suite (Dominic Sayers, tests.xml) that are also invalid
  // RFC 5321 mailboxes, and of python email-validator's test_syntax (its "not valid" parametrisation).
  'isemail and email-validator invalid cases': [
    ['test', 'NO_AT', 4],
    ['@iana.org', 'LOCAL_EMPTY', 0],
    ['test@', 'DOMAIN_EMPTY', 5],
    ['test@iana.org-', 'LABEL_HYPHEN', 13],
    ['test@.iana.org', 'LABEL_EMPTY', 5],
    ['test@iana.org.', 'DOMAIN_TRAILING_DOT', 13],
    ['test@iana..com', 'LABEL_EMPTY', 10],
    ['test.@iana.org', 'TRAILING_DOT', 4],
    ['.test@iana.org', 'LEADING_DOT', 0],
    ['test..iana.org@iana.org', 'CONSECUTIVE_DOTS', 5],
    ['test\\@test@iana.org', 'UNQUOTED_SPECIAL', 4],
    ['123@iana.org]', 'DOMAIN_INVALID_CHAR', 12],
    ['test@[1.2.3.4', 'ADDRESS_LITERAL_INVALID', 13],
    ['test@[255.255.255.256]', 'ADDRESS_LITERAL_INVALID', 6],
    ['"""@iana.org', 'TEXT_AFTER_QUOTE', 2],
    ['"\\"@iana.org', 'UNTERMINATED_QUOTE', 0],
    ['"test"test@iana.org', 'TEXT_AFTER_QUOTE', 6],
    ['test"text"@iana.org', 'UNQUOTED_SPECIAL', 4],
    ['"test""test"@iana.org', 'TEXT_AFTER_QUOTE', 6],
    ['"test".test@iana.org', 'TEXT_AFTER_QUOTE', 6],
    ['test.(comment)test@iana.org', 'COMMENT', 5],
    ['(comment)test@iana.org', 'COMMENT', 0],
    ['test@(comment)iana.org', 'COMMENT', 5],
    ['test@iana.org(comment)', 'COMMENT', 13],
    ['test@iana/icann.org', 'DOMAIN_INVALID_CHAR', 9],
    ['test@[IPv6:1::2:]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6:1111:2222:3333:4444:5555:6666:7777:888G]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6:1111:2222:3333:4444:5555:6666:7777]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6:1111:2222:3333:4444:5555:6666:7777:8888:9999]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6:1111:2222::3333::4444:5555:6666]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6:1111:2222:3333::4444:5555:6666:7777]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6:1111:2222:3333:4444:5555:6666:7777:8888::]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6::3333:4444:5555:6666:7777:8888]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6:1111:2222:3333:4444:5555:255.255.255.255]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6:1111:2222:3333:4444:5555:6666:7777:255.255.255.255]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6:1111:2222:3333:4444:5555:6666::255.255.255.255]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6:1111:2222:3333:4444:::255.255.255.255]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[IPv6::255.255.255.255]', 'ADDRESS_LITERAL_INVALID', 11],
    ['test@[RFC-5322-domain-literal]', 'ADDRESS_LITERAL_INVALID', 6],
    ['test@[RFC-5322-\\]-domain-literal]', 'ADDRESS_LITERAL_INVALID', 17],
    ['test@iana.123', 'NUMERIC_TLD', 10],
    ['test@255.255.255.255', 'NUMERIC_TLD', 17],
    ['test@example', 'DOMAIN_DOTLESS', 5],
    ['my@localhost', 'DOMAIN_DOTLESS', 3],
    ['my@.leadingdot.com', 'LABEL_EMPTY', 3],
    ['my@twodots..com', 'LABEL_EMPTY', 11],
    ['my@baddash.-.com', 'LABEL_HYPHEN', 11],
    ['my@baddash.-a.com', 'LABEL_HYPHEN', 11],
    ['my@baddash.b-.com', 'LABEL_HYPHEN', 12],
    ['my@example.com\n', 'WHITESPACE', 14],
    ['my@example\n.com', 'CONTROL_CHAR', 10],
    ['me@x!', 'DOMAIN_INVALID_CHAR', 4],
    ['me@x ', 'WHITESPACE', 4],
    ['.leadingdot@domain.com', 'LEADING_DOT', 0],
    ['twodots..here@domain.com', 'CONSECUTIVE_DOTS', 8],
    ['trailingdot.@domain.email', 'TRAILING_DOT', 11],
    ['me@⒈wouldbeinvalid.com', 'IDNA_INVALID', 3],
    ['@example.com', 'LOCAL_EMPTY', 0],
    ['m\ny@example.com', 'CONTROL_CHAR', 1],
    ['my\n@example.com', 'CONTROL_CHAR', 2],
    ['11111111112222222222333333333344444444445555555555666666666677777@example.com', 'LOCAL_TOO_LONG', 64],
  ],
};

describe('parseAddress: invalid addresses', () => {
  for (const [group, cases] of Object.entries(groups)) {
    describe(group, () => {
      for (const [input, code, index] of cases) {
        it(`${JSON.stringify(input.length > 80 ? `${input.slice(0, 77)}...` : input)} → ${code}`, () => {
          const result = parseAddress(input);
          assert.equal(result.valid, false);
          assert.equal(result.error?.code, code, `got ${JSON.stringify(result.error)}`);
          assert.equal(result.error.index, index, result.error.message);
          assert.ok(result.error.index >= 0 && result.error.index <= input.length);
          assert.ok(result.error.message.length > 0);
          assert.equal(result.localPart, null);
          assert.equal(result.domain, null);
          assert.equal(result.asciiDomain, null);
          assert.equal(result.smtputf8, false);
        });
      }
    });
  }

  it('has a large table covering every code', () => {
    const all = Object.values(groups).flat();
    assert.ok(all.length >= 250, `only ${all.length} invalid cases`);
    const covered = new Set(all.map(([, code]) => code));
    const missing = SYNTAX_ERROR_CODES.filter((code) => code !== 'NOT_STRING' && !covered.has(code));
    assert.deepEqual(missing, []);
  });
});

describe('parseAddress: non-strings at runtime', () => {
  const values: unknown[] = [
    undefined,
    null,
    42,
    0,
    true,
    {},
    [],
    ['a@example.com'],
    Symbol('x'),
    1n,
    () => 1,
  ];
  for (const value of values) {
    it(`${typeof value} ${String(Array.isArray(value) ? 'array' : typeof value === 'symbol' ? 'symbol' : value)}`, () => {
      const result = parseAddress(value as string);
      assert.equal(result.valid, false);
      assert.equal(result.error?.code, 'NOT_STRING');
      assert.equal(result.error.index, 0);
    });
  }
  it('accepts a String object as a non-string (no implicit conversion)', () => {
    const boxed = new String('a@example.com') as unknown as string;
    assert.equal(parseAddress(boxed).error?.code, 'NOT_STRING');
  });
});
