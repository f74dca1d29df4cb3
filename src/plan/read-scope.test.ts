import { describe, expect, it } from 'vitest';
import { loadFromTexts, tenantYaml } from '../../test/support/policies.js';
import type { TenantConfig } from '../config/policy-set.js';
import type { KindCapability } from '../model/capabilities.js';
import type { Kind, LiveEntry } from '../model/kinds.js';
import { diffTenant, type LiveState } from './diff-tenant.js';
import {
  describeReadScope,
  planTenantReads,
  summarizeReadScopes,
  type KeyTargets,
} from './read-scope.js';
import { buildPlan } from './build-plan.js';

const TODAY = '2026-11-23';

function tenant(extra: string, head?: string): TenantConfig {
  const set = loadFromTexts({ 'tenants/t.yaml': tenantYaml('t', extra, head) }, TODAY);
  const errors = set.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  const t = set.tenants[0];
  if (t === undefined) throw new Error('no tenant');
  return t;
}

const FULL: KindCapability = { lifecycle: 'full', ownershipMarker: true, settles: 'immediately' };
/** Cloudflare's kinds: routes are update-only and carry no marker. */
const CLOUDFLARE: Partial<Record<Kind, KindCapability>> = {
  blockedSenders: FULL,
  exemptions: FULL,
  routes: { lifecycle: 'update-only', ownershipMarker: false, settles: 'immediately' },
};
const SANDBOX: Partial<Record<Kind, KindCapability>> = {
  blockedSenders: FULL,
  exemptions: FULL,
  holds: FULL,
  routes: FULL,
};
const keys = (o: Partial<Record<Kind, string[]>>): KeyTargets =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, new Set(v)]));
const block = (sender: string, managed = true, reason = 'r'): LiveEntry => ({
  kind: 'blockedSenders',
  key: sender,
  value: { sender, reason },
  managed,
});
const BLOCKS =
  'blockedSenders:\n  - sender: kept.example\n    reason: r\n  - sender: new.example\n    reason: r\n';
const opts = { today: TODAY, allowLargeChanges: false };

describe('planTenantReads: never a kind the plan cannot change', () => {
  it('skips a kind without an ownership marker when the tenant (file and bundles) declares none of it', () => {
    const r = planTenantReads(tenant(BLOCKS), CLOUDFLARE, opts);
    expect(r.full).toEqual(['blockedSenders', 'exemptions']);
    expect(r.skipped).toEqual(['routes']);
    expect(r.scope).toEqual({ mode: 'full' });
  });

  it('reads that kind once the tenant declares an entry of it', () => {
    const t = tenant('routes:\n  - domain: acme.eu\n    deliverTo: mx.acme.eu\n');
    expect(planTenantReads(t, CLOUDFLARE, opts).full).toEqual([
      'blockedSenders',
      'exemptions',
      'routes',
    ]);
  });

  it('always reads a kind whose live entries carry the marker, even with no section at all: mxpolicy may have made entries whose YAML is gone', () => {
    // No blockedSenders or exemptions section: both are still read, so the managed live
    // entries left behind are deleted by the plan.
    const t = tenant('');
    const r = planTenantReads(t, SANDBOX, opts);
    expect(r.full).toEqual(['blockedSenders', 'exemptions', 'holds', 'routes']);
    const plan = diffTenant(
      t,
      { blockedSenders: [block('old.example')], exemptions: [], holds: [], routes: [] },
      { ...opts, capabilities: SANDBOX },
    );
    expect(plan.changes.map((c) => `${c.action} ${c.key}`)).toEqual(['delete old.example']);
  });

  it('a skipped kind plans exactly what reading it would have: an undeclared marker-less entry is never changed, listed or counted', () => {
    const t = tenant(BLOCKS);
    const route: LiveEntry = {
      kind: 'routes',
      key: 'acme.eu',
      value: { domain: 'acme.eu', deliverTo: 'mx.acme.eu', port: 25, requireTls: false },
      managed: true,
    };
    const base = { blockedSenders: [block('kept.example')], exemptions: [] };
    const read = diffTenant(t, { ...base, routes: [route] }, { ...opts, capabilities: CLOUDFLARE });
    const skipped = diffTenant(t, base, { ...opts, capabilities: CLOUDFLARE });
    expect(skipped).toEqual(read);
  });
});

