import ipaddr from 'ipaddr.js';

/** The broadest range (shortest prefix) a blocked or exempted sender may be, by default. */
export const DEFAULT_MIN_PREFIX = { ipv4: 8, ipv6: 16 } as const;

/**
 * Ranges no inbound mail comes from over the internet: private, loopback, link-local,
 * documentation, multicast, reserved. Blocking or exempting one (or an address in one) is
 * a mistake, never a policy.
 */
const SPECIAL: readonly [string, string][] = [
  ['0.0.0.0/8', '"this network"'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation (TEST-NET-1)'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation (TEST-NET-2)'],
  ['203.0.113.0/24', 'documentation (TEST-NET-3)'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved (and broadcast)'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['100::/64', 'discard-only'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['fc00::/7', 'unique local (private)'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
];
const PARSED = SPECIAL.map(([cidr, name]) => ({ cidr, name, range: ipaddr.parseCIDR(cidr) }));

export interface IpRange {
  version: 4 | 6;
  prefix: number;
  /** Set when the whole range lies in a special-purpose range: what that range is. */
  special?: string;
}

/** A normalized IP address or CIDR: its version, prefix length and special-purpose range. */
export function describeIpRange(value: string): IpRange | undefined {
  const slash = value.indexOf('/');
  const addrText = slash < 0 ? value : value.slice(0, slash);
  if (!ipaddr.isValid(addrText)) return undefined;
  const addr = ipaddr.parse(addrText);
  const version = addr.kind() === 'ipv4' ? 4 : 6;
  const prefix = slash < 0 ? (version === 4 ? 32 : 128) : Number(value.slice(slash + 1));
  const hit = PARSED.find(
    (s) => s.range[0].kind() === addr.kind() && prefix >= s.range[1] && addr.match(s.range),
  );
  return hit !== undefined
    ? { version, prefix, special: `${hit.name}, ${hit.cidr}` }
    : { version, prefix };
}
