/**
 * Turns one cell of an uploaded CSV into the company domain it names, or into a stated reason
 * why it names none. Users paste whatever their CRM, spreadsheet or scraper produced, so the
 * input may be a URL, an email address, a quoted or bracketed value, or junk.
 *
 * Decisions (each one has a case in normalize-domain.test.ts):
 * - The result is the registrable domain (`blog.stripe.com` → `stripe.com`), computed with the
 *   Public Suffix List *including* its private section, so `acme.github.io` stays a company of its
 *   own. `www.`, `www2.`, `m.` … need no special rule: they are subdomains and vanish in that
 *   reduction, while `www.com` (a registrable domain itself) is kept.
 * - A platform domain that is itself a private suffix (`github.io`, `herokuapp.com`) is read as the
 *   platform's own company domain instead of being rejected.
 * - Personal email providers are rejected whether the cell holds `bob@gmail.com` or a bare
 *   `gmail.com`: neither identifies a company, and enriching them wastes provider credits.
 * - Placeholders that spreadsheets use for "nothing" (`n/a`, `-`, `#N/A`, `none` …) count as empty.
 * - A cell naming more than one thing (`Stripe.com, Inc`, `a.com; b.com`) is rejected as invalid
 *   characters rather than guessed at: one cell, one domain.
 * - Reserved special-use names (RFC 6761: `example.com`, `*.test`, `*.local`, `*.onion` …) are
 *   rejected as `no_public_suffix`: no company can own them.
 * - Full-width letters and ideographic dots are mapped the way browsers do (WHATWG host parsing
 *   through node:url), which also reads numeric hosts like `3232235521` as IP addresses; `%`-escapes
 *   in a host are rejected rather than decoded.
 * - A label already in punycode (`xn--…`) must decode (RFC 3492) to non-ASCII text that encodes
 *   back to the same label. This check is the project's own: `url.domainToASCII` rejects broken
 *   punycode on Node 20 but passes it through on Node 24, and the same file must give the same
 *   companies on every supported Node.
 * - Cells can be up to a megabyte, so every step is linear in the input: no regular expression
 *   here may backtrack over the whole cell.
 */
import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { parse as parseHostname } from 'tldts';

