import type { BlockedSenderEntry, ExemptionEntry } from '../src/model/kinds.js';

/**
 * Deterministic data for the Mimecast benchmark: 125 client accounts, each with blocked
 * senders (most from a bundle every tenant includes, the rest its own: domains, addresses,
 * IPs) and anti-spoofing bypass exemptions (`bypass: spoof`), drawn from the real
 * `disposable-email-domains` list (see cloudflare-data.ts for the filter).
 */

export interface MimecastBenchShape {
  tenants: number;
  /** Blocked senders per tenant (baseline bundle + the tenant's own). */
  senders: number;
  /** Spoof exemptions per tenant (baseline bundle + the tenant's own). */
  exemptions: number;
}

export const BASELINE_SHARE = 0.75;

export const tenantId = (t: number): string => `t${String(t).padStart(3, '0')}`;
export const clientIdOf = (t: number): string => `mxpolicy-bench-${tenantId(t)}`;
export const secretOf = (t: number): string => `bench-secret-${t}-${'s'.repeat(24)}`;
export const secretEnvOf = (t: number): string => `MC_SECRET_T${String(t).padStart(3, '0')}`;

export interface MimecastTenantData {
  blockedSenders: BlockedSenderEntry[];
  exemptions: ExemptionEntry[];
}

export interface MimecastBenchData {
  baseline: MimecastTenantData;
  tenant(t: number): MimecastTenantData;
}

const FIRST_OCTETS = [23, 45, 62, 77, 89, 91, 146, 185, 193, 212];

export function mimecastBenchData(shape: MimecastBenchShape, domains: string[]): MimecastBenchData {
  const baseSenders = Math.round(shape.senders * BASELINE_SHARE);
  const baseExempt = Math.round(shape.exemptions * 0.2);
  const ownSenders = shape.senders - baseSenders;
  const ownExempt = shape.exemptions - baseExempt;
  const need = baseSenders + baseExempt + shape.tenants * (ownSenders + ownExempt);
  if (domains.length < need) throw new Error(`need ${need} domains, have ${domains.length}`);
  let next = 0;
  const take = (n: number): string[] => domains.slice(next, (next += n));

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

  const baseline: MimecastTenantData = {
    blockedSenders: take(baseSenders).map((d, i) => sender(d, i)),
    exemptions: take(baseExempt).map((d, i) => exemption(d, i)),
  };
  const own = Array.from({ length: shape.tenants }, () => ({
    blockedSenders: take(ownSenders).map((d, i): BlockedSenderEntry =>
      i % 4 === 0
        ? { sender: `billing@${d}`, reason: `invoice fraud, tenant report #${i}` }
        : { sender: d, reason: `disposable mail source, tenant report #${i}` },
    ),
    exemptions: take(ownExempt).map((d, i) => exemption(d, i + 1)),
  }));
  return {
    baseline,
    tenant: (t) => {
      const mine = own[t];
      if (mine === undefined) throw new Error(`no tenant ${t}`);
      return mine;
    },
  };
}
