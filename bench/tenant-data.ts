import type { BlockedSenderEntry, ExemptionEntry } from '../src/model/kinds.js';

/**
 * What the vendors' deterministic benchmark data (cloudflare-data.ts, mimecast-data.ts) share:
 * tenants whose entries are drawn from a list of real domains, most of the blocked senders
 * from a baseline bundle every tenant includes and the rest the tenant's own.
 */

export interface BenchShape {
  tenants: number;
  /** Blocked senders per tenant (baseline bundle + the tenant's own). */
  senders: number;
  /** Exemptions per tenant (baseline bundle + the tenant's own). */
  exemptions: number;
}

/** The share of each tenant's blocked senders that comes from the baseline bundle. */
export const BASELINE_SHARE = 0.75;
/** The share of each tenant's exemptions that comes from the baseline bundle. */
const BASELINE_EXEMPT_SHARE = 0.2;

export const tenantId = (t: number): string => `t${String(t).padStart(3, '0')}`;

/** Public addresses only (vendors refuse private, loopback, link-local...). */
export const FIRST_OCTETS = [23, 45, 62, 77, 89, 91, 146, 185, 193, 212];

export interface Entries {
  blockedSenders: BlockedSenderEntry[];
  exemptions: ExemptionEntry[];
}

/**
 * The baseline bundle's entries and each tenant's own, each from domains of its own (taken in
 * order from `domains`). The vendor says how the `i`th sender and exemption of the baseline
 * look (`sender`, `exemption`) and of a tenant's own exemptions (`ownExemption`, default
 * `exemption`); a tenant's own senders are the same for every vendor.
 */
export function splitEntries(
  shape: BenchShape,
  domains: string[],
  make: {
    sender: (d: string, i: number) => BlockedSenderEntry;
    exemption: (d: string, i: number) => ExemptionEntry;
    ownExemption?: (d: string, i: number) => ExemptionEntry;
  },
): { baseline: Entries; own: Entries[] } {
  const baseSenders = Math.round(shape.senders * BASELINE_SHARE);
  const baseExempt = Math.round(shape.exemptions * BASELINE_EXEMPT_SHARE);
  const ownSenders = shape.senders - baseSenders;
  const ownExempt = shape.exemptions - baseExempt;
  const need = baseSenders + baseExempt + shape.tenants * (ownSenders + ownExempt);
  if (domains.length < need) throw new Error(`need ${need} domains, have ${domains.length}`);
  let next = 0;
  const take = (n: number): string[] => domains.slice(next, (next += n));
  const ownExemption = make.ownExemption ?? make.exemption;
  const baseline: Entries = {
    blockedSenders: take(baseSenders).map((d, i) => make.sender(d, i)),
    exemptions: take(baseExempt).map((d, i) => make.exemption(d, i)),
  };
  const own = Array.from({ length: shape.tenants }, () => ({
    blockedSenders: take(ownSenders).map((d, i): BlockedSenderEntry =>
      i % 4 === 0
        ? { sender: `billing@${d}`, reason: `invoice fraud, tenant report #${i}` }
        : { sender: d, reason: `disposable mail source, tenant report #${i}` },
    ),
    exemptions: take(ownExempt).map((d, i) => ownExemption(d, i)),
  }));
  return { baseline, own };
}

/** The `t`th of `own`, or an error naming it. */
export function ownOf<T>(own: T[], t: number): T {
  const mine = own[t];
  if (mine === undefined) throw new Error(`no tenant ${t}`);
  return mine;
}
