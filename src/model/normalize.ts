import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';

export type PatternType = 'email' | 'domain' | 'ip' | 'cidr';
export interface Pattern {
  type: PatternType;
  value: string;
}
export type Normalized<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Normalized<T> => ({ ok: true, value });
const fail = <T>(reason: string): Normalized<T> => ({ ok: false, reason });

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const VALID_HOST =
  /^(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?=[a-z0-9-]{1,63}$)(?!-)[a-z0-9-]*[a-z-][a-z0-9-]*(?<!-)$/;
// RFC 5322 atext: the local part is a dot-atom. Quoted strings and comments are refused:
// gateways match plain addresses, and a quoted local part in a block list is a mistake.
const ATEXT = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+$/;

/**
 * Lower-case, trim, drop the trailing dot, IDN to punycode; then check it is a host name
 * of at least two LDH labels with a non-numeric top label.
 */
export function normalizeDomain(
  input: string,
  opts: { allowSingleLabel?: boolean } = {},
): Normalized<string> {
  // Already in normal form (what mxpolicy writes and reads back, a million times in a large
  // estate): the full rules would change nothing and find nothing wrong.
  if (input.length <= 253 && VALID_HOST.test(input)) return ok(input);
  return normalizeDomainFully(input, opts);
}

/** `normalizeDomain` without its shortcut for input already in normal form (for tests). */
export function normalizeDomainFully(
  input: string,
  opts: { allowSingleLabel?: boolean } = {},
): Normalized<string> {
  if (CONTROL.test(input))
    return fail(
      `'${JSON.stringify(input).slice(1, -1)}' contains control characters or line breaks`,
    );
  let s = input.trim().toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s === '') return fail('empty domain');
  if (s.includes('@')) return fail(`'${input}' is an address, not a domain`);
  const ascii = /^[\x21-\x7e]*$/.test(s) ? s : domainToASCII(s);
  if (ascii === '') return fail(`'${input}' is not a valid internationalized domain name`);
  if (ascii.length > 253) return fail(`domain is longer than 253 characters`);
  // Fast path for the common case (every label LDH, two or more labels, alphabetic TLD);
  // anything else takes the label-by-label walk that says what is wrong.
  if (VALID_HOST.test(ascii)) return ok(ascii);
  const labels = ascii.split('.');
  if (labels.length < 2 && opts.allowSingleLabel !== true)
    return fail(`'${input}' has a single label; a domain needs at least two`);
  for (const label of labels) {
    if (label === '') return fail(`'${input}' has an empty label`);
    if (!LABEL.test(label)) return fail(`'${input}' has an invalid label '${label}'`);
  }
  const tld = labels[labels.length - 1] ?? '';
  if (/^[0-9]+$/.test(tld)) return fail(`'${input}' has a numeric top-level label`);
  return ok(ascii);
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/;

/** A lower-case dot-atom address at a valid host: its own normal form (see normalizeEmail). */
const NORMAL_EMAIL = new RegExp(
  `^${ATEXT.source.slice(1, -1)}(?:\\.${ATEXT.source.slice(1, -1)})*@${VALID_HOST.source.slice(1)}`,
);

export function normalizeEmail(input: string): Normalized<string> {
  // The common case, already normal: no trimming, case or IDN change, no dot out of place.
  if (input.length <= 254 && input.indexOf('@') <= 64 && NORMAL_EMAIL.test(input)) return ok(input);
  return normalizeEmailFully(input);
}

/** `normalizeEmail` without its shortcut for input already in normal form (for tests). */
export function normalizeEmailFully(input: string): Normalized<string> {
  if (CONTROL.test(input))
    return fail(
      `'${JSON.stringify(input).slice(1, -1)}' contains control characters or line breaks`,
    );
  const s = input.trim().toLowerCase();
  if (s.endsWith('.')) return fail(`'${input}' ends with a dot`);
  const at = s.lastIndexOf('@');
  if (at <= 0) return fail(`'${input}' is not an email address`);
  const local = s.slice(0, at);
  if (local.length > 64) return fail(`local part of '${input}' is longer than 64 characters`);
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..'))
    return fail(`local part of '${input}' has a misplaced dot`);
  if (!local.split('.').every((atom) => ATEXT.test(atom)))
    return fail(`local part of '${input}' has characters not allowed in an address`);
  const domain = normalizeDomain(s.slice(at + 1));
  if (!domain.ok) return fail(`domain of '${input}': ${domain.reason}`);
  const value = `${local}@${domain.value}`;
  if (value.length > 254) return fail(`'${input}' is longer than 254 characters`);
  return ok(value);
}

