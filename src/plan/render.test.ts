import { describe, expect, it } from 'vitest';
import { expectGolden } from '../../test/support/golden.js';
import { loadFromTexts, tenantYaml } from '../../test/support/policies.js';
import type { LiveEntry } from '../model/kinds.js';
import { buildPlan } from './build-plan.js';
import { diffTenant } from './diff-tenant.js';
import { parsePlanJson, renderPlanJson } from './render-json.js';
import { planMarkdownSections, readPlanMarker, renderPlanMarkdown } from './render-markdown.js';
import { renderPlanText } from './render-text.js';
import type { Plan } from './types.js';
import type { KindCapability } from '../model/capabilities.js';

const FULL: KindCapability = { lifecycle: 'full', ownershipMarker: true, settles: 'immediately' };

const TODAY = '2026-11-23';

/** Three tenants sharing a bundle; one drifted, one blocked by a hold removal, one new. */
function scenario(): Plan {
  const bundle =
    'bundle: baseline\nblockedSenders:\n  - sender: evil.example\n    reason: phishing kit\n    ticket: INC-1\n';
  const set = loadFromTexts(
    {
      'bundles/baseline.yaml': bundle,
      'tenants/alpha.yaml': tenantYaml(
        'alpha',
        'include: [baseline]\nblockedSenders:\n  - sender: ceo@lookalike.example\n    reason: CEO fraud, second wave\n  - sender: old-campaign.example\n    reason: finished\n    expires: 2026-06-30\nexemptions:\n  - sender: allhands@acme.com\n    bypass: spam\n    reason: all-hands mail\n',
      ),
      'tenants/beta.yaml': tenantYaml('beta', 'include: [baseline]\n'),
      'tenants/gamma.yaml': tenantYaml('gamma', 'include: [baseline]\n'),
    },
    TODAY,
  );
  const managed = (e: Omit<LiveEntry, 'managed'>): LiveEntry =>
    ({ ...e, managed: true }) as LiveEntry;
  const live: Record<string, LiveEntry[]> = {
    alpha: [
      managed({
        kind: 'blockedSenders',
        key: 'ceo@lookalike.example',
        value: { sender: 'ceo@lookalike.example', reason: 'CEO fraud' },
      }),
      managed({
        kind: 'blockedSenders',
        key: 'old-campaign.example',
        value: { sender: 'old-campaign.example', reason: 'finished', expires: '2026-06-30' },
      }),
      managed({
        kind: 'blockedSenders',
        key: 'removed.example',
        value: { sender: 'removed.example', reason: 'no longer needed' },
      }),
      {
        kind: 'blockedSenders',
        key: 'console.example',
        value: { sender: 'console.example', reason: 'clicked in the console' },
        managed: false,
      },
    ],
    beta: [
      managed({
        kind: 'holds',
        key: 'LH-9',
        value: { id: 'LH-9', matter: 'Roe v. Beta', custodians: ['cfo@beta.example'] },
      }),
    ],
    gamma: [],
  };
  return buildPlan(
    set.tenants.map((t) =>
      diffTenant(
        t,
        {
          blockedSenders: (live[t.tenant] ?? []).filter((e) => e.kind === 'blockedSenders'),
          exemptions: [],
          holds: (live[t.tenant] ?? []).filter((e) => e.kind === 'holds'),
          routes: [],
        },
        {
          today: TODAY,
          allowLargeChanges: false,
          capabilities: { blockedSenders: FULL, exemptions: FULL, holds: FULL, routes: FULL },
        },
      ),
    ),
  );
}