export const REJECT_REASONS = [
  'empty',
  'ip_address',
  'no_public_suffix',
  'invalid_characters',
  'too_long',
  'personal_email_provider',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type DomainResult =
  | {
      ok: true;
      /** Registrable domain in ASCII (punycode), lowercase: the key a company is deduplicated on. */
      domain: string;
      /** The same domain in readable Unicode, for people. */
      display: string;
    }
  | { ok: false; reason: RejectReason; message: string };

export type NormalizeDomainOptions = {
  /**
   * Registrable domains of personal email providers, lowercase ASCII (punycode); build it with
   * `personalEmailDomainSet()` to get that form from user-supplied entries.
   */
  blockedEmailDomains: ReadonlySet<string>;
};

/** DNS limits (RFC 1035), measured on the ASCII form. */
const MAX_HOSTNAME_LENGTH_CHARS = 253;
const MAX_LABEL_LENGTH_CHARS = 63;
/** Beyond this a host cannot become valid through IDNA mapping; checked first to bound the work. */
const MAX_RAW_HOSTNAME_LENGTH_CHARS = 4 * MAX_HOSTNAME_LENGTH_CHARS;

/**
 * Free webmail and consumer ISP mail domains. Where a provider's company uses another domain
 * (Comcast: comcast.com, Verizon: verizon.com) only the mail domain is listed; where it is the
 * same (yahoo.com, aol.com) a bare upload of it is rejected too, which is the price of blocking
 * the far more common `bob@yahoo.com`.
 */
export const DEFAULT_PERSONAL_EMAIL_DOMAINS: ReadonlySet<string> = new Set([
  // Google, Microsoft, Apple, Yahoo, AOL
  'gmail.com',
  'googlemail.com',
  'hotmail.com',
  'hotmail.co.uk',
  'hotmail.fr',
  'hotmail.de',
  'hotmail.it',
  'hotmail.es',
  'hotmail.ca',
  'outlook.com',
  'outlook.fr',
  'outlook.de',
  'live.com',
  'live.co.uk',
  'live.fr',
  'live.de',
  'live.ca',
  'msn.com',
  'passport.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'yahoo.com',
  'yahoo.co.uk',
  'yahoo.fr',
  'yahoo.de',
  'yahoo.it',
  'yahoo.es',
  'yahoo.ca',
  'yahoo.co.jp',
  'yahoo.co.in',
  'yahoo.com.au',
  'yahoo.com.br',
  'ymail.com',
  'rocketmail.com',
  'aol.com',
  'aim.com',
  // Privacy-focused and independent
  'proton.me',
  'protonmail.com',
  'protonmail.ch',
  'pm.me',
  'tutanota.com',
  'tutanota.de',
  'tuta.io',
  'zoho.com',
  'zohomail.com',
  'fastmail.com',
  'fastmail.fm',
  'hey.com',
  'hushmail.com',
  'mail.com',
  'email.com',
  'inbox.com',
  'gmx.com',
  'gmx.net',
  'gmx.de',
  'gmx.at',
  'gmx.ch',
  // Europe
  'web.de',
  't-online.de',
  'freenet.de',
  'laposte.net',
  'orange.fr',
  'wanadoo.fr',
  'free.fr',
  'sfr.fr',
  'libero.it',
  'virgilio.it',
  'tiscali.it',
  'seznam.cz',
  'wp.pl',
  'o2.pl',
  'interia.pl',
  'onet.pl',
  'btinternet.com',
  'sky.com',
  'virginmedia.com',
  'ntlworld.com',
  'talktalk.net',
  // Russia and Asia
  'yandex.ru',
  'yandex.com',
  'ya.ru',
  'mail.ru',
  'bk.ru',
  'inbox.ru',
  'list.ru',
  'rambler.ru',
  'qq.com',
  'foxmail.com',
  '163.com',
  '126.com',
  'yeah.net',
  'sina.com',
  'sohu.com',
  'aliyun.com',
  'naver.com',
  'daum.net',
  'hanmail.net',
  'rediffmail.com',
  // Americas and Oceania ISPs
  'comcast.net',
  'verizon.net',
  'att.net',
  'sbcglobal.net',
  'bellsouth.net',
  'cox.net',
  'charter.net',
  'earthlink.net',
  'shaw.ca',
  'rogers.com',
  'sympatico.ca',
  'uol.com.br',
  'bol.com.br',
  'terra.com.br',
  'bigpond.com',
  'optusnet.com.au',
]);

/**
 * The built-in personal email domains plus `extra` ones (e.g. from configuration), normalized to
 * the lowercase ASCII form `normalizeDomain` compares against. Entries that are not hostnames are
 * ignored.
 */
export function personalEmailDomainSet(extra: Iterable<string> = []): ReadonlySet<string> {
  const set = new Set(DEFAULT_PERSONAL_EMAIL_DOMAINS);
  for (const entry of extra) {
    const ascii = domainToASCII(entry.trim().replace(/^@/, '').replace(/\.$/, ''));
    if (ascii !== '') set.add(ascii);
  }
  return set;
}

// Characters that spreadsheets and copy-paste leave around a value; never part of a domain.
const JUNK_CHAR = /^[\s\u200B-\u200D\u2060\uFEFF\u00AD]$/;
/** `"<(stripe.com)>"` is plausible; more layers than this are not worth unwrapping. */
const MAX_WRAPPING_LAYERS = 4;
const WRAPPING_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['"', '"'],
  ["'", "'"],
  ['`', '`'],
  ['“', '”'],
  ['‘', '’'],
  ['«', '»'],
  ['<', '>'],
  ['(', ')'],
  ['[', ']'],
];
const PLACEHOLDERS: ReadonlySet<string> = new Set([
  '-',
  '--',
  '---',
  '.',
  '?',
  '0',
  'n/a',
  'na',
  '#n/a',
  'none',
  'null',
  'nil',
  'undefined',
  'unknown',
  'tbd',
]);
const SCHEME = /^[a-z][a-z0-9+.-]*:[/\\]{2}/;
const PORT_SUFFIX = /:\d*$/;
const AUTHORITY_END = /[/?#\\]/;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const MULTI_VALUE_SEPARATOR = /[\s,;|]/;

type Extracted = { host: string; fromEmail: boolean };

function reject(reason: RejectReason, message: string): DomainResult {
  return { ok: false, reason, message };
}

// A hand-written trim: `/^\s+|\s+$/` is quadratic on a long run of inner spaces.
function trimJunk(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && JUNK_CHAR.test(value.charAt(start))) start++;
  while (end > start && JUNK_CHAR.test(value.charAt(end - 1))) end--;
  return value.slice(start, end);
}

