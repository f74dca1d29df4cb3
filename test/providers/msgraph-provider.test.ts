import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/types.js';
import { renderPlanText } from '../../src/plan/render-text.js';
import { applyPlan, planTenants, type ReconcileDeps } from '../../src/reconcile/reconcile.js';
import { loadFromTexts } from '../support/policies.js';
import { M365_CASE, setupMsGraph, type MsGraphSetup } from './msgraph-harness.js';

/**
 * The msgraph provider through the reconcile layer (plan -> apply -> settle), on the Graph
 * emulator: `custodians: all` across pages and policies, a new mailbox on the next apply,
 * pending -> error -> retry, and a case that is missing or closed (issue 11 scope 7).
 */
describe('msgraph provider: plan and apply holds', () => {
  let g: MsGraphSetup;
  let deps: ReconcileDeps;
  const users = Array.from(
    { length: 23 },
    (_, i) => `staff${String(i).padStart(2, '0')}@acme.example`,
  );

  beforeAll(async () => {
    g = await setupMsGraph({
      users,
      maxSourcesPerPolicy: 10,
      emulator: { defaultPageSize: 7 },
    });
    g.tenant.addUsers([
      { mail: null, displayName: 'Board room' },
      { mail: 'leaver@acme.example', accountEnabled: false },
    ]);
    deps = {
      registry: { msgraph: g.factory },
      rootDir: '.',
      env: g.env,
      dispatcher: g.dispatcher,
      logger: g.logger,
      now: () => new Date(),
      concurrency: 2,
      settle: { firstDelayMs: 10, maxDelayMs: 40, maxWaitMs: 3000 },
    };
  });
  afterEach(() => {
    expect(g.emu.violations).toEqual([]);
    g.emu.clearFaults();
  });
  afterAll(async () => {
    await g.close();
  });

  const tenantFile = (holds: string, binding = g.providersYaml()): string =>
    `tenant: acme\nproviders:\n${binding}\ndomains: [acme.example]\nholds:\n${holds}`;
  const ALL = `  - id: LH-ALL\n    matter: Everyone at Acme\n    custodians: all\n`;

  const plan = async (
    text: string,
  ): Promise<{ plan: Plan; run: Awaited<ReturnType<typeof planTenants>> }> => {
    const set = loadFromTexts({ 'tenants/acme.yaml': text });
    expect(set.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const run = await planTenants(set.tenants, deps, {
      today: '2026-12-01',
      allowLargeChanges: false,
      validationErrors: new Map(),
    });
    return { plan: run.plan, run };
  };
  const planAndApply = async (text: string) => {
    const { plan: p, run } = await plan(text);
    const report = await applyPlan(p, run.sessions, deps);
    await run.close();
    return { plan: p, report };
  };

  it('holds every enabled mailbox with custodians: all, across user pages and policies #1..#3', async () => {
    const { plan: p, report } = await planAndApply(tenantFile(ALL));
    expect(p.tenants[0]?.changes.map((c) => `${c.action} ${c.key}`)).toEqual(['create LH-ALL']);
    const r = report.tenants[0]?.results[0];
    expect(r?.status).toBe('applied');
    expect(r?.reason).toMatch(
      /23 custodian\(s\) added \(directory: 23 mailboxes; 1 users without mail and 1 disabled skipped\); 3 hold policies; hold in place/,
    );
    expect(g.tenant.holds(M365_CASE).map((h) => [h.displayName, h.sources.length])).toEqual([
      ['LH-ALL#1', 10],
      ['LH-ALL#2', 10],
      ['LH-ALL#3', 3],
    ]);
    const again = await plan(tenantFile(ALL));
    expect(again.plan.tenants[0]?.changes).toEqual([]);
    await again.run.close();
  });

  it('plans a mailbox that joins the directory as an added custodian, into the last policy', async () => {
    const before = g.tenant.holds(M365_CASE).map((h) => h.sources.map((s) => s.id));
    g.tenant.addUsers([{ mail: 'newhire@acme.example' }]);
    const { plan: p, report } = await planAndApply(tenantFile(ALL));
    expect(p.tenants[0]?.changes.map((c) => `${c.action} ${c.key} ${c.cause}`)).toEqual([
      'update LH-ALL desired',
    ]);
    expect(renderPlanText(p, { colour: false })).toContain('LH-ALL');
    expect(report.tenants[0]?.results[0]?.status).toBe('applied');
    const after = g.tenant.holds(M365_CASE);
    expect(after.map((h) => h.sources.length)).toEqual([10, 10, 4]);
    expect(after[2]?.sources.at(-1)?.email).toBe('newhire@acme.example');
    after.forEach((h, i) => {
      expect(h.sources.slice(0, before[i]?.length).map((s) => s.id)).toEqual(before[i]);
    });
  });

  it('keeps a mailbox that left the directory on hold (never removed without a release)', async () => {
    g.tenant.removeUser('staff00@acme.example');
    const { plan: p } = await planAndApply(tenantFile(ALL));
    expect(p.tenants[0]?.status).toBe('ok');
    expect(p.tenants[0]?.changes).toEqual([]);
    const held = g.tenant.holds(M365_CASE).flatMap((h) => h.sources.map((s) => s.email));
    expect(held).toContain('staff00@acme.example');
  });

  it('reports pending -> error, shows the hold in error in the next plan, and apply retries it', async () => {
    g.tenant.failSettle('LH-ERR');
    const hold = `  - id: LH-ERR\n    matter: Doe\n    custodians: [staff01@acme.example]\n`;
    const first = await planAndApply(tenantFile(ALL + hold));
    const r = first.report.tenants[0]?.results.find((x) => x.key === 'LH-ERR');
    expect(r?.status).toBe('failed');
    expect(r?.reason).toMatch(/ended in error/);
    const { plan: drift, report } = await planAndApply(tenantFile(ALL + hold));
    const change = drift.tenants[0]?.changes.find((c) => c.key === 'LH-ERR');
    expect(change?.action).toBe('update');
    expect(change?.patch.map((o) => o.path)).toEqual(['/liveProblem']);
    const retried = report.tenants[0]?.results.find((x) => x.key === 'LH-ERR');
    expect(retried?.status).toBe('applied');
    expect(retried?.reason).toMatch(/retried LH-ERR/);
    const again = await plan(tenantFile(ALL + hold));
    expect(again.plan.tenants[0]?.changes).toEqual([]);
    await again.run.close();
  });

  it('blocks narrowing custodians: all to a list', async () => {
    const { plan: p, report } = await planAndApply(
      tenantFile(
        `  - id: LH-ALL\n    matter: Everyone at Acme\n    custodians: [staff01@acme.example]\n`,
      ),
    );
    expect(p.tenants[0]?.status).toBe('blocked');
    expect(p.tenants[0]?.errors.map((e) => e.code)).toContain('HOLD_NARROWED');
    expect(report.summary.applied).toBe(0);
  });

  it('makes the tenant error, naming the case, when it is closed or does not exist', async () => {
    g.tenant.setCaseStatus(M365_CASE, 'closed');
    try {
      const closed = await plan(tenantFile(ALL));
      expect(closed.plan.tenants[0]?.status).toBe('error');
      expect(closed.plan.tenants[0]?.errors[0]?.message).toMatch(
        new RegExp(`eDiscovery case '${M365_CASE}' .* is closed`),
      );
      await closed.run.close();
    } finally {
      g.tenant.setCaseStatus(M365_CASE, 'active');
    }
    const binding = g.providersYaml().replace(M365_CASE, 'no-such-case');
    const missing = await plan(tenantFile(ALL, binding));
    expect(missing.plan.tenants[0]?.status).toBe('error');
    expect(missing.plan.tenants[0]?.errors[0]?.message).toMatch(
      /eDiscovery case 'no-such-case' does not exist/,
    );
    await missing.run.close();
  });

  it('never writes the client secret to the log', () => {
    const secret = g.env['M365_SECRET_TEST'] ?? '';
    expect(secret).not.toBe('');
    expect(g.logger.lines.join('\n')).not.toContain(secret);
    expect(g.logger.lines.length).toBeGreaterThan(0);
  });
});
