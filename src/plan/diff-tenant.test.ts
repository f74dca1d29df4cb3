import { describe, expect, it } from 'vitest';
import { loadFromTexts, tenantYaml } from '../../test/support/policies.js';
import type { TenantConfig } from '../config/policy-set.js';
import type { KindCapability } from '../model/capabilities.js';
import type { Kind, LiveEntry } from '../model/kinds.js';
import { describeChangeHeadline } from './describe.js';
import { diffTenant, type LiveState } from './diff-tenant.js';

const TODAY = '2026-11-23';

function tenant(extra: string, head?: string): TenantConfig {
  const set = loadFromTexts({ 'tenants/t.yaml': tenantYaml('t', extra, head) }, TODAY);
  const errors = set.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  const t = set.tenants[0];
  if (t === undefined) throw new Error('no tenant');
  return t;
}

const block = (sender: string, reason = 'r', managed = true, extra: object = {}): LiveEntry => ({
  kind: 'blockedSenders',
  key: sender,
  value: { sender, reason, ...extra },
  managed,
});

const live = (state: LiveState): LiveState => ({
  blockedSenders: [],
  exemptions: [],
  holds: [],
  routes: [],
  ...state,
});
const FULL: KindCapability = { lifecycle: 'full', ownershipMarker: true, settles: 'immediately' };
/** Every kind fully managed, with a marker (what the sandbox declares). */
const ALL_FULL = { blockedSenders: FULL, exemptions: FULL, holds: FULL, routes: FULL };
/** Routes as Cloudflare serves them: update-only, and no field for a marker. */
const VENDOR_ROUTES = {
  ...ALL_FULL,
  routes: { lifecycle: 'update-only', ownershipMarker: false, settles: 'immediately' } as const,
};
const diff = (
  t: TenantConfig,
  l: LiveState,
  allowLargeChanges = false,
  capabilities: Partial<Record<Kind, KindCapability>> = ALL_FULL,
) => diffTenant(t, live(l), { today: TODAY, allowLargeChanges, capabilities });
const summary = (p: ReturnType<typeof diff>) =>
  p.changes.map((c) => `${c.action} ${c.kind} ${c.key} (${c.cause})`);