/** A letter or a digit: neither junk around a value nor half of a wrapping pair. */
function isAsciiAlphanumeric(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a) || (code >= 0x30 && code <= 0x39);
}

function stripWrapping(value: string): string {
  // Most cells start and end with a letter or digit: nothing to trim or unwrap.
  if (isAsciiAlphanumeric(value.charCodeAt(0)) && isAsciiAlphanumeric(value.charCodeAt(value.length - 1))) {
    return value;
  }
  let current = trimJunk(value);
  for (let layer = 0; layer < MAX_WRAPPING_LAYERS; layer++) {
    // A bracketed IPv6 literal keeps its brackets so it is recognised as an IP address.
    if (current.startsWith('[') && current.endsWith(']') && isIP(current.slice(1, -1)) !== 0) return current;
    const pair = WRAPPING_PAIRS.find(
      ([open, close]) => current.length >= 2 && current.startsWith(open) && current.endsWith(close),
    );
    if (pair === undefined) return current;
    current = trimJunk(current.slice(1, -1));
  }
  return current;
}

/** `Bob Smith <bob@stripe.com>` → `bob@stripe.com`: how mail clients and many CRMs export a contact. */
function unwrapDisplayName(value: string): string {
  if (!value.endsWith('>')) return value;
  const inner = value.slice(value.lastIndexOf('<') + 1, -1);
  return inner.includes('@') ? inner.trim() : value;
}

