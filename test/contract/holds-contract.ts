import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyReport, Plan, TenantPlan } from '../../src/plan/types.js';
import {
  applyPlan,
  closeSessions,
  planTenants,
  type ReconcileDeps,
} from '../../src/reconcile/reconcile.js';
import { loadFromTexts } from '../support/policies.js';

/**
 * What every provider that serves `holds` must do (issue 11): holds are the one kind whose
 * loss is unrecoverable, so the suite checks that a hold is created once, widened, never
 * narrowed or removed without a `released` record, deleted only when released, and that
 * holds mxpolicy did not make are left alone.
 */
export interface HoldsHarness {
  /** The `providers:` block of the tenant file (a binding serving holds), indented. */
  providersYaml: string;
  deps: Omit<ReconcileDeps, 'concurrency'>;
  /** A hold an eDiscovery manager made by hand: no ownership marker. */
  seedUnmanagedHold(tenant: string, id: string, custodians: string[]): Promise<void>;
  /** Live holds as stored: id and custodians (to prove nothing was doubled or lost). */
  liveHolds(tenant: string): Promise<{ id: string; custodians: string[] }[]>;
  close(): Promise<void>;
}

const TODAY = '2026-11-23';
const CUSTODIANS = ['ann@acme.example', 'bob@acme.example'];

const tenantFile = (providers: string, holds: string): string => `tenant: acme
providers:
${providers}
domains: [acme.example]
holds:
${holds}`;

const hold = (custodians: string[], extra = ''): string =>
  `  - id: LH-2026-001
    matter: Doe v. Acme
    since: 2026-11-01
    custodians: [${custodians.join(', ')}]
${extra}`;

const RELEASED = `    released: { by: legal@acme.example, reason: matter settled, date: 2026-11-20 }\n`;

const summary = (t: TenantPlan | undefined): string[] =>
  (t?.changes ?? []).map((c) => `${c.action} ${c.kind} ${c.key} ${c.cause}`);

export function describeHoldsContract(
  name: string,
  makeHarness: () => Promise<HoldsHarness>,
): void {
  describe(`holds contract: ${name}`, () => {
    let h: HoldsHarness;
    beforeAll(async () => {
      h = await makeHarness();
      await h.seedUnmanagedHold('acme', 'HR-BY-HAND', ['carol@acme.example']);
    });
    afterAll(async () => {
      await h.close();
    });

    const run = async (
      holds: string,
      apply: boolean,
    ): Promise<{ plan: Plan; report?: ApplyReport }> => {
      const set = loadFromTexts({ 'tenants/acme.yaml': tenantFile(h.providersYaml, holds) }, TODAY);
      expect(set.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const deps = { ...h.deps, concurrency: 2 };
      const planned = await planTenants(set.tenants, deps, {
        today: TODAY,
        allowLargeChanges: false,
        validationErrors: new Map(),
      });
      try {
        if (!apply) return { plan: planned.plan };
        return {
          plan: planned.plan,
          report: await applyPlan(planned.plan, planned.sessions, deps),
        };
      } finally {
        await closeSessions(planned.sessions);
      }
    };
    const results = (r: ApplyReport | undefined): string[] =>
      (r?.tenants ?? []).flatMap((t) => t.results.map((x) => `${x.status} ${x.action} ${x.key}`));

    it('plans the hold once and lists the hand-made one as unmanaged', async () => {
      const a = await run(hold(CUSTODIANS), false);
      const b = await run(hold(CUSTODIANS), false);
      expect(a.plan.tenants[0]?.status).toBe('ok');
      expect(summary(a.plan.tenants[0])).toEqual(['create holds LH-2026-001 desired']);
      expect(b.plan.checksum).toBe(a.plan.checksum);
      expect(a.plan.tenants[0]?.unmanaged).toEqual([{ kind: 'holds', key: 'HR-BY-HAND' }]);
    });

    it('places the hold (applied once it settles); the next plan is empty', async () => {
      const { report } = await run(hold(CUSTODIANS), true);
      expect(results(report)).toEqual(['applied create LH-2026-001']);
      expect(summary((await run(hold(CUSTODIANS), false)).plan.tenants[0])).toEqual([]);
      const live = await h.liveHolds('acme');
      expect(live.filter((x) => x.id === 'LH-2026-001')).toEqual([
        { id: 'LH-2026-001', custodians: CUSTODIANS },
      ]);
    });

    it('adds a custodian with an update, once', async () => {
      const more = [...CUSTODIANS, 'dave@acme.example'];
      const { plan, report } = await run(hold(more), true);
      expect(summary(plan.tenants[0])).toEqual(['update holds LH-2026-001 desired']);
      expect(results(report)).toEqual(['applied update LH-2026-001']);
      expect(summary((await run(hold(more), false)).plan.tenants[0])).toEqual([]);
      const live = (await h.liveHolds('acme')).find((x) => x.id === 'LH-2026-001');
      expect(live?.custodians).toEqual(more);
    });

    it('blocks dropping a custodian, or the hold, without a released record; nothing changes', async () => {
      const narrowed = await run(hold(['ann@acme.example']), true);
      expect(narrowed.plan.tenants[0]?.status).toBe('blocked');
      expect(narrowed.plan.tenants[0]?.errors.map((e) => e.code)).toEqual(['HOLD_NARROWED']);
      expect(results(narrowed.report).every((r) => r.startsWith('skipped '))).toBe(true);
      const removed = await run('  []\n', true);
      expect(removed.plan.tenants[0]?.status).toBe('blocked');
      expect(removed.plan.tenants[0]?.errors.map((e) => e.code)).toEqual(['HOLD_REMOVED']);
      expect(results(removed.report).every((r) => r.startsWith('skipped '))).toBe(true);
      const live = (await h.liveHolds('acme')).find((x) => x.id === 'LH-2026-001');
      expect(live?.custodians).toHaveLength(3);
    });

    it('deletes the hold only when it is released; afterwards the plan is empty', async () => {
      const more = [...CUSTODIANS, 'dave@acme.example'];
      const { plan, report } = await run(hold(more, RELEASED), true);
      expect(summary(plan.tenants[0])).toEqual(['delete holds LH-2026-001 released']);
      expect(results(report)).toEqual(['applied delete LH-2026-001']);
      const live = await h.liveHolds('acme');
      expect(live.map((x) => x.id)).toEqual(['HR-BY-HAND']);
      expect(summary((await run(hold(more, RELEASED), false)).plan.tenants[0])).toEqual([]);
    });
  });
}
