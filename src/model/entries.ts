import type {
  AnyEntry,
  BlockedSender,
  Exemption,
  Hold,
  Kind,
  KeyedEntry,
  Route,
  HoldEntry,
  ExemptionEntry,
  BlockedSenderEntry,
  RouteEntry,
} from './kinds.js';
import { ENTRY_FIELDS } from './schema-types.generated.js';
import {
  normalizeEmail,
  normalizeHost,
  normalizeDomain,
  normalizeRecipient,
  normalizeSender,
  type Pattern,
} from './normalize.js';

/** A problem found while normalizing one entry; `path` is relative to the entry. */
export interface EntryProblem {
  path: (string | number)[];
  code: 'INVALID_PATTERN' | 'INVALID_ADDRESS' | 'INVALID_DOMAIN' | 'INVALID_HOST';
  message: string;
}

export type NormalizedEntry<K extends Kind> =
  { ok: true; entry: KeyedEntry<K>; pattern?: Pattern } | { ok: false; problems: EntryProblem[] };

export interface RawEntryOf {
  blockedSenders: BlockedSender;
  exemptions: Exemption;
  holds: Hold;
  routes: Route;
}

/** The diff key of an exemption: which side it matches, then its normalized pattern. */
export function exemptionKey(e: { sender?: string; recipient?: string }): string {
  return e.sender !== undefined ? `sender:${e.sender}` : `recipient:${e.recipient ?? ''}`;
}

function blocked(raw: BlockedSender): NormalizedEntry<'blockedSenders'> {
  const p = normalizeSender(raw.sender);
  if (!p.ok)
    return {
      ok: false,
      problems: [{ path: ['sender'], code: 'INVALID_PATTERN', message: p.reason }],
    };
  const value: BlockedSenderEntry = { sender: p.value.value, reason: raw.reason.trim() };
  if (raw.expires !== undefined) value.expires = raw.expires;
  if (raw.ticket !== undefined) value.ticket = raw.ticket;
  return {
    ok: true,
    entry: { kind: 'blockedSenders', key: value.sender, value },
    pattern: p.value,
  };
}

function exemption(raw: Exemption): NormalizedEntry<'exemptions'> {
  const side = raw.sender !== undefined ? 'sender' : 'recipient';
  const input = raw.sender ?? raw.recipient ?? '';
  const p = side === 'sender' ? normalizeSender(input) : normalizeRecipient(input);
  if (!p.ok)
    return { ok: false, problems: [{ path: [side], code: 'INVALID_PATTERN', message: p.reason }] };
  // Two literals rather than a computed key, which V8 builds on a slow path (a dictionary
  // object): this runs for every exemption of every file.
  const verifySender = raw.verifySender ?? true;
  const reason = raw.reason.trim();
  const value: ExemptionEntry =
    side === 'sender'
      ? { sender: p.value.value, bypass: raw.bypass, verifySender, reason }
      : { recipient: p.value.value, bypass: raw.bypass, verifySender, reason };
  if (raw.expires !== undefined) value.expires = raw.expires;
  return {
    ok: true,
    entry: { kind: 'exemptions', key: exemptionKey(value), value },
    pattern: p.value,
  };
}

function hold(raw: Hold): NormalizedEntry<'holds'> {
  const problems: EntryProblem[] = [];
  const custodians = new Set<string>();
  const list = raw.custodians === 'all' ? [] : raw.custodians;
  list.forEach((c, i) => {
    const r = normalizeEmail(c);
    if (r.ok) custodians.add(r.value);
    else problems.push({ path: ['custodians', i], code: 'INVALID_ADDRESS', message: r.reason });
  });
  if (problems.length > 0) return { ok: false, problems };
  const value: HoldEntry = {
    id: raw.id.trim(),
    matter: raw.matter.trim(),
    custodians: raw.custodians === 'all' ? 'all' : [...custodians].sort(),
  };
  if (raw.since !== undefined) value.since = raw.since;
  if (raw.released !== undefined) value.released = raw.released;
  return { ok: true, entry: { kind: 'holds', key: value.id, value } };
}

function route(raw: Route): NormalizedEntry<'routes'> {
  const problems: EntryProblem[] = [];
  const domain = normalizeDomain(raw.domain);
  if (!domain.ok)
    problems.push({ path: ['domain'], code: 'INVALID_DOMAIN', message: domain.reason });
  const host = normalizeHost(raw.deliverTo);
  if (!host.ok) problems.push({ path: ['deliverTo'], code: 'INVALID_HOST', message: host.reason });
  if (!domain.ok || !host.ok) return { ok: false, problems };
  const value: RouteEntry = {
    domain: domain.value,
    deliverTo: host.value,
    port: raw.port ?? 25,
    requireTls: raw.requireTls ?? false,
  };
  return { ok: true, entry: { kind: 'routes', key: value.domain, value } };
}

const normalizers: { [K in Kind]: (raw: RawEntryOf[K]) => NormalizedEntry<K> } = {
  blockedSenders: blocked,
  exemptions: exemption,
  holds: hold,
  routes: route,
};

/** Normalize one schema-valid entry of a kind and compute its key. */
export function normalizeEntry<K extends Kind>(kind: K, raw: RawEntryOf[K]): NormalizedEntry<K> {
  return normalizers[kind](raw);
}

/**
 * A serialization of an entry that depends on its field values only, never on key order:
 * every field of the kind's schema (`ENTRY_FIELDS`, generated from it) in a fixed order,
 * then any other field the entry has, sorted. By construction, not a hand-kept list: a
 * field added to the schema is in the plan checksum the day it is added. (A tuple, cheap
 * enough for plans of 250,000 changes.)
 */
export function entryFingerprint(kind: Kind, value: AnyEntry): string {
  const fields: readonly string[] = ENTRY_FIELDS[kind];
  const v = value as unknown as Record<string, unknown>;
  // The JSON of the array of field values (null for an absent one, an object's canonical
  // JSON as a string), written out without building the array.
  let out = '[';
  let present = 0;
  for (let i = 0; i < fields.length; i++) {
    if (i > 0) out += ',';
    const x = v[fields[i] as string];
    if (x === undefined) out += 'null';
    else {
      present++;
      out += JSON.stringify(x !== null && typeof x === 'object' ? canonicalJson(x) : x);
    }
  }
  out += ']';
  let count = 0;
  for (const k in v) if (v[k] !== undefined) count++;
  if (count !== present) {
    const rest: Record<string, unknown> = {};
    for (const k in v) if (!fields.includes(k)) rest[k] = v[k];
    out += canonicalJson(rest);
  }
  return out;
}

/** Canonical JSON: keys sorted, undefined members left out, so equal values serialize equally. */
export function canonicalJson(value: unknown): string {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol')
    return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(record).sort()) {
    const v = record[k];
    if (v !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Structural equality of JSON-like values (undefined members count as absent). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameJson(v, b[i]));
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let count = 0;
  for (const k in ra) {
    if (ra[k] === undefined) continue;
    count++;
    if (!sameJson(ra[k], rb[k])) return false;
  }
  for (const k in rb) if (rb[k] !== undefined) count--;
  return count === 0;
}
