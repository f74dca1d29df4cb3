import { getPublicSuffix } from 'tldts';
import { DEFAULT_MIN_PREFIX, describeIpRange, type IpRange } from '../model/ip-ranges.js';
import type { Diagnostic, Location } from './diagnostics.js';
import type { DesiredEntry, TenantConfig } from './policy-set.js';

/** Every suffix of a domain, itself first: `a.b.c` -> `a.b.c`, `b.c`, `c`. */
/** The longest suffix of `domain` (itself included) that is in `set`, without allocating arrays. */
function firstSuffixIn(domain: string, set: ReadonlySet<string>): string | undefined {
  let i = -1;
  for (;;) {
    const suffix = i < 0 ? domain : domain.slice(i + 1);
    if (set.has(suffix)) return suffix;
    i = domain.indexOf('.', i + 1);
    if (i < 0) return undefined;
  }
}

export function domainSuffixes(domain: string): string[] {
  const labels = domain.split('.');
  return labels.map((_, i) => labels.slice(i).join('.'));
}

/**
 * True when a domain pattern is a bare public suffix (`com`, `co.uk`, an unknown TLD).
 * With `includePrivate`, suffixes run by private parties (`github.io`) count too: exempting
 * one would let every customer of that host through, while blocking one can be intended.
 */
export function isPublicSuffix(domain: string, includePrivate = false): boolean {
  // The input is already a normalized host name: skip tldts' own extraction and checks.
  const suffix = getPublicSuffix(domain, {
    allowPrivateDomains: includePrivate,
    extractHostname: false,
    validateHostname: false,
  });
  return suffix === domain;
}

type SenderEntry = DesiredEntry<'blockedSenders'> | DesiredEntry<'exemptions'>;

/**
 * What the checks need to know of one blocked sender or exemption, whichever tenant it is
 * checked for: a bundle's entries are checked once per including tenant, and these facts
 * (the costly part: public suffix and IP range look-ups) are the same every time.
 */
export interface EntryFacts {
  side: 'sender' | 'recipient';
  /** The sender or recipient pattern. */
  value: string;
  /** An IP address or range: checked as such, never as a domain. */
  ipLike: boolean;
  /** Index of the '@' of an address pattern, or -1 (always -1 for an IP). */
  at: number;
  /** The domain of an address, or the pattern itself. */
  domain: string;
  /** A bare public suffix (never true for an address or an IP). */
  publicSuffix: boolean;
  /** The range of an IP sender (undefined for anything else, or a malformed IP). */
  range: IpRange | undefined;
}

export function entryFacts(entry: SenderEntry): EntryFacts {
  let side: 'sender' | 'recipient' = 'sender';
  let value: string;
  if (entry.kind === 'blockedSenders') value = entry.value.sender;
  else if (entry.value.sender !== undefined) value = entry.value.sender;
  else {
    side = 'recipient';
    value = entry.value.recipient ?? '';
  }
  const ipLike = isIpLike(value);
  const at = ipLike ? -1 : value.lastIndexOf('@');
  const domain = at >= 0 ? value.slice(at + 1) : value;
  return {
    side,
    value,
    ipLike,
    at,
    domain,
    publicSuffix: !ipLike && at < 0 && isPublicSuffix(domain, entry.kind === 'exemptions'),
    range: ipLike && side === 'sender' ? describeIpRange(value) : undefined,
  };
}

export type EntryFactsOf = (entry: SenderEntry) => EntryFacts;

/**
 * `compute`, worked out once per bundle entry: the same entry objects of a bundle are in
 * every tenant that includes it (a tenant's own entries are checked once and not kept).
 */
export function oncePerBundleEntry<E extends DesiredEntry, R>(
  compute: (entry: E) => R,
): (entry: E) => R {
  const known = new Map<E, R>();
  return (entry) => {
    if (entry.source.bundle === undefined) return compute(entry);
    let found = known.get(entry);
    if (found === undefined) known.set(entry, (found = compute(entry)));
    return found;
  };
}

/** `entryFacts`, worked out once per bundle entry. */
export function createEntryFacts(): EntryFactsOf {
  return oncePerBundleEntry(entryFacts);
}

/** Has a ':' (IPv6), or is made of digits, dots and slashes only (`/^[0-9./]+$/`). */
export function isIpLike(value: string): boolean {
  if (value.includes(':')) return true;
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || c === 46 || c === 47)) return false;
  }
  return true;
}

/**
 * Semantic rules on a tenant's effective entries (its own and its bundles'): never block
 * the tenant's own domains or a public suffix, no block/exemption conflict, routes only
 * for own domains, expired entries flagged. Diagnostics point at the entry's own file.
 */
