import { createRequire } from 'node:module';
import { getDomain } from 'tldts';
import { stringify } from 'yaml';
import type { PolicySource } from '../src/config/policy-set.js';
import type { BlockedSenderEntry, ExemptionEntry } from '../src/model/kinds.js';
import { envNumber } from './measure.js';
import {
  FIRST_OCTETS,
  ownOf,
  splitEntries,
  tenantId,
  type BenchShape,
  type Entries,
} from './tenant-data.js';

export { tenantId, type BenchShape } from './tenant-data.js';

/**
 * Deterministic benchmark data, shared by the benchmark and its emulator process: tenants
 * whose desired state is already live (steady state), with realistic blocked domains from
 * the `disposable-email-domains` list.
 */

const require = createRequire(import.meta.url);

export function benchDomains(): string[] {
  const all = require('disposable-email-domains') as string[];
  // Only registrable domains (no public suffixes, which validation rightly refuses).
  return all.filter((d) => getDomain(d) === d && /^[a-z0-9.-]+$/.test(d));
}

// Unique for any number of tenants (padding with a hex digit made t=0 and t=160 collide).
export const accountOf = (t: number): string => `a${t.toString(16).padStart(31, '0')}`;
export const tokenOf = (t: number): string => `bench-token-${t}-${'x'.repeat(16)}`;
export const tokenEnvOf = (t: number): string => `CF_TOKEN_T${String(t).padStart(3, '0')}`;

/** Every tenant's token in its variable (`CF_TOKEN_T000=...`), as the CLI's environment. */
export const tokensEnv = (tenants: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: tenants }, (_, t) => [tokenEnvOf(t), tokenOf(t)]));

/**
 * The benchmark's size from the environment: TENANTS, SENDERS, EXEMPTIONS (default 125 x
 * (2,000 + 500)); `prefix` reads e.g. FLEET_TENANTS instead.
 */
export function shapeFromEnv(
  env: NodeJS.ProcessEnv,
  dflt: BenchShape = { tenants: 125, senders: 2000, exemptions: 500 },
  prefix = '',
): BenchShape {
  return {
    tenants: envNumber(`${prefix}TENANTS`, dflt.tenants, env),
    senders: envNumber(`${prefix}SENDERS`, dflt.senders, env),
    exemptions: envNumber(`${prefix}EXEMPTIONS`, dflt.exemptions, env),
  };
}

export interface TenantData extends Entries {
  route: { domain: string; deliverTo: string };
}

export interface BenchData {
  baseline: TenantData;
  tenant(t: number): TenantData;
}

export function benchData(shape: BenchShape, domains: string[]): BenchData {
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
  const { baseline, own } = splitEntries(shape, domains, { sender, exemption });
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
  return {
    baseline: {
      blockedSenders: dedupe(baseline.blockedSenders),
      exemptions: baseline.exemptions,
      route: { domain: '', deliverTo: '' },
    },
    tenant: (t) => ({
      ...ownOf(own, t),
      route: {
        domain: `${tenantId(t)}.mail.example`,
        deliverTo: `mx1.${tenantId(t)}.mail.example`,
      },
    }),
  };
}

/**
 * Tenant `t`'s policy file against the emulator at `url`: its own entries, the baseline bundle,
 * and its route (unless `routes: false`); its token in `tokenEnv` (default its own variable).
 */
export function tenantDoc(
  t: number,
  mine: TenantData,
  url: string,
  opts: { tokenEnv?: string; routes?: boolean } = {},
): Record<string, unknown> {
  return {
    tenant: tenantId(t),
    providers: {
      gateway: {
        type: 'cloudflare',
        account: accountOf(t),
        tokenEnv: opts.tokenEnv ?? tokenEnvOf(t),
        baseUrl: url,
      },
    },
    domains: [mine.route.domain],
    include: ['baseline'],
    blockedSenders: mine.blockedSenders,
    exemptions: mine.exemptions,
    ...(opts.routes !== false
      ? {
          routes: [
            { domain: mine.route.domain, deliverTo: mine.route.deliverTo, requireTls: true },
          ],
        }
      : {}),
  };
}

/** The baseline bundle every tenant includes, with the emergency change's `added` senders. */
export function bundleDoc(
  baseline: TenantData,
  added: string[] = [],
  reason = 'phishing campaign INC-9001, block everywhere',
): Record<string, unknown> {
  return {
    bundle: 'baseline',
    blockedSenders: [...baseline.blockedSenders, ...added.map((sender) => ({ sender, reason }))],
    exemptions: baseline.exemptions,
  };
}

/** Every tenant's policy file (`tenantDoc`) as a policy source, for in-process loading. */
export function tenantSources(
  shape: BenchShape,
  data: { tenant(t: number): TenantData },
  url: string,
  opts: { tokenEnv?: string; routes?: boolean } = {},
): PolicySource[] {
  return Array.from({ length: shape.tenants }, (_, t) => ({
    path: `policies/tenants/${tenantId(t)}.yaml`,
    kind: 'tenant' as const,
    name: tenantId(t),
    text: stringify(tenantDoc(t, data.tenant(t), url, opts)),
  }));
}

/** The baseline bundle (`bundleDoc`) as a policy source. */
export function bundleSource(baseline: TenantData, added: string[], reason?: string): PolicySource {
  return {
    path: 'policies/bundles/baseline.yaml',
    kind: 'bundle',
    name: 'baseline',
    text: stringify(bundleDoc(baseline, added, reason)),
  };
}
