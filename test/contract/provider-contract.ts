import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan, TenantPlan } from '../../src/plan/types.js';
import { applyPlan, planTenants, type ReconcileDeps } from '../../src/reconcile/reconcile.js';
import { loadFromTexts } from '../support/policies.js';

/**
 * What every provider must do, whatever live system it talks to. Each provider gives a
 * harness: how a tenant file points at it, how to reach it, and how to put entries there
 * behind mxpolicy's back (an admin adding a sender by hand, a domain set up in the console).
 */
export interface ContractHarness {
  /** The `providers:` block of the tenant file, indented for YAML. */
  providersYaml: string;
  deps: Omit<ReconcileDeps, 'concurrency'>;
  /** An entry an admin added by hand: no ownership marker. */
  seedUnmanagedBlockedSender(tenant: string, sender: string, reason: string): Promise<void>;
  /** A delivery domain that exists live (routes are update-only on some providers). */
  seedDomain(tenant: string, domain: string, deliverTo: string): Promise<void>;
  /** Live blocked-sender patterns, as stored (to prove nothing was duplicated or lost). */
  liveBlockedSenders(tenant: string): Promise<string[]>;
  close(): Promise<void>;
}

const TODAY = '2026-11-23';
const LATER = '2026-12-05';

const bundle = `bundle: baseline
blockedSenders:
  - sender: 45.155.205.7
    reason: botnet C2
`;

const tenant = (providers: string, extra = ''): string => `tenant: acme
providers:
${providers}
domains: [acme.example]
include: [baseline]
blockedSenders:
  - sender: CEO@Lookalike.example
    reason: CEO impersonation
    ticket: INC-4411
  - sender: temp.example
    reason: short campaign
    expires: 2026-12-01
${extra}exemptions:
  - sender: partner.example
    bypass: spam
    reason: partner newsletters
  - recipient: abuse@acme.example
    bypass: all
    verifySender: false
    reason: the abuse desk sees everything
routes:
  - domain: acme.example
    deliverTo: mx1.acme.example
    requireTls: true
`;

/** The plan every provider must produce from the same desired and live state. */
const FIRST_PLAN = [
  'create blockedSenders 45.155.205.7 desired',
  'create blockedSenders ceo@lookalike.example desired',
  'create blockedSenders temp.example desired',
  'create exemptions recipient:abuse@acme.example desired',
  'create exemptions sender:partner.example desired',
  'update routes acme.example desired',
];

const summary = (t: TenantPlan | undefined): string[] =>
  (t?.changes ?? []).map((c) => `${c.action} ${c.kind} ${c.key} ${c.cause}`);

export function describeProviderContract(
  name: string,
  makeHarness: () => Promise<ContractHarness>,
): void {
  describe(`provider contract: ${name}`, () => {
    let h: ContractHarness;
    beforeAll(async () => {
      h = await makeHarness();
      await h.seedUnmanagedBlockedSender('acme', 'by-hand.example', 'added in the console');
      await h.seedDomain('acme', 'acme.example', 'mx0.acme.example');
    });
    afterAll(async () => {
      await h.close();
    });

    const plan = async (today: string, extra = ''): Promise<Plan> => {
      const set = loadFromTexts(
        { 'bundles/baseline.yaml': bundle, 'tenants/acme.yaml': tenant(h.providersYaml, extra) },
        today,
      );
      expect(set.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const run = await planTenants(
        set.tenants,
        { ...h.deps, concurrency: 4 },
        { today, allowLargeChanges: false, validationErrors: new Map() },
      );
      return run.plan;
    };
    const planAndApply = async (
      today: string,
      extra = '',
    ): Promise<{ plan: Plan; applied: string[] }> => {
      const set = loadFromTexts(
        { 'bundles/baseline.yaml': bundle, 'tenants/acme.yaml': tenant(h.providersYaml, extra) },
        today,
      );
      const deps = { ...h.deps, concurrency: 4 };
      const run = await planTenants(set.tenants, deps, {
        today,
        allowLargeChanges: false,
        validationErrors: new Map(),
      });
      const report = await applyPlan(run.plan, run.sessions, deps);
      return {
        plan: run.plan,
        applied: report.tenants.flatMap((t) =>
          t.results.map((r) => `${r.status} ${r.action} ${r.key}`),
        ),
      };
    };

    it('same desired state gives the same plan, and planning changes nothing', async () => {
      const a = await plan(TODAY);
      const b = await plan(TODAY);
      expect(a.tenants[0]?.status).toBe('ok');
      expect(summary(a.tenants[0])).toEqual(FIRST_PLAN);
      expect(b.checksum).toBe(a.checksum);
      expect(a.tenants[0]?.unmanaged).toEqual([{ kind: 'blockedSenders', key: 'by-hand.example' }]);
    });

    it('apply, then plan is empty', async () => {
      const { applied } = await planAndApply(TODAY);
      expect(applied.every((r) => r.startsWith('applied '))).toBe(true);
      expect(applied).toHaveLength(FIRST_PLAN.length);
      const again = await plan(TODAY);
      expect(summary(again.tenants[0])).toEqual([]);
      // Applying an empty plan is a no-op too.
      expect((await planAndApply(TODAY)).applied).toEqual([]);
    });

    it('leaves unmanaged entries untouched', async () => {
      const live = await h.liveBlockedSenders('acme');
      expect(live.sort()).toEqual([
        '45.155.205.7',
        'by-hand.example',
        'ceo@lookalike.example',
        'temp.example',
      ]);
      const again = await plan(TODAY);
      expect(again.tenants[0]?.unmanaged).toEqual([
        { kind: 'blockedSenders', key: 'by-hand.example' },
      ]);
    });

    it('updates what changed and creates what was added, once', async () => {
      const extra = '  - sender: new-campaign.example\n    reason: INC-5000\n';
      const { plan: p, applied } = await planAndApply(TODAY, extra);
      expect(summary(p.tenants[0])).toEqual(['create blockedSenders new-campaign.example desired']);
      expect(applied).toEqual(['applied create new-campaign.example']);
      expect(summary((await plan(TODAY, extra)).tenants[0])).toEqual([]);
      const live = await h.liveBlockedSenders('acme');
      expect(live.filter((s) => s === 'new-campaign.example')).toHaveLength(1);
    });

    it('removes expired entries and only those', async () => {
      const extra = '  - sender: new-campaign.example\n    reason: INC-5000\n';
      const { plan: p, applied } = await planAndApply(LATER, extra);
      expect(summary(p.tenants[0])).toEqual(['delete blockedSenders temp.example expired']);
      expect(applied).toEqual(['applied delete temp.example']);
      expect(summary((await plan(LATER, extra)).tenants[0])).toEqual([]);
      expect((await h.liveBlockedSenders('acme')).sort()).toEqual([
        '45.155.205.7',
        'by-hand.example',
        'ceo@lookalike.example',
        'new-campaign.example',
      ]);
    });
  });
}