export function checkTenantEntries(
  tenant: TenantConfig,
  today: string,
  locate: (file: string, pointer: string, field: string) => Location,
  factsOf: EntryFactsOf = entryFacts,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const own = new Set(tenant.domains);
  // Own domains and every parent of one: blocking any of them would block the tenant itself.
  const protectedDomains = new Map<string, string>();
  for (const d of tenant.domains)
    for (const s of domainSuffixes(d)) if (!protectedDomains.has(s)) protectedDomains.set(s, d);
  const where = (e: DesiredEntry): string =>
    e.source.bundle !== undefined
      ? ` (bundle '${e.source.bundle}', included by tenant '${tenant.tenant}')`
      : '';
  const at = (
    e: DesiredEntry,
    field: string,
    d: Pick<Diagnostic, 'code' | 'message' | 'severity'> & { related?: Location },
  ): void => {
    out.push({
      ...locate(e.source.file, e.source.pointer, field),
      pointer: `${e.source.pointer}/${field}`,
      ...d,
    });
  };
  const { blockedSenders, exemptions } = tenant.entries;

  // IP senders, checked after every domain and address (below), in the same order.
  const ipSenders: { entry: SenderEntry; value: string; range: IpRange }[] = [];
  const checkPattern = (entry: SenderEntry): void => {
    const facts = factsOf(entry);
    if (facts.ipLike) {
      if (facts.range !== undefined)
        ipSenders.push({ entry, value: facts.value, range: facts.range });
      return;
    }
    const { domain } = facts;
    if (facts.publicSuffix) {
      at(entry, facts.side, {
        code: 'PUBLIC_SUFFIX',
        message: `'${domain}' is a public suffix: ${entry.kind === 'blockedSenders' ? 'blocking' : 'exempting'} it would cover every domain under it${where(entry)}`,
        severity: 'error',
      });
      return;
    }
    if (entry.kind !== 'blockedSenders') return;
    if (facts.at >= 0) {
      const ownHit = firstSuffixIn(domain, own);
      if (ownHit !== undefined)
        at(entry, 'sender', {
          code: 'BLOCKS_OWN_DOMAIN',
          message: `'${facts.value}' is an address in the tenant's own domain '${ownHit}'${where(entry)}`,
          severity: 'error',
        });
    } else {
      const ownDomain = protectedDomains.get(domain);
      if (ownDomain !== undefined)
        at(entry, 'sender', {
          code: 'BLOCKS_OWN_DOMAIN',
          message:
            ownDomain === domain
              ? `'${domain}' is one of the tenant's own domains${where(entry)}`
              : `'${domain}' is a parent of the tenant's own domain '${ownDomain}'${where(entry)}`,
          severity: 'error',
        });
    }
  };
  for (const entry of blockedSenders) checkPattern(entry);
  for (const entry of exemptions) checkPattern(entry);

  // IP ranges no one means: the whole internet (or most of it), and special-purpose ranges
  // no inbound mail comes from.
  const minPrefix = { ...DEFAULT_MIN_PREFIX, ...tenant.safety.minPrefix };
  for (const { entry, value, range } of ipSenders) {
    const verb = entry.kind === 'blockedSenders' ? 'blocking' : 'exempting';
    if (range.special !== undefined)
      at(entry, 'sender', {
        code: 'IP_NOT_PUBLIC',
        message: `'${value}' is in a special-purpose range (${range.special}): no inbound mail comes from it, ${verb} it is a mistake${where(entry)}`,
        severity: 'error',
      });
    else {
      const min = range.version === 4 ? minPrefix.ipv4 : minPrefix.ipv6;
      if (range.prefix < min)
        at(entry, 'sender', {
          code: 'CIDR_TOO_BROAD',
          message: `'${value}' is broader than a /${min}: ${verb} it would cover ${range.prefix === 0 ? 'the whole internet' : `2^${(range.version === 4 ? 32 : 128) - range.prefix} addresses`} (safety.minPrefix.ipv${range.version} sets the limit)${where(entry)}`,
          severity: 'error',
        });
    }
  }

  const exemptSenders = new Map<string, DesiredEntry>();
  for (const e of exemptions)
    if (e.value.sender !== undefined) exemptSenders.set(e.value.sender, e);
  for (const b of blockedSenders) {
    const ex = exemptSenders.get(b.value.sender);
    if (ex === undefined) continue;
    at(b, 'sender', {
      code: 'BLOCK_EXEMPT_CONFLICT',
      message: `'${b.value.sender}' is both blocked and exempted (exemption at ${ex.source.file}:${ex.source.line})${where(b)}`,
      severity: 'error',
      related: { file: ex.source.file, line: ex.source.line, column: ex.source.column },
    });
  }

  for (const r of tenant.entries.routes) {
    if (!own.has(r.value.domain))
      at(r, 'domain', {
        code: 'ROUTE_UNKNOWN_DOMAIN',
        message: `route for '${r.value.domain}', which is not one of the tenant's domains (${tenant.domains.join(', ') || 'none'})${where(r)}`,
        severity: 'error',
      });
  }

  const checkExpiry = (e: SenderEntry): void => {
    const expires = e.value.expires;
    if (expires !== undefined && expires < today)
      at(e, 'expires', {
        code: 'ENTRY_EXPIRED',
        message: `${e.key} expired on ${expires}; plan will remove it${where(e)}`,
        severity: 'warning',
      });
  };
  for (const e of blockedSenders) checkExpiry(e);
  for (const e of exemptions) checkExpiry(e);
  return out;
}
