import { exemptionKey } from '../../model/entries.js';
import type { BlockedSenderEntry, ExemptionEntry, LiveEntry } from '../../model/kinds.js';
import {
  normalizeCidr,
  normalizeIp,
  normalizeSender,
  type Normalized,
  type Pattern,
} from '../../model/normalize.js';
import type {
  BlockedSenderCreate,
  BypassCreate,
  McPolicy,
  McPolicyBody,
  McPolicyItem,
  McTarget,
  McTargetBody,
} from './wire.js';

/**
 * Mimecast policies <-> model entries. Both directions are exact inverses for everything
 * mxpolicy writes, so an unchanged entry reads back equal and diffs to nothing.
 *
 * | model                          | Mimecast policy                                            |
 * |--------------------------------|------------------------------------------------------------|
 * | sender `a@b.example`           | `from: {type: individual_email_address, emailAddress}`     |
 * | sender `b.example`             | `from: {type: email_domain, emailDomain}`                  |
 * | sender `198.51.100.7` / a CIDR | `from: {type: everyone}` + `conditions.sourceIPs: [cidr]`  |
 * | (every recipient)              | `to: {type: everyone}`                                     |
 * | `expires: 2026-12-01`          | `toDate: 2026-12-01T23:59:59+0000`, `toEternal: false`    |
 * | `reason`, `ticket`, marker     | `description: "[mxpolicy ticket=INC-1] reason"`            |
 * | exemption `verifySender: true` | `conditions.spfDomains: [the sender's domain]`             |
 *
 * Ownership marker: `description` starts with `[mxpolicy]` (attributes URI-encoded), then the
 * human-readable reason, as an admin sees it in the console. The contract's blocked-sender
 * get-policy response has no `comment`, so everything lives in `description`.
 *
 * A policy that targets something mxpolicy does not model (a group, a header display name,
 * an attribute, a `to` other than everyone, hostnames, a start date, `no_action`, a disabled
 * bypass...) is `foreign`: listed, never touched, whatever the ownership mode.
 */

export const MARKER = 'mxpolicy';
const MARKER_RE = /^\[mxpolicy((?: [a-z]+=[^\s\]]*)*)\](?: (.*))?$/s;

export interface ParsedDescription {
  managed: boolean;
  reason: string;
  attrs: Record<string, string>;
}

