import type { BlockedSenderEntry, ExemptionEntry } from '../src/model/kinds.js';
import {
  FIRST_OCTETS,
  ownOf,
  splitEntries,
  tenantId,
  type BenchShape,
  type Entries,
} from './tenant-data.js';

/**
 * Deterministic data for the Mimecast benchmark: 125 client accounts, each with blocked
 * senders (most from a bundle every tenant includes, the rest its own: domains, addresses,
 * IPs) and anti-spoofing bypass exemptions (`bypass: spoof`), drawn from the real
 * `disposable-email-domains` list (see cloudflare-data.ts for the filter).
 */

export type MimecastBenchShape = BenchShape;

export { tenantId };
export const clientIdOf = (t: number): string => `mxpolicy-bench-${tenantId(t)}`;
export const secretOf = (t: number): string => `bench-secret-${t}-${'s'.repeat(24)}`;
export const secretEnvOf = (t: number): string => `MC_SECRET_T${String(t).padStart(3, '0')}`;

export type MimecastTenantData = Entries;

export interface MimecastBenchData {
  baseline: MimecastTenantData;
  tenant(t: number): MimecastTenantData;
}

export function mimecastBenchData(shape: MimecastBenchShape, domains: string[]): MimecastBenchData {
  const sender = (d: string, i: number): BlockedSenderEntry => {
    const reason = `disposable mail source #${i}`;
    if (i % 20 === 7)
      return {
        // Distinct per i: the octets spell i out, so no two entries collide.
        sender: `${FIRST_OCTETS[i % FIRST_OCTETS.length] ?? 23}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255 || 1}`,
        reason,
      };
    if (i % 5 === 3) return { sender: `noreply@${d}`, reason, ticket: `SEC-${1000 + i}` };
    return { sender: d, reason };
  };
  const exemption = (d: string, i: number): ExemptionEntry =>
    i % 2 === 0
      ? { sender: d, bypass: 'spoof', verifySender: true, reason: 'company-wide mail' }
      : {
          sender: `news@${d}`,
          bypass: 'spoof',
          verifySender: i % 4 !== 1,
          reason: 'partner sends in our name',
        };
  const { baseline, own } = splitEntries(shape, domains, {
    sender,
    exemption,
    ownExemption: (d, i) => exemption(d, i + 1),
  });
  return { baseline, tenant: (t) => ownOf(own, t) };
}
