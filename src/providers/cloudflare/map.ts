import { measureLength } from '../../model/capabilities.js';
import type { BlockedSenderEntry, ExemptionEntry, RouteEntry } from '../../model/kinds.js';
import { exemptionKey } from '../../model/entries.js';
import {
  normalizeDomain,
  normalizeHost,
  normalizeRecipient,
  normalizeSender,
  type Pattern,
} from '../../model/normalize.js';
import type { LiveEntry } from '../provider.js';
import type { CfAllowPolicy, CfBlockedSender, CfDomain, PatternType } from './wire.js';

/**
 * Vendor objects <-> model entries. Both directions are exact inverses for everything
 * mxpolicy writes, so an unchanged entry reads back equal and diffs to nothing.
 *
 * Ownership marker: mxpolicy writes `comments` as
 *
 *     [mxpolicy] <reason>
 *     [mxpolicy expires=2027-01-31 ticket=INC-4411] <reason>
 *
 *     [mxpolicy expires=2027-01-31 ticket=INC-4411 run=5f0c2a9e41b7] <reason>
 *
 * The bracketed tag marks the entry as managed; its attributes (URI-encoded values) carry
 * the model fields Cloudflare has no field for, and `run`: the apply run that wrote it (12
 * hex digits; see `keepOneCopy` in converge.ts), which is no part of the entry's value. A
 * tag without `run` (written before runs were stamped) is managed all the same. The rest is
 * the human-readable reason, as an admin sees it in the dashboard. An entry without the tag
 * is unmanaged.
 */

export const MARKER = 'mxpolicy';
/** Cloudflare's limit on `comments`. */
export const MAX_COMMENTS = 1024;

const MARKER_RE = /^\[mxpolicy((?: [a-z]+=[^\s\]]*)*)\](?: (.*))?$/s;

export interface ParsedComment {
  managed: boolean;
  reason: string;
  attrs: Record<string, string>;
}

export function formatComment(reason: string, attrs: Record<string, string | undefined>): string {
  let tag = `[${MARKER}`;
  for (const k in attrs) {
    const v = attrs[k];
    if (v !== undefined) tag += ` ${k}=${encodeURIComponent(v)}`;
  }
  return `${tag}] ${reason}`;
}

/** The tag attribute naming the apply run that wrote the entry. */
export const RUN_ATTR = 'run';
/** ` run=` and the run id's 12 hex digits: what stamping a run adds to `comments`. */
export const RUN_ATTR_LENGTH = 17;

/**
 * `comments` with the run id added to mxpolicy's tag (comments without the tag are
 * returned as they are), or why it no longer fits in Cloudflare's 1,024 characters.
 */
export function withRunId(comments: string, run: string): Mapped<string> {
  if (!/^[0-9a-f]{12}$/.test(run)) return { ok: false, reason: `invalid run id '${run}'` };
  if (!comments.startsWith(`[${MARKER}`)) return { ok: true, body: comments };
  const end = comments.indexOf(']');
  if (end < 0) return { ok: true, body: comments };
  // Attribute values are URI-encoded: the tag's first ']' is its end.
  const head = comments.slice(0, end);
  const tag = head.includes(' run=') ? head.replace(/ run=[^\s\]]*/, '') : head;
  const out = `${tag} ${RUN_ATTR}=${run}${comments.slice(end)}`;
  // A string holds at least as many UTF-16 units as code points: short ones surely fit.
  if (out.length <= MAX_COMMENTS) return { ok: true, body: out };
  const length = measureLength(out, 'code-points');
  return length > MAX_COMMENTS
    ? {
        ok: false,
        reason: `reason and metadata take ${length} characters with the run id; Cloudflare comments allow ${MAX_COMMENTS}`,
      }
    : { ok: true, body: out };
}

/**
 * The `run` attribute of mxpolicy's tag: `parseComment(comments).attrs.run` for a comment
 * `parseComment` counts as managed, without parsing the rest (the re-read after a full apply
 * looks at every entry written).
 */