/** Cuts a URL, an email address or a bare host down to its host, keeping brackets and port. */
function extractHost(value: string): Extracted {
  let rest = unwrapDisplayName(value);

  if (rest.startsWith('mailto:')) {
    const address = rest.slice('mailto:'.length).split(/[?#/\\]/, 1)[0] ?? '';
    return { host: address.slice(address.lastIndexOf('@') + 1), fromEmail: true };
  }
  const scheme = rest.includes(':') ? SCHEME.exec(rest) : null;
  let hasScheme = false;
  if (scheme !== null) {
    rest = rest.slice(scheme[0].length);
    hasScheme = true;
  } else if (rest.startsWith('//') || rest.startsWith('\\\\')) {
    rest = rest.slice(2);
    hasScheme = true;
  }
  // Backslashes count as slashes, as browsers do for http(s) URLs.
  const end = rest.search(AUTHORITY_END);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const at = authority.lastIndexOf('@');
  if (at === -1) return { host: authority, fromEmail: false };
  // After a scheme, `user:pw@` is credentials; without one, `bob@stripe.com` is an email address.
  return { host: authority.slice(at + 1), fromEmail: !hasScheme };
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host;
  const colon = host.indexOf(':');
  // More than one colon is a bare IPv6 address, not a port.
  if (colon === -1 || host.indexOf(':', colon + 1) !== -1) return host;
  return host.replace(PORT_SUFFIX, '');
}

function describeInvalid(host: string): string {
  if (MULTI_VALUE_SEPARATOR.test(host)) {
    return 'contains a space, comma or separator: a cell must hold exactly one domain';
  }
  if (host.includes('_')) return 'contains an underscore, which is not allowed in a domain name';
  return 'contains characters that are not allowed in a domain name';
}

// The dots WHATWG host parsing splits labels on (full stop, ideographic and full-width ones).
const LABEL_SEPARATOR = /[.\u3002\uff0e\uff61]/;
const PUNYCODE_PREFIX = 'xn--';
const ALL_ASCII = /^\p{ASCII}*$/u;
const LOWER_LDH_AND_DOTS = /^[a-z0-9.-]+$/;

/**
 * A host that WHATWG host parsing leaves as it is: lowercase letters, digits, hyphens and dots, no
 * punycode label, and a last label that starts with a letter (so not a number an IPv4 address is
 * read from). Most cells are such hosts; for them `domainToASCII`, `domainToUnicode` and `isIP`
 * are skipped, which is a third of the time a million rows take to normalize
 * (normalize-domain.test.ts checks the identity on the running Node).
 */
export function isPlainAsciiHost(host: string): boolean {
  if (!LOWER_LDH_AND_DOTS.test(host) || host.includes(PUNYCODE_PREFIX)) return false;
  const last = host.charCodeAt(host.lastIndexOf('.') + 1);
  return last >= 0x61 && last <= 0x7a;
}

function brokenPunycode(): DomainResult {
  return reject('invalid_characters', 'a part of the domain starting with xn-- is not valid punycode');
}

/** True when a label claims to be punycode (`xn--`) and is not the canonical encoding of a Unicode label. */
function hasBrokenPunycode(labels: readonly string[]): boolean {
  for (const label of labels) {
    if (!label.startsWith(PUNYCODE_PREFIX)) continue;
    const decoded = decodePunycode(label.slice(PUNYCODE_PREFIX.length));
    if (decoded === null || decoded === '' || ALL_ASCII.test(decoded)) return true;
    if (decoded.normalize('NFC') !== decoded) return true;
    // The canonical form: a label with the same letters in another order of deltas decodes too.
    if (domainToASCII(decoded) !== label) return true;
  }
  return false;
}

// RFC 3492 parameters for IDNA.
const PUNY_BASE = 36;
const PUNY_TMIN = 1;
const PUNY_TMAX = 26;
const PUNY_SKEW = 38;
const PUNY_DAMP = 700;
const PUNY_INITIAL_BIAS = 72;
const PUNY_INITIAL_N = 0x80;
const PUNY_MAX_INT = 0x7fffffff;

function punycodeAdapt(delta: number, numPoints: number, firstTime: boolean): number {
  let d = firstTime ? Math.floor(delta / PUNY_DAMP) : Math.floor(delta / 2);
  d += Math.floor(d / numPoints);
  let k = 0;
  while (d > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2) {
    d = Math.floor(d / (PUNY_BASE - PUNY_TMIN));
    k += PUNY_BASE;
  }
  return k + Math.floor(((PUNY_BASE - PUNY_TMIN + 1) * d) / (d + PUNY_SKEW));
}

function punycodeDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30 + 26; // 0-9
  if (code >= 0x61 && code <= 0x7a) return code - 0x61; // a-z
  if (code >= 0x41 && code <= 0x5a) return code - 0x41; // A-Z
  return PUNY_BASE;
}

/** RFC 3492 section 6.2 decoding; null where the input is not a valid encoding. Labels are at most 63 characters. */
function decodePunycode(input: string): string | null {
  const output: number[] = [];
  const basicEnd = Math.max(0, input.lastIndexOf('-'));
  for (let j = 0; j < basicEnd; j++) {
    const code = input.charCodeAt(j);
    if (code >= 0x80) return null;
    output.push(code);
  }
  let n = PUNY_INITIAL_N;
  let bias = PUNY_INITIAL_BIAS;
  let i = 0;
  let index = basicEnd > 0 ? basicEnd + 1 : 0;
  while (index < input.length) {
    const oldI = i;
    let w = 1;
    for (let k = PUNY_BASE; ; k += PUNY_BASE) {
      if (index >= input.length) return null;
      const digit = punycodeDigit(input.charCodeAt(index++));
      if (digit >= PUNY_BASE || digit > Math.floor((PUNY_MAX_INT - i) / w)) return null;
      i += digit * w;
      const t = k <= bias ? PUNY_TMIN : k >= bias + PUNY_TMAX ? PUNY_TMAX : k - bias;
      if (digit < t) break;
      if (w > Math.floor(PUNY_MAX_INT / (PUNY_BASE - t))) return null;
      w *= PUNY_BASE - t;
    }
    const length = output.length + 1;
    bias = punycodeAdapt(i - oldI, length, oldI === 0);
    n += Math.floor(i / length);
    i %= length;
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return null;
    output.splice(i, 0, n);
    i++;
  }
  return String.fromCodePoint(...output);
}

function isReservedSpecialUse(ascii: string): boolean {
  return parseHostname(ascii, { extractHostname: false, detectSpecialUse: true }).isSpecialUse === true;
}

/** tldts' options for a host already checked (made once: they are read, never kept). */
const WITH_PRIVATE = {
  allowPrivateDomains: true,
  extractHostname: false,
  validateHostname: false,
  detectIp: false,
  detectSpecialUse: true,
} as const;
const ICANN_ONLY = {
  allowPrivateDomains: false,
  extractHostname: false,
  validateHostname: false,
  detectIp: false,
} as const;

/**
 * The registrable domain, or null when `ascii` is itself a public suffix. `maybeSpecialUse` is
 * false when `ascii` is no special-use name: then neither is its registrable domain, which ends
 * `ascii` on a label boundary (so isReservedSpecialUse, a second parse, is needed only when true).
 */
function registrableDomain(ascii: string): {
  domain: string | null;
  known: boolean;
  maybeSpecialUse: boolean;
} {
  const withPrivate = parseHostname(ascii, WITH_PRIVATE);
  const maybeSpecialUse = withPrivate.isSpecialUse !== false;
  // tldts falls back to a `*` rule for unknown TLDs, flagged as neither ICANN nor private.
  const known = withPrivate.isIcann === true || withPrivate.isPrivate === true;
  if (!known || withPrivate.domain !== null || withPrivate.isPrivate !== true) {
    return { domain: withPrivate.domain, known, maybeSpecialUse };
  }
  const icannOnly = parseHostname(ascii, ICANN_ONLY);
  return { domain: icannOnly.domain, known: true, maybeSpecialUse };
}

/** Labels of 1 to 63 characters, none starting or ending with a hyphen, in a host of [a-z0-9.-]. */
function plainLabelsValid(host: string): boolean {
  let start = 0;
  for (let i = 0; i <= host.length; i++) {
    if (i < host.length && host.charCodeAt(i) !== 0x2e) continue;
    const length = i - start;
    if (length === 0 || length > MAX_LABEL_LENGTH_CHARS) return false;
    if (host.charCodeAt(start) === 0x2d || host.charCodeAt(i - 1) === 0x2d) return false;
    start = i + 1;
  }
  return true;
}

/** Why the labels of `ascii` are not a domain's, or null. */
function labelProblem(labels: readonly string[], ascii: string): DomainResult | null {
  if (labels.some((label) => label.length > MAX_LABEL_LENGTH_CHARS)) {
    return reject(
      'too_long',
      `a part of the domain between dots is longer than ${MAX_LABEL_LENGTH_CHARS} characters`,
    );
  }
  if (labels.some((label) => label === '')) {
    return reject('invalid_characters', 'the domain has an empty part between dots');
  }
  if (!labels.every((label) => LDH_LABEL.test(label))) {
    const hyphenEdge = labels.some((label) => label.startsWith('-') || label.endsWith('-'));
    return reject(
      'invalid_characters',
      hyphenEdge
        ? 'a part of the domain starts or ends with a hyphen'
        : `the domain ${describeInvalid(ascii)}`,
    );
  }
  return null;
}

/**
 * Normalizes one raw cell to a registrable company domain, or says why it is not one.
 * Pure and synchronous; never throws.
 */
export function normalizeDomain(raw: string, opts: NormalizeDomainOptions): DomainResult {
  const cleaned = stripWrapping(raw).toLowerCase();
  if (cleaned === '') return reject('empty', 'the cell is empty');
  if (PLACEHOLDERS.has(cleaned)) return reject('empty', `'${cleaned}' is a placeholder for an empty value`);

  const { host: rawHost, fromEmail } = extractHost(cleaned);
  let host = stripPort(rawHost);
  if (host.startsWith('[') || (!isPlainAsciiHost(host) && isIP(host) !== 0)) {
    return reject('ip_address', 'an IP address is not a company domain');
  }
  if (host.startsWith('*.')) host = host.slice(2);
  if (host.startsWith('.')) host = host.slice(1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '') {
    return reject('empty', fromEmail ? 'the email address has no domain' : 'the value has no host name');
  }
  if (host.length > MAX_RAW_HOSTNAME_LENGTH_CHARS) {
    return reject('too_long', `the domain is longer than ${MAX_HOSTNAME_LENGTH_CHARS} characters`);
  }
  if (MULTI_VALUE_SEPARATOR.test(host) || host.includes('%')) {
    return reject('invalid_characters', `the domain ${describeInvalid(host)}`);
  }

  const plain = isPlainAsciiHost(host);
  let ascii = host;
  if (!plain) {
    // Before domainToASCII, so that a broken label gets the same answer whatever Node does with it.
    if (hasBrokenPunycode(host.split(LABEL_SEPARATOR))) return brokenPunycode();
    ascii = domainToASCII(host);
    if (ascii === '') {
      return reject('invalid_characters', `the domain ${describeInvalid(host)}`);
    }
    // WHATWG host parsing turns numeric forms like `3232235521` or `0x7f.1` into IPv4 addresses.
    if (isIP(ascii) !== 0) return reject('ip_address', 'an IP address is not a company domain');
  }
  if (ascii.length > MAX_HOSTNAME_LENGTH_CHARS) {
    return reject('too_long', `the domain is longer than ${MAX_HOSTNAME_LENGTH_CHARS} characters`);
  }
  // A plain host has only [a-z0-9.-]: one pass tells whether its labels are valid.
  if (!plain || !plainLabelsValid(ascii)) {
    const labels = ascii.split('.');
    const problem = labelProblem(labels, ascii);
    if (problem !== null) return problem;
    // Mapping can make a punycode label (full-width `ｘｎ--`); it is checked as the user's would be.
    if (!plain && hasBrokenPunycode(labels)) return brokenPunycode();
  }
  const { domain, known, maybeSpecialUse } = registrableDomain(ascii);
  if (!known) {
    return reject(
      'no_public_suffix',
      `'${ascii}' does not end in a known public suffix such as .com or .co.uk`,
    );
  }
  if (domain === null) {
    return reject('no_public_suffix', `'${ascii}' is a public suffix itself, not a company domain`);
  }
  if (maybeSpecialUse && isReservedSpecialUse(domain)) {
    return reject('no_public_suffix', `'${domain}' is a reserved name that no company can own`);
  }
  if (opts.blockedEmailDomains.has(domain) || opts.blockedEmailDomains.has(ascii)) {
    return reject(
      'personal_email_provider',
      fromEmail
        ? `an address at ${domain} is a personal email address and does not identify a company`
        : `${domain} is a personal email provider, not a company domain`,
    );
  }
  const display = plain ? domain : domainToUnicode(domain);
  return { ok: true, domain, display: display === '' ? domain : display };
}
