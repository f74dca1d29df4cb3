import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkEntryValues, type ProviderCapabilities } from '../../src/model/capabilities.js';
import { normalizeEntry, type RawEntryOf } from '../../src/model/entries.js';
import { KIND_RULES, KINDS, type Kind } from '../../src/model/kinds.js';
import type { Plan, TenantPlan } from '../../src/plan/types.js';
import { applyPlan, planTenants, type ReconcileDeps } from '../../src/reconcile/reconcile.js';
import { loadFromTexts } from '../support/policies.js';

/**
 * What every provider must do, whatever live system it talks to, for exactly the kinds it
 * serves (its declared capabilities). Each provider gives a harness: how a tenant file
 * points at it, how to reach it, and how to put entries there behind mxpolicy's back (an
 * admin adding a sender by hand, a domain set up in the console).
 */
export interface ContractHarness {
  /** The `providers:` block of the tenant file, indented for YAML. */
  providersYaml: string;
  deps: Omit<ReconcileDeps, 'concurrency'>;
  /**
   * An entry an admin made by hand, with no ownership marker (`key` is the pattern of a
   * blocked sender). Needed when blocked senders are served.
   */
  seedUnmanagedBlockedSender?(tenant: string, sender: string, reason: string): Promise<void>;
  /** A delivery domain set up in the vendor's console (needed for update-only routes). */
  seedDomain?(tenant: string, domain: string, deliverTo: string): Promise<void>;
  /** Live keys of a kind as stored (to prove nothing was duplicated or lost). */
  liveKeys(tenant: string, kind: Kind): Promise<string[]>;
  close(): Promise<void>;
}

const TODAY = '2026-11-23';
const LATER = '2026-12-05';

const BUNDLE = `bundle: baseline
blockedSenders:
  - sender: 45.155.205.7
    reason: botnet C2
`;

/** Entries a tenant declares, per kind, as YAML list items (each with its plan line). */
interface Sample {
  yaml: string;
  key: string;
}
const SAMPLES: Record<Kind, Sample[]> = {
  blockedSenders: [
    {
      yaml: '  - sender: CEO@Lookalike.example\n    reason: CEO impersonation\n    ticket: INC-4411\n',
      key: 'ceo@lookalike.example',
    },
    {
      yaml: '  - sender: temp.example\n    reason: short campaign\n    expires: 2026-12-01\n',
      key: 'temp.example',
    },
  ],
  exemptions: [
    {
      yaml: '  - sender: partner.example\n    bypass: spam\n    reason: partner newsletters\n',
      key: 'sender:partner.example',
    },
    {
      yaml: '  - recipient: abuse@acme.example\n    bypass: all\n    verifySender: false\n    reason: the abuse desk sees everything\n',
      key: 'recipient:abuse@acme.example',
    },
    {
      yaml: '  - sender: mailer.example\n    bypass: spoof\n    reason: company-wide mail a partner sends in our name\n',
      key: 'sender:mailer.example',
    },
  ],
  holds: [
    {
      yaml: '  - id: LH-2026-017\n    matter: Doe v. ACME\n    custodians: [j.smith@acme.example, legal@acme.example]\n',
      key: 'LH-2026-017',
    },
  ],
  routes: [
    {
      yaml: '  - domain: acme.example\n    deliverTo: mx1.acme.example\n    requireTls: true\n',
      key: 'acme.example',
    },
  ],
};

const summary = (t: TenantPlan | undefined): string[] =>
  (t?.changes ?? []).map((c) => `${c.action} ${c.kind} ${c.key} ${c.cause}`);

/**
 * The suite for one provider. `capabilities` is what its factory declares: the scenarios of
 * the kinds it serves run, with the sample entries it can express.
 */
