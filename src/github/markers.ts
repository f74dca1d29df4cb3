import { decodeTenantChecksums } from '../plan/plan-marker.js';
/**
 * Hidden HTML-comment markers that let mxpolicy find its own comments and issues again:
 * `<!-- mxpolicy:plan checksum=… -->` on the sticky plan comment, `mxpolicy:apply` on apply
 * reports and `mxpolicy:drift` on drift issues. Attribute values never contain spaces or
 * `-->` (checksums, SHAs, tenant ids), so `key=value` pairs are enough.
 */
export type MarkerKind = 'plan' | 'apply' | 'drift';

export interface Marker {
  kind: MarkerKind;
  attrs: Record<string, string>;
}

const MARKER = /<!--\s*mxpolicy:(plan|apply|drift)\b([^>]*?)-->/;
const SAFE_VALUE = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$/;

export function renderMarker(kind: MarkerKind, attrs: Record<string, string> = {}): string {
  const pairs = Object.entries(attrs).map(([k, v]) => {
    if (!/^[a-z][a-z0-9-]*$/.test(k) || !SAFE_VALUE.test(v) || v.includes('--')) {
      throw new Error(`marker attribute ${k} has a value that cannot be embedded: ${v}`);
    }
    return ` ${k}=${v}`;
  });
  return `<!-- mxpolicy:${kind}${pairs.join('')} -->`;
}

/** The first mxpolicy marker in a body, or undefined. */
export function parseMarker(body: string | null | undefined): Marker | undefined {
  if (!body) return undefined;
  const m = MARKER.exec(body);
  if (!m) return undefined;
  const attrs: Record<string, string> = {};
  for (const pair of (m[2] ?? '').trim().split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq > 0) attrs[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { kind: m[1] as MarkerKind, attrs };
}

export function hasMarker(body: string | null | undefined, kind: MarkerKind): boolean {
  return parseMarker(body)?.kind === kind;
}

/** The reviewed plan's checksum from a sticky plan comment (undefined if absent). */
export function parsePlanChecksum(body: string | null | undefined): string | undefined {
  const marker = parseMarker(body);
  if (marker?.kind !== 'plan') return undefined;
  const checksum = marker.attrs['checksum'];
  return checksum && /^[0-9a-f]{16,128}$/i.test(checksum) ? checksum : undefined;
}

/**
 * Each tenant's part of the reviewed plan from a plan comment's marker (`planMarker` in
 * plan/plan-marker.ts), or undefined when the marker has none (an older comment, or a plan
 * too large for the list) or it is malformed.
 */
export function parseTenantChecksums(
  body: string | null | undefined,
): Map<string, string> | undefined {
  const marker = parseMarker(body);
  const value = marker?.kind === 'plan' ? marker.attrs['tenants'] : undefined;
  return value === undefined ? undefined : decodeTenantChecksums(value);
}