export function formatDescription(
  reason: string,
  attrs: Record<string, string | undefined> = {},
): string {
  const parts = Object.entries(attrs)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}=${encodeURIComponent(v)}`);
  return `[${MARKER}${parts.join('')}] ${reason}`;
}

export function parseDescription(text: string): ParsedDescription {
  const m = MARKER_RE.exec(text);
  if (m === null) return { managed: false, reason: text.trim(), attrs: {} };
  const attrs: Record<string, string> = {};
  for (const pair of (m[1] ?? '').trim().split(' ')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    try {
      attrs[pair.slice(0, eq)] = decodeURIComponent(pair.slice(eq + 1));
    } catch {
      attrs[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return { managed: true, reason: (m[2] ?? '').trim(), attrs };
}

/** `2026-12-01` -> the last second of that day, UTC, in Mimecast's date form. */
export function expiresToDate(expires: string): string {
  return `${expires}T23:59:59+0000`;
}

/** A Mimecast date (`2026-12-01T23:59:59+0000`, or with `Z`/`+hh:mm`) -> its UTC day. */
export function dateToExpires(date: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:?\d{2})?$/.exec(date);
  if (m === null) return undefined;
  const zone =
    m[2] === undefined || m[2] === 'Z' ? 'Z' : m[2].replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
  const ms = Date.parse(`${m[1]}${zone}`);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().slice(0, 10);
}

export type Mapped<T> = { ok: true; body: T } | { ok: false; reason: string };

/** A sender pattern as a Mimecast `from` target plus source-IP condition. */
function senderTarget(p: Pattern): { from: McTargetBody; sourceIPs?: string[] } {
  switch (p.type) {
    case 'email':
      return { from: { type: 'individual_email_address', emailAddress: p.value } };
    case 'domain':
      return { from: { type: 'email_domain', emailDomain: p.value } };
    case 'ip':
      return {
        from: { type: 'everyone' },
        sourceIPs: [`${p.value}/${p.value.includes(':') ? 128 : 32}`],
      };
    case 'cidr':
      return { from: { type: 'everyone' }, sourceIPs: [p.value] };
  }
}

function policyBody(
  p: Pattern,
  description: string,
  expires: string | undefined,
  fromPart: McPolicyBody['fromPart'],
  spfDomains: string[],
): McPolicyBody {
  const { from, sourceIPs } = senderTarget(p);
  const body: McPolicyBody = {
    description,
    fromPart,
    from,
    to: { type: 'everyone' },
    bidirectional: false,
    fromEternal: true,
    toEternal: expires === undefined,
  };
  const conditions: NonNullable<McPolicyBody['conditions']> = {};
  if (sourceIPs !== undefined) conditions.sourceIPs = sourceIPs;
  if (spfDomains.length > 0) conditions.spfDomains = spfDomains;
  if (Object.keys(conditions).length > 0) body.conditions = conditions;
  if (expires !== undefined) body.toDate = expiresToDate(expires);
  return body;
}

/**
 * Blocked senders are matched on both the envelope and the header sender: a block must not
 * be dodged by the address shown to the reader.
 */
export const BLOCK_FROM_PART = 'both';
/** A bypass is as narrow as Mimecast allows: the envelope sender, verified by SPF. */
export const BYPASS_FROM_PART = 'envelope_from';

export function blockedSenderToVendor(e: BlockedSenderEntry): Mapped<BlockedSenderCreate> {
  const p = normalizeSender(e.sender);
  if (!p.ok) return { ok: false, reason: p.reason };
  return {
    ok: true,
    body: {
      option: 'block_sender',
      policy: policyBody(
        p.value,
        formatDescription(e.reason, { ticket: e.ticket }),
        e.expires,
        BLOCK_FROM_PART,
        [],
      ),
    },
  };
}

export function exemptionToVendor(e: ExemptionEntry): Mapped<BypassCreate> {
  if (e.recipient !== undefined || e.sender === undefined)
    return {
      ok: false,
      reason:
        'Mimecast anti-spoofing bypass policies match senders; a recipient exemption cannot be expressed',
    };
  if (e.bypass !== 'spoof')
    return {
      ok: false,
      reason: `Mimecast's anti-spoofing bypass skips only the spoofing check; bypass: ${e.bypass} cannot be expressed (write bypass: spoof)`,
    };
  const p = normalizeSender(e.sender);
  if (!p.ok) return { ok: false, reason: p.reason };
  const spf = e.verifySender ? spfDomainOf(p.value) : [];
  if (e.verifySender && spf.length === 0)
    return {
      ok: false,
      reason: `Mimecast verifies a bypassed sender by SPF for its domain; the IP sender '${p.value.value}' has none: write verifySender: false`,
    };
  return {
    ok: true,
    body: {
      option: 'enable_bypass',
      policy: {
        ...policyBody(p.value, formatDescription(e.reason), e.expires, BYPASS_FROM_PART, spf),
        enabled: true,
      },
    },
  };
}

function spfDomainOf(p: Pattern): string[] {
  if (p.type === 'domain') return [p.value];
  if (p.type === 'email') return [p.value.slice(p.value.lastIndexOf('@') + 1)];
  return [];
}

// ---- reading ----------------------------------------------------------------------------

/** A live policy mxpolicy does not model: listed, never changed or deleted. */
export interface ForeignPolicy {
  id: string;
  /** What it targets, for the listing (unique: ends with the policy id). */
  key: string;
  why: string;
}

export type ReadPolicy<K extends 'blockedSenders' | 'exemptions'> =
  { ok: true; entry: LiveEntry<K> } | { ok: false; foreign: ForeignPolicy };

function describeTarget(t: McTarget): string {
  const value = t.emailAddress ?? t.emailDomain ?? t.groupId ?? t.headerDisplayName;
  return value === undefined ? t.type : `${t.type} ${value}`;
}

function foreign(item: McPolicyItem, why: string): { ok: false; foreign: ForeignPolicy } {
  const what = item.policy === undefined ? 'policy' : describeTarget(item.policy.from);
  return { ok: false, foreign: { id: item.id, key: `${what} (policy ${item.id})`, why } };
}

