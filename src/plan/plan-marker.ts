import { EMPTY_TENANT_CHECKSUM, tenantChecksum } from './build-plan.js';
import type { Plan } from './types.js';

/**
 * The hidden marker of a plan comment: `<!-- mxpolicy:plan checksum=… tenants=… -->`. The
 * whole checksum is what an all-or-nothing apply holds to; `tenants` carries each tenant's
 * part so the merge workflow can check and apply tenant by tenant (a tenant whose live state
 * moved after review is refused alone).
 *
 * `tenants` lists only tenants with something to do (a tenant left out had nothing to do),
 * each with the first `TENANT_CHECKSUM_CHARS` hex digits of its `tenantChecksum`, joined by
 * `+`. Tenant ids may contain `--`, which an HTML comment may not: `-` is written as `.`
 * (never part of a tenant id). A plan whose list would pass `MAX_TENANT_CHECKSUMS_CHARS`
 * (thousands of changed tenants) leaves it out, and apply falls back to the whole checksum.
 */
export const TENANT_CHECKSUM_CHARS = 16;
export const MAX_TENANT_CHECKSUMS_CHARS = 24_000;

export function planMarker(plan: Plan): string {
  const checksums = new Map<string, string>();
  for (const t of plan.tenants) {
    const checksum = tenantChecksum(t);
    if (checksum !== EMPTY_TENANT_CHECKSUM) checksums.set(t.tenant, checksum);
  }
  const tenants = encodeTenantChecksums(checksums);
  return `<!-- mxpolicy:plan checksum=${plan.checksum}${tenants !== undefined ? ` tenants=${tenants}` : ''} -->`;
}

/** Read the whole checksum back out of a comment body carrying `planMarker`. */
export function readPlanMarker(body: string): string | undefined {
  return /<!-- mxpolicy:plan checksum=([0-9a-f]{64})(?: [^>]*?)? -->/.exec(body)?.[1];
}

export function encodeTenantChecksums(checksums: ReadonlyMap<string, string>): string | undefined {
  const parts: string[] = [];
  for (const [tenant, checksum] of checksums) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(tenant) || !/^[0-9a-f]{16,}$/.test(checksum)) return undefined;
    parts.push(`${tenant.replaceAll('-', '.')}:${checksum.slice(0, TENANT_CHECKSUM_CHARS)}`);
  }
  if (parts.length === 0) return 'none';
  const value = parts.join('+');
  return value.length <= MAX_TENANT_CHECKSUMS_CHARS ? value : undefined;
}

/** The per-tenant checksums of a `tenants` value, or undefined when it is malformed. */
export function decodeTenantChecksums(value: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  if (value === 'none') return out;
  for (const part of value.split('+')) {
    const m = /^([a-z0-9][a-z0-9.]*):([0-9a-f]{16})$/.exec(part);
    if (m === null || m[1] === undefined || m[2] === undefined) return undefined;
    out.set(m[1].replaceAll('.', '-'), m[2]);
  }
  return out;
}