describe('diffTenant', () => {
  it('creates what is missing, updates what differs with an RFC 6902 patch, deletes what it owns', () => {
    const t = tenant(
      'blockedSenders:\n  - sender: new.example\n    reason: r\n  - sender: same.example\n    reason: r\n  - sender: changed.example\n    reason: new reason\n',
    );
    const plan = diff(t, {
      blockedSenders: [
        block('same.example'),
        block('changed.example', 'old reason'),
        block('gone.example'),
      ],
    });
    expect(summary(plan)).toEqual([
      'update blockedSenders changed.example (desired)',
      'delete blockedSenders gone.example (desired)',
      'create blockedSenders new.example (desired)',
    ]);
    const update = plan.changes.find((c) => c.action === 'update');
    expect(update?.patch).toEqual([{ op: 'replace', path: '/reason', value: 'new reason' }]);
    expect(update?.before).toEqual({ sender: 'changed.example', reason: 'old reason' });
    expect(update?.source).toEqual({ file: 'policies/tenants/t.yaml', line: 10 });
    expect(plan.status).toBe('ok');
  });

  it('keys entries, not positions: reordering changes nothing', () => {
    const t = tenant(
      'blockedSenders:\n  - sender: b.example\n    reason: r\n  - sender: a.example\n    reason: r\n',
    );
    expect(diff(t, { blockedSenders: [block('a.example'), block('b.example')] }).changes).toEqual(
      [],
    );
  });

  it('in managed mode lists unmarked live entries and never touches them', () => {
    const t = tenant('');
    const plan = diff(t, { blockedSenders: [block('console.example', 'r', false)] });
    expect(plan.changes).toEqual([]);
    expect(plan.unmanaged).toEqual([{ kind: 'blockedSenders', key: 'console.example' }]);
  });

  it('adopts an unmarked live entry the YAML declares', () => {
    const t = tenant('blockedSenders:\n  - sender: console.example\n    reason: r\n');
    expect(summary(diff(t, { blockedSenders: [block('console.example', 'r', false)] }))).toEqual([
      'update blockedSenders console.example (adopt)',
    ]);
  });

  it('in authoritative mode prunes entries it did not create', () => {
    const t = tenant('ownership: authoritative\n');
    const plan = diff(t, { blockedSenders: [block('console.example', 'r', false)] });
    expect(summary(plan)).toEqual(['delete blockedSenders console.example (prune)']);
    expect(plan.unmanaged).toEqual([]);
  });

  it('lists a foreign live entry (one the provider cannot model) and never touches it, in any mode', () => {
    const foreign: LiveEntry = {
      ...block('profile_group g1 (policy p1)', 'group policy', true),
      foreign: true,
      id: 'p1',
    };
    for (const ownership of ['managed', 'authoritative']) {
      const plan = diff(tenant(`ownership: ${ownership}\n`), { blockedSenders: [foreign] });
      expect(plan.changes).toEqual([]);
      expect(plan.unmanaged).toEqual([
        { kind: 'blockedSenders', key: 'profile_group g1 (policy p1)' },
      ]);
    }
  });

  it('plans expired entries as deletes marked expired, and never creates them', () => {
    const t = tenant(
      'blockedSenders:\n  - sender: old.example\n    reason: r\n    expires: 2026-11-22\n  - sender: older.example\n    reason: r\n    expires: 2026-01-01\n  - sender: today.example\n    reason: r\n    expires: 2026-11-23\n',
    );
    const plan = diff(t, {
      blockedSenders: [block('old.example', 'r', true, { expires: '2026-11-22' })],
    });
    expect(summary(plan)).toEqual([
      'delete blockedSenders old.example (expired)',
      'create blockedSenders today.example (desired)',
    ]);
  });

  describe('holds', () => {
    const hold = (custodians: string[], extra: object = {}, managed = true): LiveEntry => ({
      kind: 'holds',
      key: 'LH-1',
      value: { id: 'LH-1', matter: 'Doe v. ACME', custodians, ...extra },
      managed,
    });
    const yaml = (custodians: string, extra = '') =>
      `holds:\n  - id: LH-1\n    matter: Doe v. ACME\n    custodians: [${custodians}]\n${extra}`;

    it('blocks the tenant when a live hold disappears from the YAML', () => {
      const plan = diff(tenant(''), { holds: [hold(['a@acme.eu'])] });
      expect(plan.status).toBe('blocked');
      expect(plan.errors[0]?.code).toBe('HOLD_REMOVED');
      expect(plan.errors[0]?.message).toContain('LH-1');
      expect(plan.errors[0]?.file).toBe('policies/tenants/t.yaml');
    });

    it('blocks the tenant when a custodian is dropped', () => {
      const plan = diff(tenant(yaml('a@acme.eu')), { holds: [hold(['a@acme.eu', 'b@acme.eu'])] });
      expect(plan.status).toBe('blocked');
      expect(plan.errors.map((e) => e.code)).toEqual(['HOLD_NARROWED']);
      expect(plan.errors[0]?.message).toContain('b@acme.eu');
    });

    it('widens a hold with an update', () => {
      const plan = diff(tenant(yaml('a@acme.eu, b@acme.eu')), { holds: [hold(['a@acme.eu'])] });
      expect(plan.status).toBe('ok');
      expect(plan.changes[0]?.patch).toEqual([
        { op: 'add', path: '/custodians/1', value: 'b@acme.eu' },
      ]);
    });

    it('releases a hold only through a released record: a delete that says who, when and why', () => {
      const plan = diff(
        tenant(
          yaml(
            'a@acme.eu',
            '    released: { by: legal@acme.eu, reason: settled, date: 2026-11-20 }\n',
          ),
        ),
        { holds: [hold(['a@acme.eu'])] },
      );
      expect(plan.status).toBe('ok');
      expect(summary(plan)).toEqual(['delete holds LH-1 (released)']);
      expect(plan.changes[0]?.after).toMatchObject({
        released: { by: 'legal@acme.eu', reason: 'settled', date: '2026-11-20' },
      });
      expect(describeChangeHeadline(plan.changes[0]!)).toBe(
        'hold LH-1 (released by legal@acme.eu on 2026-11-20: settled; the live hold is removed)',
      );
      // Once it is gone live, the released record plans nothing more.
      const released = yaml('a@acme.eu', '    released: { by: l, reason: s, date: 2026-11-20 }\n');
      expect(diff(tenant(released), { holds: [] }).changes).toEqual([]);
    });

    it('never releases a hold mxpolicy does not manage', () => {
      const plan = diff(
        tenant(yaml('a@acme.eu', '    released: { by: l, reason: s, date: 2026-11-20 }\n')),
        { holds: [hold(['a@acme.eu'], {}, false)] },
      );
      expect(plan.changes).toEqual([]);
      expect(plan.unmanaged).toEqual([{ kind: 'holds', key: 'LH-1' }]);
    });

    it('lets a released hold leave the YAML without deleting it', () => {
      const plan = diff(tenant(''), {
        holds: [hold(['a@acme.eu'], { released: { by: 'x', reason: 'y', date: '2026-01-01' } })],
      });
      expect(plan).toMatchObject({ status: 'ok', changes: [], errors: [] });
    });

    it('holds are never deleted, even in authoritative mode', () => {
      const plan = diff(tenant('ownership: authoritative\n'), {
        holds: [hold(['a@acme.eu'], {}, false)],
      });
      expect(plan.status).toBe('blocked');
      expect(plan.changes).toEqual([]);
    });
  });

  describe('reads what the provider can do, not which kind it is', () => {
    const route = (domain: string, managed: boolean): LiveEntry => ({
      kind: 'routes',
      key: domain,
      value: { domain, deliverTo: `mx.${domain}`, port: 25, requireTls: false },
      managed,
    });

    it('update-only, marker-less: undeclared live entries are left alone, even authoritative', () => {
      for (const extra of ['', 'ownership: authoritative\n']) {
        const plan = diff(
          tenant(extra),
          { routes: [route('acme.eu', true), route('other.eu', false)] },
          false,
          VENDOR_ROUTES,
        );
        expect(plan.changes).toEqual([]);
        expect(plan.unmanaged).toEqual([]);
      }
    });

    it('marker-less: a declared entry is managed as it is, with no adoption', () => {
      const plan = diff(
        tenant('routes:\n  - domain: acme.eu\n    deliverTo: mx2.acme.eu\n'),
        { routes: [route('acme.eu', false)] },
        false,
        VENDOR_ROUTES,
      );
      expect(summary(plan)).toEqual(['update routes acme.eu (desired)']);
    });

    it('update-only: a declared entry missing live is an error naming its line, not a create', () => {
      const plan = diff(
        tenant('routes:\n  - domain: acme.eu\n    deliverTo: mx2.acme.eu\n'),
        { routes: [] },
        false,
        VENDOR_ROUTES,
      );
      expect(plan.status).toBe('blocked');
      expect(plan.changes).toEqual([]);
      expect(plan.errors).toEqual([
        expect.objectContaining({ code: 'ENTRY_NOT_CREATABLE', file: 'policies/tenants/t.yaml' }),
      ]);
      expect(plan.errors[0]?.line).toBeGreaterThan(1);
    });

    it('full lifecycle with a marker: a managed entry removed from YAML is deleted', () => {
      const plan = diff(tenant(''), { routes: [route('acme.eu', true), route('other.eu', false)] });
      expect(summary(plan)).toEqual(['delete routes acme.eu (desired)']);
      expect(plan.unmanaged).toEqual([{ kind: 'routes', key: 'other.eu' }]);
    });

    it('a kind no provider declares is not planned', () => {
      const plan = diff(tenant(''), { blockedSenders: [block('x.example')] }, false, {});
      expect(plan.changes).toEqual([]);
    });
  });

  describe('delete thresholds', () => {
    const many = (n: number, prefix = 'x') =>
      Array.from({ length: n }, (_, i) => block(`${prefix}${i}.example`));

    it('blocks over the default maximum of 25 deletes', () => {
      const plan = diff(tenant(''), { blockedSenders: many(26) });
      expect(plan.status).toBe('blocked');
      expect(plan.errors[0]?.code).toBe('TOO_MANY_DELETES');
      expect(plan.changes).toHaveLength(26);
    });

    it('allows them with --allow-large-changes', () => {
      expect(diff(tenant(''), { blockedSenders: many(26) }, true).status).toBe('ok');
    });

    it('applies maxDeletePercent once the tenant has 10+ entries', () => {
      const keep = Array.from(
        { length: 9 },
        (_, i) => `  - sender: keep${i}.example\n    reason: r\n`,
      ).join('');
      const t = tenant(`safety: { maxDeletePercent: 10 }\nblockedSenders:\n${keep}`);
      const liveKeep = Array.from({ length: 9 }, (_, i) => block(`keep${i}.example`));
      expect(diff(t, { blockedSenders: [...liveKeep, ...many(1)] }).status).toBe('ok'); // 1 of 10 = 10%
      expect(diff(t, { blockedSenders: [...liveKeep, ...many(2)] }).status).toBe('blocked'); // 2 of 11
    });

    it('guards small tenants by the absolute threshold only', () => {
      const t = tenant('safety: { maxDeletePercent: 10 }\n');
      expect(diff(t, { blockedSenders: many(3) }).status).toBe('ok');
    });

    it('does not count expired removals', () => {
      const yaml = Array.from(
        { length: 30 },
        (_, i) => `  - sender: x${i}.example\n    reason: r\n    expires: 2026-01-01\n`,
      ).join('');
      const plan = diff(tenant(`blockedSenders:\n${yaml}`), {
        blockedSenders: many(30).map(
          (l) => ({ ...l, value: { ...l.value, expires: '2026-01-01' } }) as LiveEntry,
        ),
      });
      expect(plan.changes).toHaveLength(30);
      expect(plan.status).toBe('ok');
    });

    it('honours maxUpdates', () => {
      const t = tenant(
        'safety: { maxUpdates: 1 }\nblockedSenders:\n  - sender: a.example\n    reason: new\n  - sender: b.example\n    reason: new\n',
      );
      const plan = diff(t, {
        blockedSenders: [block('a.example', 'old'), block('b.example', 'old')],
      });
      expect(plan.status).toBe('blocked');
      expect(plan.errors[0]?.code).toBe('TOO_MANY_UPDATES');
    });
  });

  it('orders changes by kind, then key, whatever order live comes in', () => {
    const t = tenant(
      'exemptions:\n  - sender: a@b.example\n    bypass: spam\n    reason: r\nblockedSenders:\n  - sender: z.example\n    reason: r\n  - sender: a.example\n    reason: r\n',
    );
    expect(diff(t, {}).changes.map((c) => c.key)).toEqual([
      'a.example',
      'z.example',
      'sender:a@b.example',
    ]);
  });
});