/** Strict forms only: four-part decimal IPv4 (no octal/hex/short forms), RFC 5952 IPv6. */
export function normalizeIp(input: string): Normalized<string> {
  const s = input.trim().toLowerCase();
  if (s.includes('%'))
    return fail(`'${input}' has an IPv6 zone id: a zone names a local interface, not a sender`);
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) {
    if (s.split('.').some((part) => part.length > 1 && part.startsWith('0')))
      return fail(`'${input}' has a leading zero (octal is ambiguous)`);
    return ok(ipaddr.IPv4.parse(s).toString());
  }
  if (s.includes(':') && ipaddr.IPv6.isValid(s)) {
    const addr = ipaddr.IPv6.parse(s);
    return ok(addr.isIPv4MappedAddress() ? addr.toIPv4Address().toString() : addr.toString());
  }
  return fail(`'${input}' is not a valid IP address`);
}

/** A CIDR range, canonicalized to its network address (`10.1.2.3/8` -> `10.0.0.0/8`). */
export function normalizeCidr(input: string): Normalized<string> {
  const s = input.trim().toLowerCase();
  const slash = s.indexOf('/');
  const addrPart = s.slice(0, slash);
  const prefixPart = s.slice(slash + 1);
  const addr = normalizeIp(addrPart);
  if (!addr.ok) return fail(`'${input}' is not a valid CIDR: ${addr.reason}`);
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefixPart))
    return fail(
      /^0[0-9]/.test(prefixPart)
        ? `'${input}' has a prefix length with a leading zero (write /${Number(prefixPart)})`
        : `'${input}' has an invalid prefix length`,
    );
  const prefix = Number(prefixPart);
  const v4 = !addr.value.includes(':');
  if (prefix > (v4 ? 32 : 128)) return fail(`'${input}' has a prefix longer than ${v4 ? 32 : 128}`);
  const cidr = `${addr.value}/${prefix}`;
  const network = v4
    ? ipaddr.IPv4.networkAddressFromCIDR(cidr)
    : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  return ok(`${network.toString()}/${prefix}`);
}

/** Classify and normalize a sender pattern: address, domain, IP or CIDR. */
export function normalizeSender(input: string): Normalized<Pattern> {
  const s = input.trim();
  const as = (type: PatternType, r: Normalized<string>): Normalized<Pattern> =>
    r.ok ? ok({ type, value: r.value }) : r;
  if (s.includes('@')) return as('email', normalizeEmail(s));
  if (s.includes('/')) {
    // A full-length prefix is one address: `1.2.3.4/32` is the entry `1.2.3.4`.
    const cidr = normalizeCidr(s);
    if (cidr.ok && /\/(?:32|128)$/.test(cidr.value)) {
      const address = cidr.value.slice(0, cidr.value.lastIndexOf('/'));
      if (address.includes(':') === cidr.value.endsWith('/128')) return as('ip', ok(address));
    }
    return as('cidr', cidr);
  }
  if (s.includes(':') || /^[0-9.]+$/.test(s)) return as('ip', normalizeIp(s));
  // A single label is kept as a domain pattern so that validation can name it for what it
  // is: a (public) top-level suffix that must never be blocked or exempted wholesale.
  return as('domain', normalizeDomain(s, { allowSingleLabel: true }));
}

/** A recipient: an address or a domain (never an IP). */
export function normalizeRecipient(input: string): Normalized<Pattern> {
  const s = input.trim();
  if (s.includes('@')) {
    const r = normalizeEmail(s);
    return r.ok ? ok({ type: 'email', value: r.value }) : r;
  }
  if (s.includes('/') || s.includes(':') || /^[0-9.]+$/.test(s))
    return fail(`a recipient must be an address or a domain, not an IP or CIDR ('${input}')`);
  const r = normalizeDomain(s, { allowSingleLabel: true });
  return r.ok ? ok({ type: 'domain', value: r.value }) : r;
}

/** Host name of a next hop: a domain or an IP address. */
export function normalizeHost(input: string): Normalized<string> {
  const s = input.trim();
  if (s.includes(':') || /^[0-9.]+$/.test(s)) return normalizeIp(s);
  return normalizeDomain(s);
}