export function describeProviderContract(
  name: string,
  capabilities: ProviderCapabilities,
  makeHarness: () => Promise<ContractHarness>,
): void {
  const served = KINDS.filter((k) => capabilities.kinds[k] !== undefined);
  /** Samples the provider can express (others are refused by validate, not tested here). */
  const samples: Partial<Record<Kind, Sample[]>> = Object.fromEntries(
    served.map((kind) => [
      kind,
      SAMPLES[kind].filter((s) => {
        const raw = (parse(s.yaml) as unknown[])[0] as RawEntryOf[typeof kind];
        const n = normalizeEntry(kind, raw);
        return (
          n.ok && checkEntryValues(n.entry.value, capabilities.kinds[kind]?.values).length === 0
        );
      }),
    ]),
  );
  const full = (kind: Kind): boolean => capabilities.kinds[kind]?.lifecycle === 'full';

  describe(`provider contract: ${name} (${served.join(', ')})`, () => {
    let h: ContractHarness;

    const tenantYaml = (extra: Partial<Record<Kind, string>> = {}): string => {
      const parts = [
        'tenant: acme',
        'providers:',
        h.providersYaml,
        'domains: [acme.example]',
        ...(served.includes('blockedSenders') ? ['include: [baseline]'] : []),
      ];
      for (const kind of served) {
        const own = extra[kind] ?? (samples[kind] ?? []).map((s) => s.yaml).join('');
        if (own !== '') parts.push(`${kind}:\n${own.replace(/\n$/, '')}`);
      }
      return parts.join('\n') + '\n';
    };
    const load = (today: string, extra?: Partial<Record<Kind, string>>) => {
      const files: Record<string, string> = { 'tenants/acme.yaml': tenantYaml(extra) };
      if (served.includes('blockedSenders')) files['bundles/baseline.yaml'] = BUNDLE;
      const set = loadFromTexts(files, today);
      expect(set.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      return set;
    };
    const plan = async (today: string, extra?: Partial<Record<Kind, string>>): Promise<Plan> => {
      const run = await planTenants(
        load(today, extra).tenants,
        { ...h.deps, concurrency: 4 },
        { today, allowLargeChanges: false, validationErrors: new Map() },
      );
      return run.plan;
    };
    const planAndApply = async (
      today: string,
      extra?: Partial<Record<Kind, string>>,
    ): Promise<{ plan: Plan; applied: string[] }> => {
      const deps = { ...h.deps, concurrency: 4 };
      const run = await planTenants(load(today, extra).tenants, deps, {
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
    /** What the first plan must be: a create per sample (an update for console-made routes). */
    const firstPlan = (): string[] => {
      const lines: string[] = [];
      for (const kind of served) {
        const cap = capabilities.kinds[kind];
        const keys = (samples[kind] ?? []).map((s) => s.key);
        if (kind === 'blockedSenders') keys.push('45.155.205.7');
        // A domain set up in the console before the first plan exists live: an update.
        const existing =
          cap?.lifecycle === 'update-only' || (kind === 'routes' && h.seedDomain !== undefined);
        for (const key of keys.sort())
          lines.push(`${existing ? 'update' : 'create'} ${kind} ${key} desired`);
      }
      return lines;
    };

    beforeAll(async () => {
      h = await makeHarness();
      if (served.includes('blockedSenders'))
        await h.seedUnmanagedBlockedSender?.('acme', 'by-hand.example', 'added in the console');
      if (served.includes('routes'))
        await h.seedDomain?.('acme', 'acme.example', 'mx0.acme.example');
    });
    afterAll(async () => {
      await h.close();
    });

    it('same desired state gives the same plan, and planning changes nothing', async () => {
      const a = await plan(TODAY);
      const b = await plan(TODAY);
      expect(a.tenants[0]?.status).toBe('ok');
      expect(summary(a.tenants[0])).toEqual(firstPlan());
      expect(b.checksum).toBe(a.checksum);
      if (served.includes('blockedSenders'))
        expect(a.tenants[0]?.unmanaged).toEqual([
          { kind: 'blockedSenders', key: 'by-hand.example' },
        ]);
    });

    it('apply, then plan is empty', async () => {
      const { applied } = await planAndApply(TODAY);
      expect(applied.every((r) => r.startsWith('applied '))).toBe(true);
      expect(applied).toHaveLength(firstPlan().length);
      const again = await plan(TODAY);
      expect(summary(again.tenants[0])).toEqual([]);
      // Applying an empty plan is a no-op too.
      expect((await planAndApply(TODAY)).applied).toEqual([]);
    });

    const blocks = served.includes('blockedSenders') && full('blockedSenders');
    if (blocks)
      it('leaves unmanaged entries untouched', async () => {
        const live = await h.liveKeys('acme', 'blockedSenders');
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

    if (blocks)
      it('plans the same for a few keys as the full plan does for them (with readKeys where the provider has it)', async () => {
        const extra = {
          blockedSenders:
            (samples.blockedSenders ?? []).map((s) => s.yaml).join('') +
            '  - sender: limited.example\n    reason: INC-6000\n',
        };
        const full = await plan(TODAY, extra);
        const keys = ['limited.example', 'by-hand.example', 'ceo@lookalike.example'];
        const run = await planTenants(
          load(TODAY, extra).tenants,
          { ...h.deps, concurrency: 4 },
          {
            today: TODAY,
            allowLargeChanges: false,
            validationErrors: new Map(),
            targets: new Map([['acme', { blockedSenders: new Set(keys) }]]),
          },
        );
        const limited = run.plan.tenants[0];
        expect(run.plan.read?.mode).toBe('targeted');
        expect(summary(limited)).toEqual(
          summary(full.tenants[0]).filter((line) => keys.some((k) => line.includes(` ${k} `))),
        );
        expect(summary(limited)).toEqual(['create blockedSenders limited.example desired']);
        expect(limited?.unmanaged).toEqual([{ kind: 'blockedSenders', key: 'by-hand.example' }]);
      });

    if (blocks)
      it('creates what was added, once', async () => {
        const extra = {
          blockedSenders:
            (samples.blockedSenders ?? []).map((s) => s.yaml).join('') +
            '  - sender: new-campaign.example\n    reason: INC-5000\n',
        };
        const { plan: p, applied } = await planAndApply(TODAY, extra);
        expect(summary(p.tenants[0])).toEqual([
          'create blockedSenders new-campaign.example desired',
        ]);
        expect(applied).toEqual(['applied create new-campaign.example']);
        expect(summary((await plan(TODAY, extra)).tenants[0])).toEqual([]);
        const live = await h.liveKeys('acme', 'blockedSenders');
        expect(live.filter((s) => s === 'new-campaign.example')).toHaveLength(1);
      });

    if (blocks && KIND_RULES.blockedSenders.expires)
      it('removes expired entries and only those', async () => {
        const extra = {
          blockedSenders:
            (samples.blockedSenders ?? []).map((s) => s.yaml).join('') +
            '  - sender: new-campaign.example\n    reason: INC-5000\n',
        };
        const { plan: p, applied } = await planAndApply(LATER, extra);
        expect(summary(p.tenants[0])).toEqual(['delete blockedSenders temp.example expired']);
        expect(applied).toEqual(['applied delete temp.example']);
        expect(summary((await plan(LATER, extra)).tenants[0])).toEqual([]);
        expect((await h.liveKeys('acme', 'blockedSenders')).sort()).toEqual([
          '45.155.205.7',
          'by-hand.example',
          'ceo@lookalike.example',
          'new-campaign.example',
        ]);
      });

    if (served.includes('holds'))
      describe('holds: the kind whose loss cannot be undone', () => {
        // The state the earlier scenarios left (a new block, the expired one gone), later on.
        const grown = blocks
          ? {
              blockedSenders:
                (samples.blockedSenders ?? []).map((s) => s.yaml).join('') +
                '  - sender: new-campaign.example\n    reason: INC-5000\n',
            }
          : {};
        const hold = (custodians: string, extra = ''): Partial<Record<Kind, string>> => ({
          ...grown,
          holds: `  - id: LH-2026-017\n    matter: Doe v. ACME\n    custodians: [${custodians}]\n${extra}`,
        });
        const both = 'j.smith@acme.example, legal@acme.example';
        const three = `${both}, cfo@acme.example`;

        it('adds a custodian with an update, once', async () => {
          const { plan: p, applied } = await planAndApply(LATER, hold(three));
          expect(summary(p.tenants[0])).toEqual(['update holds LH-2026-017 desired']);
          expect(applied).toEqual(['applied update LH-2026-017']);
          expect(summary((await plan(LATER, hold(three))).tenants[0])).toEqual([]);
          expect(await h.liveKeys('acme', 'holds')).toEqual(['LH-2026-017']);
        });

        it('refuses to narrow or drop a hold without a release record, and changes nothing', async () => {
          const narrowed = await planAndApply(LATER, hold(both));
          expect(narrowed.plan.tenants[0]?.status).toBe('blocked');
          expect(narrowed.plan.tenants[0]?.errors.map((e) => e.code)).toEqual(['HOLD_NARROWED']);
          expect(narrowed.applied.every((r) => r.startsWith('skipped '))).toBe(true);
          const dropped = await planAndApply(LATER, { ...grown, holds: '' });
          expect(dropped.plan.tenants[0]?.errors.map((e) => e.code)).toEqual(['HOLD_REMOVED']);
          expect(dropped.applied.every((r) => r.startsWith('skipped '))).toBe(true);
          // Still held, with every custodian.
          expect(summary((await plan(LATER, hold(three))).tenants[0])).toEqual([]);
        });

        it('releases a hold only through its released record, and then it is gone', async () => {
          const released = hold(
            three,
            '    released: { by: legal@acme.example, reason: matter settled, date: 2026-11-20 }\n',
          );
          const { plan: p, applied } = await planAndApply(LATER, released);
          expect(summary(p.tenants[0])).toEqual(['delete holds LH-2026-017 released']);
          expect(applied).toEqual(['applied delete LH-2026-017']);
          expect(await h.liveKeys('acme', 'holds')).toEqual([]);
          expect(summary((await plan(LATER, released)).tenants[0])).toEqual([]);
        });
      });
  });
}
