import { createRequire } from 'node:module';
import { getDomain } from 'tldts';
import type { BlockedSenderEntry, ExemptionEntry } from '../src/model/kinds.js';

/**
 * Deterministic benchmark data, shared by the benchmark and its emulator process: tenants
 * whose desired state is already live (steady state), with realistic blocked domains from
 * the `disposable-email-domains` list.
 */

export interface BenchShape {
  tenants: number;
  /** Blocked senders per tenant (baseline bundle + the tenant's own). */
  senders: number;
  /** Exemptions per tenant (baseline bundle + the tenant's own). */
  exemptions: number;
}

export const BASELINE_SHARE = 0.75;

const require = createRequire(import.meta.url);

export function benchDomains(): string[] {
  const all = require('disposable-email-domains') as string[];
  // Only registrable domains (no public suffixes, which validation rightly refuses).
  return all.filter((d) => getDomain(d) === d && /^[a-z0-9.-]+$/.test(d));
}

// Unique for any number of tenants (padding with a hex digit made t=0 and t=160 collide).
export const accountOf = (t: number): string => `a${t.toString(16).padStart(31, '0')}`;
export const tokenOf = (t: number): string => `bench-token-${t}-${'x'.repeat(16)}`;
export const tenantId = (t: number): string => `t${String(t).padStart(3, '0')}`;
export const tokenEnvOf = (t: number): string => `CF_TOKEN_T${String(t).padStart(3, '0')}`;

export interface TenantData {
  blockedSenders: BlockedSenderEntry[];
  exemptions: ExemptionEntry[];
  route: { domain: string; deliverTo: string };
}

/** Public addresses only (Cloudflare refuses private, loopback, link-local...). */
const FIRST_OCTETS = [23, 45, 62, 77, 89, 91, 146, 185, 193, 212];

export interface BenchData {
  baseline: TenantData;
  tenant(t: number): TenantData;
}

export function benchData(shape: BenchShape, domains: string[]): BenchData {
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
        sender: `${FIRST_OCTETS[i % FIRST_OCTETS.length] ?? 23}.${(i >> 8) % 250}.${i % 250}.${(i * 7) % 250 || 1}`,
        reason,
      };
    if (i % 5 === 3) return { sender: `noreply@${d}`, reason, ticket: `SEC-${1000 + i}` };
    return { sender: d, reason };
  };
  const exemption = (d: string, i: number): ExemptionEntry =>
    i % 10 === 9
      ? { recipient: `abuse@${d}`, bypass: 'all', verifySender: true, reason: 'abuse desk' }
      : {
          sender: `news@${d}`,
          bypass: i % 3 === 0 ? 'all' : 'spam',
          verifySender: i % 4 !== 0,
          reason: 'partner mail',
        };

  const baseline: TenantData = {
    blockedSenders: take(baseSenders).map((d, i) => sender(d, i)),
    exemptions: take(baseExempt).map((d, i) => exemption(d, i)),
    route: { domain: '', deliverTo: '' },
  };
  // IP entries may collide; keep the first of each pattern.
  const dedupe = <T extends { sender?: string; recipient?: string }>(list: T[]): T[] => {
    const seen = new Set<string>();
    return list.filter((e) => {
      const k = e.sender ?? `r:${e.recipient ?? ''}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  };
  baseline.blockedSenders = dedupe(baseline.blockedSenders);
  const own = Array.from({ length: shape.tenants }, () => ({
    blockedSenders: take(ownSenders).map((d, i): BlockedSenderEntry =>
      i % 4 === 0
        ? { sender: `billing@${d}`, reason: `invoice fraud, tenant report #${i}` }
        : { sender: d, reason: `disposable mail source, tenant report #${i}` },
    ),
    exemptions: take(ownExempt).map((d, i) => exemption(d, i)),
  }));
  return {
    baseline,
    tenant: (t) => {
      const mine = own[t];
      if (mine === undefined) throw new Error(`no tenant ${t}`);
      return {
        blockedSenders: mine.blockedSenders,
        exemptions: mine.exemptions,
        route: {
          domain: `${tenantId(t)}.mail.example`,
          deliverTo: `mx1.${tenantId(t)}.mail.example`,
        },
      };
    },
  };
}