/** The one sender a policy names, when mxpolicy can model it; else why not. */
function readSender(policy: McPolicy): Normalized<Pattern> {
  const { from, to, conditions } = policy;
  if (to.type !== 'everyone' || to.extra)
    return { ok: false, reason: `it applies to ${describeTarget(to)}, not everyone` };
  if (from.extra) return { ok: false, reason: 'its sender names a group or attribute' };
  if (policy.bidirectional) return { ok: false, reason: 'it is bidirectional' };
  if (conditions.hostnames.length > 0) return { ok: false, reason: 'it has a hostname condition' };
  if (policy.fromEternal === false) return { ok: false, reason: 'it has a start date' };
  if (from.type === 'everyone') {
    const [ip, ...more] = conditions.sourceIPs;
    if (ip === undefined) return { ok: false, reason: 'it matches every sender' };
    if (more.length > 0) return { ok: false, reason: 'it lists several source IP ranges' };
    const cidr = normalizeCidr(ip.includes('/') ? ip : `${ip}/${ip.includes(':') ? 128 : 32}`);
    if (!cidr.ok) return cidr;
    const [addr = '', prefix] = cidr.value.split('/');
    const single = prefix === (addr.includes(':') ? '128' : '32');
    if (single) {
      const one = normalizeIp(addr);
      return one.ok ? { ok: true, value: { type: 'ip', value: one.value } } : one;
    }
    return { ok: true, value: { type: 'cidr', value: cidr.value } };
  }
  if (conditions.sourceIPs.length > 0)
    return { ok: false, reason: 'it combines a sender with source IPs' };
  if (from.type === 'individual_email_address' && from.emailAddress !== undefined) {
    const p = normalizeSender(from.emailAddress);
    return p.ok && p.value.type === 'email'
      ? p
      : { ok: false, reason: `'${from.emailAddress}' is not an address mxpolicy models` };
  }
  if (from.type === 'email_domain' && from.emailDomain !== undefined) {
    const p = normalizeSender(from.emailDomain);
    return p.ok && p.value.type === 'domain'
      ? p
      : { ok: false, reason: `'${from.emailDomain}' is not a domain mxpolicy models` };
  }
  return { ok: false, reason: `its sender is ${describeTarget(from)}` };
}

function readExpires(policy: McPolicy): Normalized<string | undefined> {
  if (policy.toEternal !== false || policy.toDate === undefined)
    return { ok: true, value: undefined };
  const d = dateToExpires(policy.toDate);
  return d === undefined
    ? { ok: false, reason: `its end date '${policy.toDate}' is unreadable` }
    : { ok: true, value: d };
}

export function blockedSenderFromVendor(item: McPolicyItem): ReadPolicy<'blockedSenders'> {
  const policy = item.policy;
  if (policy === undefined) return foreign(item, 'its policy object is not one policy');
  if (item.option !== 'block_sender')
    return foreign(item, `its option is ${item.option || 'missing'}, not block_sender`);
  if (policy.conditions.spfDomains.length > 0)
    return foreign(item, 'it has an SPF domain condition');
  const sender = readSender(policy);
  if (!sender.ok) return foreign(item, sender.reason);
  const expires = readExpires(policy);
  if (!expires.ok) return foreign(item, expires.reason);
  const d = parseDescription(policy.description);
  const value: BlockedSenderEntry = { sender: sender.value.value, reason: d.reason };
  if (expires.value !== undefined) value.expires = expires.value;
  if (d.managed && d.attrs['ticket'] !== undefined) value.ticket = d.attrs['ticket'];
  return {
    ok: true,
    entry: { kind: 'blockedSenders', key: value.sender, value, managed: d.managed, id: item.id },
  };
}

export function exemptionFromVendor(item: McPolicyItem): ReadPolicy<'exemptions'> {
  const policy = item.policy;
  if (policy === undefined) return foreign(item, 'its policy object is not one policy');
  if (item.option !== 'enable_bypass')
    return foreign(item, `its option is ${item.option || 'missing'}, not enable_bypass`);
  if (policy.enabled === false) return foreign(item, 'it is disabled');
  const sender = readSender(policy);
  if (!sender.ok) return foreign(item, sender.reason);
  const expires = readExpires(policy);
  if (!expires.ok) return foreign(item, expires.reason);
  const spf = [...new Set(policy.conditions.spfDomains.map((s) => s.trim().toLowerCase()))];
  const own = spfDomainOf(sender.value);
  let verifySender: boolean;
  if (spf.length === 0) verifySender = false;
  else if (spf.length === 1 && own.length === 1 && spf[0] === own[0]) verifySender = true;
  else
    return foreign(item, `it verifies SPF for ${spf.join(', ')}, not for the sender's own domain`);
  const d = parseDescription(policy.description);
  const value: ExemptionEntry = {
    sender: sender.value.value,
    bypass: 'spoof',
    verifySender,
    reason: d.reason,
  };
  if (expires.value !== undefined) value.expires = expires.value;
  return {
    ok: true,
    entry: { kind: 'exemptions', key: exemptionKey(value), value, managed: d.managed, id: item.id },
  };
}