describe('plan renderers (golden)', () => {
  const plan = scenario();

  it('text', () => {
    expectGolden('plan.txt', renderPlanText(plan, { colour: false }));
  });

  it('text --verbose: every change on its own line, per tenant', () => {
    expectGolden('plan-verbose.txt', renderPlanText(plan, { colour: false, verbose: true }));
  });

  it('text with colour only when asked', () => {
    expect(renderPlanText(plan, { colour: true })).toContain('\x1b[32m  + ');
    expect(renderPlanText(plan, { colour: false })).not.toContain('\x1b[');
  });

  it('markdown', () => {
    expectGolden('plan.md', renderPlanMarkdown(plan));
  });

  it('json', () => {
    expectGolden('plan.json', renderPlanJson(plan));
  });

  it('markdown groups identical changes across tenants and names every delete', () => {
    const s = planMarkdownSections(plan);
    expect(s.grouped).toContain('- + block `evil.example` in 2 tenants'); // alpha and gamma; beta is blocked
    expect(s.deletes.split('\n').filter((l) => l.startsWith('- '))).toHaveLength(2);
    expect(readPlanMarker(renderPlanMarkdown(plan))).toBe(plan.checksum);
  });

  it('json round-trips and keeps the public shape', () => {
    const parsed = parsePlanJson(renderPlanJson(plan));
    expect(parsed).toEqual(plan);
    expect(Object.keys(parsed)).toEqual(['formatVersion', 'checksum', 'tenants', 'summary']);
    expect(Object.keys(parsed.tenants[0] ?? {})).toEqual([
      'tenant',
      'status',
      'changes',
      'errors',
      'unmanaged',
    ]);
  });

  it('the checksum changes with any change and only then', () => {
    expect(scenario().checksum).toBe(plan.checksum);
    const tweaked = structuredClone(plan);
    const first = tweaked.tenants[0]?.changes[0];
    if (first?.after !== undefined) (first.after as { reason: string }).reason += '!';
    expect(buildPlan(tweaked.tenants).checksum).not.toBe(plan.checksum);
  });

  it('does not claim live state matches when a tenant could not be planned', () => {
    const plan = buildPlan([
      { tenant: 'a', status: 'ok', changes: [], errors: [], unmanaged: [] },
      {
        tenant: 'b',
        status: 'error',
        changes: [],
        errors: [{ code: 'LIVE_READ_FAILED', message: 'HTTP 403' }],
        unmanaged: [],
      },
    ]);
    const text = renderPlanText(plan, { colour: false });
    expect(text).toContain(
      'b: ERROR (nothing planned for this tenant)\n  ! LIVE_READ_FAILED: HTTP 403\n',
    );
    expect(text).toContain(
      'No changes in the tenants that could be planned (2 tenants: 1 with errors; see above).',
    );
    expect(text).not.toContain('matches');
    const markdown = renderPlanMarkdown(plan);
    expect(markdown).not.toContain('No changes');
    expect(markdown).toContain(
      '**❌ 1 tenant in error**; no changes in the tenants that could be planned (2 tenants).',
    );
  });

  it('puts errors and blocked tenants first in the markdown headline', () => {
    const change = (tenant: string): Plan['tenants'][number]['changes'][number] => ({
      tenant,
      kind: 'blockedSenders',
      key: 'x.example',
      action: 'create',
      cause: 'desired',
      after: { sender: 'x.example', reason: 'r' },
      patch: [],
    });
    const plan = buildPlan([
      { tenant: 'a', status: 'ok', changes: [change('a')], errors: [], unmanaged: [] },
      {
        tenant: 'b',
        status: 'blocked',
        changes: [change('b')],
        errors: [{ code: 'TOO_MANY_DELETES', message: 'x' }],
        unmanaged: [],
      },
      {
        tenant: 'c',
        status: 'error',
        changes: [],
        errors: [{ code: 'E', message: 'y' }],
        unmanaged: [],
      },
    ]);
    const headline = renderPlanMarkdown(plan)
      .split('\n')
      .find((l) => l.startsWith('**'));
    expect(headline).toBe(
      '**❌ 1 tenant in error, ⛔ 1 tenant blocked**; 2 to create, 0 to update, 0 to delete in 2 of 3 tenants.',
    );
  });

  it('says No changes for an empty plan', () => {
    const empty = buildPlan([
      { tenant: 'a', status: 'ok', changes: [], errors: [], unmanaged: [] },
    ]);
    expect(renderPlanText(empty, { colour: false })).toBe(
      'No changes. Live state matches the policies of 1 tenant.\n',
    );
    expect(renderPlanMarkdown(empty)).toContain('**No changes.**');
  });
});