describe('planTenantReads with targets', () => {
  it('reads only the targeted keys of the targeted kinds', () => {
    const r = planTenantReads(tenant(BLOCKS), CLOUDFLARE, {
      ...opts,
      targets: keys({ blockedSenders: ['new.example'] }),
    });
    expect(r.full).toEqual([]);
    expect(r.keys).toEqual({ blockedSenders: ['new.example'] });
    expect(r.skipped).toEqual(['exemptions', 'routes']);
    expect(r.scope).toEqual({ mode: 'targeted', keys: 1 });
  });

  it('drops a key of a marker-less kind that is no longer declared: nothing could be planned for it', () => {
    const r = planTenantReads(tenant(BLOCKS), CLOUDFLARE, {
      ...opts,
      targets: keys({ routes: ['acme.eu'] }),
    });
    expect(r.keys).toEqual({});
    expect(r.full).toEqual([]);
  });

  it('reads in full (diff still limited) when the possible deletes could trip the percentage limit', () => {
    // 3 removed keys: 3 of 10 managed entries is 30% > 25%, so the base must be known.
    const three = keys({ blockedSenders: ['a.example', 'b.example', 'c.example'] });
    const r = planTenantReads(tenant(BLOCKS), CLOUDFLARE, { ...opts, targets: three });
    expect(r.full).toEqual(['blockedSenders', 'exemptions']);
    expect(r.scope).toEqual({ mode: 'targeted', keys: 3, fullRead: true });
    expect(r.targets).toBe(three);
    // Two deletes can never be more than 25% of the 10 entries the limit starts at.
    const two = keys({ blockedSenders: ['a.example', 'b.example'] });
    expect(planTenantReads(tenant(BLOCKS), CLOUDFLARE, { ...opts, targets: two }).full).toEqual([]);
    // An entry moved into the past is a delete too; --allow-large-changes lifts the need.
    const expired = tenant(
      'blockedSenders:\n' +
        ['x', 'y', 'z']
          .map((s) => `  - sender: ${s}.example\n    reason: r\n    expires: 2026-01-01\n`)
          .join(''),
    );
    const xyz = keys({ blockedSenders: ['x.example', 'y.example', 'z.example'] });
    expect(planTenantReads(expired, CLOUDFLARE, { ...opts, targets: xyz }).full).toEqual([
      'blockedSenders',
      'exemptions',
    ]);
    expect(
      planTenantReads(expired, CLOUDFLARE, { ...opts, targets: xyz, allowLargeChanges: true }).full,
    ).toEqual([]);
  });

  it('`all` plans the tenant whole', () => {
    expect(planTenantReads(tenant(BLOCKS), CLOUDFLARE, { ...opts, targets: 'all' }).scope).toEqual({
      mode: 'full',
    });
  });
});

describe('diffTenant limited to targets', () => {
  const t = tenant(BLOCKS);
  const live: LiveState = {
    blockedSenders: [block('kept.example', true, 'drifted'), block('orphan.example')],
    exemptions: [],
  };

  it('plans only the targeted keys, and never takes an entry it was not asked about for deleted', () => {
    const full = diffTenant(t, live, { ...opts, capabilities: CLOUDFLARE });
    expect(full.changes.map((c) => `${c.action} ${c.key}`)).toEqual([
      'update kept.example',
      'create new.example',
      'delete orphan.example',
    ]);
    const limited = diffTenant(t, live, {
      ...opts,
      capabilities: CLOUDFLARE,
      targets: keys({ blockedSenders: ['new.example'] }),
    });
    expect(limited.changes.map((c) => `${c.action} ${c.key}`)).toEqual(['create new.example']);
    // A kind with no targets is not planned even when read; a key targeted and gone is deleted.
    const removed = diffTenant(t, live, {
      ...opts,
      capabilities: CLOUDFLARE,
      targets: keys({ blockedSenders: ['orphan.example'] }),
    });
    expect(removed.changes.map((c) => `${c.action} ${c.key}`)).toEqual(['delete orphan.example']);
  });

  it('counts entries outside the targets in the base of the delete percentage, as a full plan does', () => {
    const many = tenant(
      'blockedSenders:\n' +
        Array.from({ length: 10 }, (_, i) => `  - sender: s${i}.example\n    reason: r\n`).join(''),
    );
    const gone = ['g1.example', 'g2.example', 'g3.example', 'g4.example'];
    const liveMany: LiveState = {
      blockedSenders: [
        ...Array.from({ length: 10 }, (_, i) => block(`s${i}.example`)),
        ...gone.map((g) => block(g)),
      ],
    };
    // 4 of 14 managed entries is 28.6% > 25%: a full plan blocks, and so must the limited one
    // (had it counted only the 4 targeted entries, 4 < 10 would not be gated at all).
    const full = diffTenant(many, liveMany, { ...opts, capabilities: CLOUDFLARE });
    const limited = diffTenant(many, liveMany, {
      ...opts,
      capabilities: CLOUDFLARE,
      targets: keys({ blockedSenders: gone }),
    });
    expect(full.status).toBe('blocked');
    expect(limited.status).toBe('blocked');
    expect(limited.errors).toEqual(full.errors);
    expect(limited.changes).toEqual(full.changes);
  });
});

describe('the plan says how it read', () => {
  it('full, targeted, or targeted with some tenants whole', () => {
    expect(describeReadScope(summarizeReadScopes([{ mode: 'full' }]))).toBe('read: full');
    expect(
      describeReadScope(
        summarizeReadScopes([
          { mode: 'targeted', keys: 1 },
          { mode: 'targeted', keys: 2 },
        ]),
      ),
    ).toBe('read: targeted (3 keys in 2 tenants)');
    expect(
      describeReadScope(summarizeReadScopes([{ mode: 'targeted', keys: 1 }, { mode: 'full' }])),
    ).toBe('read: targeted (1 key in 1 tenant; 1 tenant read in full)');
  });

  it('is in the plan value but not in its checksum', () => {
    const p = { tenant: 't', status: 'ok' as const, changes: [], errors: [], unmanaged: [] };
    const targeted = buildPlan([{ ...p, read: { mode: 'targeted', keys: 1 } }]);
    const full = buildPlan([{ ...p, read: { mode: 'full' } }]);
    expect(targeted.read).toEqual({ mode: 'targeted', keys: 1, tenants: 1, fullTenants: 0 });
    expect(full.read).toEqual({ mode: 'full' });
    expect(targeted.checksum).toBe(full.checksum);
    expect(buildPlan([p]).read).toBeUndefined();
  });
});