export function runAttrOf(comments: string | null): string | undefined {
  if (comments === null) return undefined;
  // Attribute values are URI-encoded: the tag's first ']' is its end.
  const end = comments.indexOf(']');
  if (end < 0) return undefined;
  // The last ` run=` in the tag wins, as in `parseComment`; values hold no space.
  const at = comments.lastIndexOf(' run=', end);
  if (at < 0) return undefined;
  const stop = comments.indexOf(' ', at + 5);
  const raw = comments.slice(at + 5, stop < 0 || stop > end ? end : stop);
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const BARE_TAG = `[${MARKER}] `;
const RUN_TAG = `[${MARKER} ${RUN_ATTR}=`;
const RUN_ID = /^[0-9a-f]{12}$/;

export function parseComment(comments: string | null): ParsedComment {
  const text = comments ?? '';
  // The tag without attributes (most entries), and the tag with the run alone (what an
  // apply writes): what MARKER_RE would find, without its work.
  if (text.startsWith(BARE_TAG))
    return { managed: true, reason: text.slice(BARE_TAG.length).trim(), attrs: {} };
  const end = RUN_TAG.length + 12;
  if (
    text.startsWith(RUN_TAG) &&
    text.charCodeAt(end) === 0x5d /* ] */ &&
    text.charCodeAt(end + 1) === 0x20 /* space */
  ) {
    const run = text.slice(RUN_TAG.length, end);
    if (RUN_ID.test(run))
      return { managed: true, reason: text.slice(end + 2).trim(), attrs: { [RUN_ATTR]: run } };
  }
  return parseCommentFully(text);
}

/** `parseComment` without its shortcuts (for tests). */
export function parseCommentFully(comments: string | null): ParsedComment {
  const text = comments ?? '';
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

const PATTERN_TYPES: Record<Pattern['type'], Exclude<PatternType, 'UNKNOWN'>> = {
  email: 'EMAIL',
  domain: 'DOMAIN',
  ip: 'IP',
  cidr: 'IP',
};

/** The writable fields of a pattern object (block_senders / allow_policies). */
export interface PatternBody {
  pattern: string;
  pattern_type: Exclude<PatternType, 'UNKNOWN'>;
  is_regex: false;
  comments: string;
}
export type AllowPolicyBody = PatternBody & {
  is_exempt_recipient: boolean;
  is_trusted_sender: boolean;
  is_acceptable_sender: boolean;
  verify_sender: boolean;
  /** Deprecated flags, sent only (as false) by an update: see `exemptionToVendor`. */
  is_recipient?: false;
  is_sender?: false;
  is_spoof?: false;
};
export interface DomainPatch {
  transport: string;
  require_tls_inbound: boolean;
  require_tls_outbound: boolean;
}

export type Mapped<T> = { ok: true; body: T } | { ok: false; reason: string };

function withComment<T extends { comments: string }>(body: T): Mapped<T> {
  // A string holds at least as many UTF-16 units as code points: short ones surely fit.
  if (body.comments.length <= MAX_COMMENTS) return { ok: true, body };
  // Characters as Cloudflare counts them (code points; see capabilities.ts).
  const length = measureLength(body.comments, 'code-points');
  return length > MAX_COMMENTS
    ? {
        ok: false,
        reason: `reason and metadata take ${length} characters; Cloudflare comments allow ${MAX_COMMENTS}`,
      }
    : { ok: true, body };
}

export function blockedSenderToVendor(e: BlockedSenderEntry): Mapped<PatternBody> {
  const p = normalizeSender(e.sender);
  if (!p.ok) return { ok: false, reason: p.reason };
  return withComment({
    pattern: p.value.value,
    pattern_type: PATTERN_TYPES[p.value.type],
    is_regex: false,
    comments: formatComment(e.reason, { expires: e.expires, ticket: e.ticket }),
  });
}

/** A regex or unparsable pattern keeps its raw text under a prefix no literal key can have. */
function patternKey(
  o: { pattern: string; is_regex: boolean },
  p: ReturnType<typeof normalizeSender>,
): string {
  if (o.is_regex) return `regex:${o.pattern}`;
  return p.ok ? p.value.value : o.pattern.trim().toLowerCase();
}

export function blockedSenderFromVendor(o: CfBlockedSender): LiveEntry<'blockedSenders'> {
  const c = parseComment(o.comments);
  const p = normalizeSender(o.pattern);
  const key = patternKey(o, p);
  const value: BlockedSenderEntry = { sender: key, reason: c.reason };
  if (c.managed && c.attrs['expires'] !== undefined) value.expires = c.attrs['expires'];
  if (c.managed && c.attrs['ticket'] !== undefined) value.ticket = c.attrs['ticket'];
  // A regex is never ours, even when someone copied our tag into its comment.
  const managed = c.managed && !o.is_regex && p.ok;
  return { kind: 'blockedSenders', key, value, managed, id: o.id };
}

/**
 * An allow policy's writable fields. An update is a PATCH (the SDK has no single-item PUT),
 * which leaves fields it does not name as they are: so it also turns the deprecated flags
 * off (`clearDeprecated`), else an old `is_sender: true` would keep a bypass the YAML no
 * longer asks for (reads combine each deprecated flag with its successor, wire.ts).
 */
export function exemptionToVendor(
  e: ExemptionEntry,
  opts: { clearDeprecated?: boolean } = {},
): Mapped<AllowPolicyBody> {
  const recipient = e.recipient !== undefined;
  if (e.bypass === 'none')
    return { ok: false, reason: 'an exemption that bypasses nothing cannot be written' };
  const p = recipient ? normalizeRecipient(e.recipient ?? '') : normalizeSender(e.sender ?? '');
  if (!p.ok) return { ok: false, reason: p.reason };
  if (recipient && e.bypass !== 'all')
    return {
      ok: false,
      reason:
        'Cloudflare exempt recipients bypass every detection; write the exemption with bypass: all',
    };
  return withComment({
    pattern: p.value.value,
    pattern_type: PATTERN_TYPES[p.value.type],
    is_regex: false,
    comments: formatComment(e.reason, { expires: e.expires }),
    is_exempt_recipient: recipient,
    is_trusted_sender: !recipient && e.bypass === 'all',
    is_acceptable_sender: !recipient && e.bypass === 'spam',
    verify_sender: e.verifySender,
    ...(opts.clearDeprecated === true
      ? { is_recipient: false, is_sender: false, is_spoof: false }
      : {}),
  });
}

export function exemptionFromVendor(o: CfAllowPolicy): LiveEntry<'exemptions'> {
  const c = parseComment(o.comments);
  const recipient = o.is_exempt_recipient;
  const p = recipient ? normalizeRecipient(o.pattern) : normalizeSender(o.pattern);
  const pattern = o.is_regex
    ? `regex:${o.pattern}`
    : p.ok
      ? p.value.value
      : o.pattern.trim().toLowerCase();
  // Trusted (all detections) wins over acceptable (spam/spoof/bulk) when both are set; a
  // policy with neither (e.g. unticked in the dashboard) bypasses nothing, which no YAML
  // entry can say: it reads as `none`, so a declared exemption plans an update, not "no
  // changes".
  const bypass =
    recipient || o.is_trusted_sender ? 'all' : o.is_acceptable_sender ? 'spam' : 'none';
  const value: ExemptionEntry = recipient
    ? { recipient: pattern, bypass, verifySender: o.verify_sender, reason: c.reason }
    : { sender: pattern, bypass, verifySender: o.verify_sender, reason: c.reason };
  if (c.managed && c.attrs['expires'] !== undefined) value.expires = c.attrs['expires'];
  const managed = c.managed && !o.is_regex && p.ok;
  return { kind: 'exemptions', key: exemptionKey(value), value, managed, id: o.id };
}

/**
 * Routes: `deliverTo` <-> `transport`; `requireTls` <-> both `require_tls_inbound` and
 * `require_tls_outbound` (read as true only when both are). Cloudflare's transport is a host
 * name, so a port other than 25 cannot be expressed and is refused.
 */
export function routeToVendor(e: RouteEntry): Mapped<DomainPatch> {
  if (e.port !== 25)
    return {
      ok: false,
      reason: `Cloudflare delivers to port 25 of the transport host; port ${e.port} cannot be set`,
    };
  return {
    ok: true,
    body: {
      transport: e.deliverTo,
      require_tls_inbound: e.requireTls,
      require_tls_outbound: e.requireTls,
    },
  };
}

export function routeFromVendor(o: CfDomain): LiveEntry<'routes'> {
  const d = normalizeDomain(o.domain);
  const domain = d.ok ? d.value : o.domain.trim().toLowerCase();
  const host = o.transport === null ? undefined : normalizeHost(o.transport);
  const value: RouteEntry = {
    domain,
    deliverTo: host === undefined ? '' : host.ok ? host.value : (o.transport ?? ''),
    port: 25,
    requireTls: o.require_tls_inbound === true && o.require_tls_outbound === true,
  };
  // Domains carry no marker: declaring a route for one of the tenant's domains is what makes
  // it managed (DESIGN §4), and the capabilities say routes are update-only.
  return { kind: 'routes', key: domain, value, managed: true, id: o.id };
}
