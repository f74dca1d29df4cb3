import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, entryFingerprint, sameJson } from '../model/entries.js';
import { ENTRY_FIELDS } from '../model/schema-types.generated.js';
import {
  buildPlan,
  EMPTY_TENANT_CHECKSUM,
  explainPlanDifference,
  planChecksum,
  tenantChecksum,
  type SharedLines,
} from './build-plan.js';
import type { TenantPlan } from './types.js';

const tenant = (name: string, reason = 'r'): TenantPlan => ({
  tenant: name,
  status: 'ok',
  changes: [
    {
      tenant: name,
      kind: 'blockedSenders',
      key: 'x.example',
      action: 'create',
      cause: 'desired',
      patch: [],
      after: { sender: 'x.example', reason },
    },
  ],
  errors: [],
  unmanaged: [],
});

describe('canonical JSON and equality', () => {
  it('sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: undefined }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[2,{"z":1}]},"b":1}',
    );
  });

  it('sameJson ignores key order and undefined members, not values', () => {
    expect(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined })).toBe(
      true,
    );
    expect(sameJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameJson({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameJson({ a: null }, { a: {} })).toBe(false);
    expect(sameJson([1], { 0: 1 })).toBe(false);
  });
});

describe('buildPlan', () => {
  it('sorts tenants, sums the summary and checksums the tenant plans', () => {
    const plan = buildPlan([tenant('b'), tenant('a')]);
    expect(plan.tenants.map((t) => t.tenant)).toEqual(['a', 'b']);
    expect(plan.summary).toEqual({
      create: 2,
      update: 0,
      delete: 0,
      tighten: 2,
      loosen: 0,
      neutral: 0,
    });
    expect(plan.tenants.flatMap((t) => t.changes.map((c) => c.effect))).toEqual([
      'tighten',
      'tighten',
    ]);
    expect(Object.keys(plan.tenants[0]?.changes[0] ?? {}).slice(0, 6)).toEqual([
      'tenant',
      'kind',
      'key',
      'action',
      'cause',
      'effect',
    ]);
    expect(plan.checksum).toBe(planChecksum(plan.tenants));
    expect(plan.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(buildPlan([tenant('a'), tenant('b')]).checksum).toBe(plan.checksum);
    expect(buildPlan([tenant('a'), tenant('b', 'other')]).checksum).not.toBe(plan.checksum);
  });

  it("builds the whole checksum from the tenants' own, which keep their bytes", () => {
    // The per-tenant checksum as defined (and as PR comments carry it): sha256 of the header,
    // then one JSON line per tenant and per change with the entries' fingerprints.
    const reference = (t: TenantPlan): string => {
      const hash = createHash('sha256').update('mxpolicy-plan/2\n');
      if (t.status === 'ok' && t.changes.length === 0) return hash.digest('hex');
      hash.update(
        JSON.stringify([t.tenant, t.status, t.errors.map((e) => [e.code, e.message])]) + '\n',
      );
      for (const c of t.changes)
        hash.update(
          JSON.stringify([c.kind, c.key, c.action, c.cause, c.liveId ?? null]) +
            (c.before !== undefined ? entryFingerprint(c.kind, c.before) : 'null') +
            (c.after !== undefined ? entryFingerprint(c.kind, c.after) : 'null') +
            '\n',
        );
      return hash.digest('hex');
    };
    const odd = tenant('b "quoted"\u2028');
    const first = odd.changes[0];
    if (first === undefined) throw new Error('no change');
    // Words the planner never makes (a plan file read back) are still quoted as JSON.
    const { after: _after, ...noValue } = first;
    odd.changes.push(
      {
        ...first,
        key: 'y"\\.example',
        action: 'update',
        liveId: 'id-"1"',
        before: { sender: 'y.example', reason: 'old' },
      } as typeof first,
      // (An unknown kind has no fingerprint: a change without values.)
      { ...noValue, kind: 'block_Senders"', cause: 'réleased' } as unknown as typeof first,
    );
    odd.errors.push({ code: 'READ_FAILED', message: 'x' });
    // Many changes: the hash is fed in chunks.
    const big = tenant('c');
    for (let i = 0; i < 3000; i++)
      big.changes.push({ ...(big.changes[0] as typeof first), key: `k${i}.example` });
    const quiet: TenantPlan = { tenant: 'd', status: 'ok', changes: [], errors: [], unmanaged: [] };
    for (const t of [tenant('a'), odd, big, quiet]) expect(tenantChecksum(t)).toBe(reference(t));
    expect(tenantChecksum(quiet)).toBe(EMPTY_TENANT_CHECKSUM);

    const plan = buildPlan([big, quiet, tenant('a'), odd]);
    const whole = createHash('sha256').update('mxpolicy-plan/3\n');
    for (const t of [tenant('a'), odd, big])
      whole.update(`${JSON.stringify(t.tenant)} ${reference(t)}\n`);
    expect(plan.checksum).toBe(whole.digest('hex'));
    // Checksums already computed (by a run that applies tenant by tenant) are used as given.
    const known = new Map(plan.tenants.map((t) => [t.tenant, tenantChecksum(t)]));
    expect(buildPlan([big, quiet, tenant('a'), odd], known).checksum).toBe(plan.checksum);
    known.set('a', EMPTY_TENANT_CHECKSUM);
    expect(buildPlan([big, quiet, tenant('a'), odd], known).checksum).not.toBe(plan.checksum);
  });

  it("makes a bundle entry's create line once for all tenants, with the same checksums", () => {
    const shared = { sender: 'bundle.example', reason: 'baseline' };
    const fromBundle = (tenantId: string, key = 'bundle.example'): TenantPlan => {
      const t = tenant(tenantId);
      const own = t.changes[0];
      if (own === undefined) throw new Error('no change');
      t.changes.push({
        ...own,
        key,
        after: shared,
        source: { file: 'bundles/baseline.yaml', line: 3, bundle: 'baseline' },
      } as typeof own);
      return t;
    };
    const lines: SharedLines = new Map();
    const tenants = [fromBundle('a'), fromBundle('b'), fromBundle('c', 'other.example')];
    for (const t of tenants) expect(tenantChecksum(t, lines)).toBe(tenantChecksum(t));
    // One line kept: the bundle entry's (tenant c's change names another key: not reused).
    expect(lines.size).toBe(1);
    expect(planChecksum(tenants)).toBe(buildPlan(tenants).checksum);
  });

  it('ignores the key order of entry values, which comes from YAML or a vendor', () => {
    const a = tenant('a');
    const b = structuredClone(a);
    const change = b.changes[0];
    if (change?.after === undefined) throw new Error('no after');
    change.after = { reason: 'r', sender: 'x.example' };
    expect(planChecksum([b])).toBe(planChecksum([a]));
    change.after = { reason: 'r2', sender: 'x.example' };
    expect(planChecksum([b])).not.toBe(planChecksum([a]));
  });

  it('does not change when only unmanaged entries or tenants without changes differ', () => {
    const base = [tenant('a')];
    const quiet = { tenant: 'b', status: 'ok' as const, changes: [], errors: [], unmanaged: [] };
    expect(planChecksum([...base, quiet])).toBe(planChecksum(base));
    const withUnmanaged = [
      { ...tenant('a'), unmanaged: [{ kind: 'blockedSenders' as const, key: 'console.example' }] },
    ];
    expect(planChecksum(withUnmanaged)).toBe(planChecksum(base));
    expect(planChecksum([...base, { ...quiet, status: 'blocked' as const }])).not.toBe(
      planChecksum(base),
    );
  });

  it('explains what differs between a reviewed and a fresh plan', () => {
    const reviewed = buildPlan([tenant('a'), tenant('b')]);
    const fresh = buildPlan([tenant('a', 'changed'), { ...tenant('c'), status: 'blocked' }]);
    expect(explainPlanDifference(reviewed, fresh)).toEqual([
      '~ differs now: a create blockedSenders x.example',
      '- no longer planned: b status (ok)',
      '- no longer planned: b create blockedSenders x.example',
      '+ newly planned: c status',
      '+ newly planned: c create blockedSenders x.example',
    ]);
  });

  it('does not list a change whose YAML line merely moved', () => {
    const at = (line: number, reason = 'r'): TenantPlan => {
      const t = tenant('a', reason);
      const c = t.changes[0];
      if (c !== undefined) c.source = { file: 'policies/tenants/a.yaml', line };
      return t;
    };
    const reviewed = buildPlan([at(7), tenant('b')]);
    const moved = buildPlan([at(12), { ...tenant('b', 'changed') }]);
    expect(explainPlanDifference(reviewed, moved)).toEqual([
      '~ differs now: b create blockedSenders x.example',
    ]);
    const onlyMoved = buildPlan([at(12), tenant('b')]);
    const lines = explainPlanDifference(reviewed, onlyMoved);
    if (reviewed.checksum === onlyMoved.checksum) expect(lines).toEqual([]);
    else expect(lines).toEqual([expect.stringContaining('only where they are written')]);
  });
});

describe('the checksum covers every field, by construction', () => {
  const samples: Record<keyof typeof ENTRY_FIELDS, Record<string, unknown>> = {
    blockedSenders: { sender: 'x.example', reason: 'r', expires: '2027-01-01', ticket: 'T-1' },
    exemptions: {
      sender: 'a@b.example',
      recipient: 'c@d.example',
      bypass: 'spam',
      verifySender: true,
      reason: 'r',
      expires: '2027-01-01',
    },
    holds: {
      id: 'LH-1',
      matter: 'm',
      custodians: ['a@b.example'],
      since: '2026-01-01',
      released: { by: 'l@b.example', reason: 'settled', date: '2026-12-01' },
    },
    routes: { domain: 'b.example', deliverTo: 'mx.b.example', port: 25, requireTls: true },
  };
  const change = (kind: keyof typeof ENTRY_FIELDS, after: Record<string, unknown>): TenantPlan => ({
    ...tenant('t'),
    changes: [
      {
        tenant: 't',
        kind,
        key: 'k',
        action: 'create',
        cause: 'desired',
        patch: [],
        after: after as never,
      },
    ],
  });

  it('changing any field the schema defines changes the checksum', () => {
    for (const kind of Object.keys(samples) as (keyof typeof ENTRY_FIELDS)[]) {
      const base = planChecksum([change(kind, samples[kind])]);
      for (const field of ENTRY_FIELDS[kind]) {
        const value = samples[kind][field];
        expect(value, `${kind}.${field} needs a sample value`).toBeDefined();
        const other =
          typeof value === 'string'
            ? `${value}x`
            : typeof value === 'number'
              ? value + 1
              : typeof value === 'boolean'
                ? !value
                : Array.isArray(value)
                  ? [...(value as unknown[]), 'z@b.example']
                  : { ...(value as object), reason: 'other' };
        expect(
          planChecksum([change(kind, { ...samples[kind], [field]: other })]),
          `${kind}.${field}`,
        ).not.toBe(base);
        const { [field]: _dropped, ...without } = samples[kind];
        expect(planChecksum([change(kind, without)]), `${kind}.${field} removed`).not.toBe(base);
      }
    }
  });

  it('a field added later (not yet in the field list) still changes the checksum', () => {
    const base = planChecksum([change('routes', samples.routes)]);
    const added = planChecksum([change('routes', { ...samples.routes, mtaStsMode: 'enforce' })]);
    expect(added).not.toBe(base);
    expect(planChecksum([change('routes', { ...samples.routes, mtaStsMode: 'testing' })])).not.toBe(
      added,
    );
  });

  it('does not depend on key order, nested ones included', () => {
    const h = samples.holds;
    const reordered = {
      released: { date: '2026-12-01', reason: 'settled', by: 'l@b.example' },
      since: h['since'],
      matter: h['matter'],
      id: h['id'],
      custodians: h['custodians'],
    };
    expect(entryFingerprint('holds', reordered as never)).toBe(
      entryFingerprint('holds', h as never),
    );
  });
});
