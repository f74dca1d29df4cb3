import { describe, expect, it } from 'vitest';
import { expectGolden } from '../../test/support/golden.js';
import { buildPlan } from './build-plan.js';
import { groupPlanChanges } from './group-changes.js';
import { renderApplyReportText } from './render-apply.js';
import { planMarkdownSections } from './render-markdown.js';
import { LISTED_GROUPS, renderPlanText } from './render-text.js';
import type {
  ApplyReport,
  Change,
  ChangeResult,
  Plan,
  TenantApplyResult,
  TenantPlan,
} from './types.js';

const block = (
  tenant: string,
  key: string,
  action: Change['action'] = 'create',
  reason = 'phishing',
): Change => ({
  tenant,
  kind: 'blockedSenders',
  key,
  action,
  cause: 'desired',
  ...(action !== 'create' ? { before: { sender: key, reason: 'old' } } : {}),
  ...(action !== 'delete' ? { after: { sender: key, reason } } : {}),
  patch: action === 'update' ? [{ op: 'replace', path: '/reason', value: reason }] : [],
});

const tenant = (
  id: string,
  changes: Change[],
  status: TenantPlan['status'] = 'ok',
): TenantPlan => ({
  tenant: id,
  status,
  changes,
  errors: status === 'ok' ? [] : [{ code: 'TOO_MANY_DELETES', message: 'over maxDeletes' }],
  unmanaged: [],
});

const text = (plan: Plan, verbose = false): string =>
  renderPlanText(plan, { colour: false, verbose });

describe('text plan: grouped across tenants', () => {
  it('puts an identical change in many tenants on one line, as the PR comment does', () => {
    const plan = buildPlan(
      ['a', 'b', 'c', 'd', 'e'].map((t) => tenant(t, [block(t, 'evil.example')])),
    );
    const out = text(plan);
    expect(out).toContain(
      '\n  + blocked sender evil.example in 5 tenants\n      reason: "phishing"\n',
    );
    expect(out.match(/evil\.example/g)).toHaveLength(1);
    expect(out).toMatch(/^a: 1 to create, 0 to update, 0 to delete\n {2}blocked senders \+1$/m);
    // The same grouping as the markdown comment: one definition of "identical".
    expect(planMarkdownSections(plan).grouped).toContain('+ block `evil.example` in 5 tenants');
    expect(groupPlanChanges(plan.tenants)).toHaveLength(1);
  });

  it('keeps changes that differ in any field on separate lines', () => {
    const plan = buildPlan([
      tenant('a', [block('a', 'evil.example', 'create', 'phishing')]),
      tenant('b', [block('b', 'evil.example', 'create', 'phishing kit v2')]),
    ]);
    const out = text(plan);
    expect(out).toContain('  + blocked sender evil.example in a\n      reason: "phishing"\n');
    expect(out).toContain(
      '  + blocked sender evil.example in b\n      reason: "phishing kit v2"\n',
    );
  });

  it('names the tenants of a small group, counts those of a large one', () => {
    const plan = buildPlan([
      ...['a', 'b', 'c'].map((t) => tenant(t, [block(t, 'three.example')])),
      ...['a', 'b', 'c', 'd'].map((t) => tenant(t, [block(t, 'four.example')])),
    ]);
    const out = text(plan);
    expect(out).toContain('+ blocked sender three.example in 3 tenants: a, b, c\n');
    expect(out).toContain('+ blocked sender four.example in 4 tenants\n');
  });

  it(`lists ${LISTED_GROUPS} lines of creates and updates and counts the rest, pointing to --verbose`, () => {
    const own = (t: string): Change[] =>
      Array.from({ length: 40 }, (_, i) => block(t, `${t}-own-${i}.example`));
    const plan = buildPlan(['a', 'b', 'c'].map((t) => tenant(t, own(t))));
    const out = text(plan);
    expect(out.match(/^ {2}\+ blocked sender /gm)).toHaveLength(LISTED_GROUPS);
    expect(out).toContain(
      `  … and ${120 - LISTED_GROUPS} more changes (${120 - LISTED_GROUPS} lines in 2 tenants) not listed: --verbose lists every change, --format json has each\n`,
    );
    const verbose = text(plan, true);
    expect(verbose.match(/^ {2}\+ blocked sender /gm)).toHaveLength(120);
    expect(verbose).not.toContain('more change');
  });

  it('names every delete, however many, with every tenant it happens in', () => {
    const deletes = (t: string): Change[] =>
      Array.from({ length: 120 }, (_, i) => block(t, `gone-${t}-${i}.example`, 'delete'));
    const shared = ['a', 'b', 'c', 'd', 'e'].map((t) => block(t, 'shared-gone.example', 'delete'));
    const creates = (t: string): Change[] =>
      Array.from({ length: 100 }, (_, i) => block(t, `new-${t}-${i}.example`));
    const plan = buildPlan(
      ['a', 'b', 'c', 'd', 'e'].map((t, i) =>
        tenant(
          t,
          [...deletes(t), ...creates(t), shared[i] as Change],
          t === 'e' ? 'blocked' : 'ok',
        ),
      ),
    );
    const out = text(plan);
    expect(out).toContain('Deletes (605), each named:\n');
    for (const t of ['a', 'b', 'c', 'd', 'e'])
      for (let i = 0; i < 120; i++)
        expect(out).toContain(`- blocked sender gone-${t}-${i}.example in`);
    expect(out).toContain(
      '  - blocked sender shared-gone.example in 4 tenants: a, b, c, d (loosens)\n',
    );
    // A blocked tenant's deletes are named too, and said not to be applied.
    expect(out).toContain(
      '  - blocked sender shared-gone.example in e (loosens) (tenant blocked: not applied)\n',
    );
    expect(out).toContain('more changes');
  });
});

/** An apply report for `plan` where `status(tenant, change)` decides each result. */
function reportOf(
  plan: Plan,
  status: (t: TenantPlan, c: Change) => Pick<ChangeResult, 'status' | 'reason'>,
): ApplyReport {
  const tenants = plan.tenants.map((t): TenantApplyResult => {
    const results = t.changes.map((c) => ({
      kind: c.kind,
      key: c.key,
      action: c.action,
      ...status(t, c),
    }));
    if (t.status !== 'ok')
      return {
        tenant: t.tenant,
        status: 'skipped',
        reason: `tenant ${t.status}: over maxDeletes`,
        results,
      };
    const failed = results.filter((r) => r.status === 'failed').length;
    return {
      tenant: t.tenant,
      status:
        results.length === 0
          ? 'unchanged'
          : failed === 0
            ? 'applied'
            : failed === results.length
              ? 'failed'
              : 'partial',
      results,
    };
  });
  const summary = { applied: 0, failed: 0, skipped: 0, pending: 0 };
  for (const t of tenants) for (const r of t.results) summary[r.status]++;
  return {
    formatVersion: 1,
    checksum: plan.checksum,
    startedAt: '2026-11-23T12:00:00.000Z',
    finishedAt: '2026-11-23T12:00:05.000Z',
    tenants,
    summary,
  };
}

describe('text apply report', () => {
  const plan = buildPlan([
    tenant('alpha', [
      block('alpha', 'evil.example'),
      block('alpha', 'old.example', 'delete'),
      block('alpha', 'bad..example'),
      block('alpha', 'ceo@lookalike.example', 'update', 'CEO fraud, second wave'),
    ]),
    tenant('beta', [block('beta', 'evil.example'), block('beta', 'old.example', 'delete')]),
    tenant('gamma', [block('gamma', 'evil.example'), block('gamma', 'old.example', 'delete')]),
    tenant(
      'delta',
      [block('delta', 'evil.example'), block('delta', 'gone.example', 'delete')],
      'blocked',
    ),
  ]);
  const report = reportOf(plan, (t, c) =>
    t.status !== 'ok'
      ? { status: 'skipped', reason: 'tenant blocked: over maxDeletes' }
      : c.key === 'bad..example'
        ? { status: 'failed', reason: 'Cloudflare 400: invalid pattern' }
        : { status: 'applied' },
  );

  it('golden: counts per tenant, failures and deletes named, the rest grouped', () => {
    expectGolden('apply.txt', renderApplyReportText(report, { colour: false }));
  });

  it('golden --verbose: one line per change result, as before', () => {
    expectGolden(
      'apply-verbose.txt',
      renderApplyReportText(report, { colour: false, verbose: true }),
    );
  });

  it('names every failure, however many, with its reason', () => {
    const many = buildPlan(
      ['a', 'b'].map((t) =>
        tenant(
          t,
          Array.from({ length: 150 }, (_, i) => block(t, `x${i}.example`)),
        ),
      ),
    );
    const out = renderApplyReportText(
      reportOf(many, (t, c) =>
        t.tenant === 'b' && Number(c.key.slice(1, -8)) % 2 === 0
          ? { status: 'failed', reason: `HTTP 500 on ${c.key}` }
          : { status: 'applied' },
      ),
      { colour: false },
    );
    expect(out).toContain('Failed (75), each named:\n');
    for (let i = 0; i < 150; i += 2)
      expect(out).toContain(
        `  failed  + blocked sender x${i}.example in b — HTTP 500 on x${i}.example\n`,
      );
    expect(out).toMatch(/^Apply: 225 applied, 75 failed, 0 skipped\. Failed in: b\.$/m);
    expect(out).toContain('more changes');
  });

  it('groups results by what their line shows: status, entry and reason', () => {
    const three = buildPlan(
      ['a', 'b', 'c'].map((t) => tenant(t, [block(t, 'x.example'), block(t, 'y.example')])),
    );
    const r = reportOf(three, (t, c) =>
      c.key === 'y.example' && t.tenant !== 'a'
        ? { status: 'failed', reason: `HTTP 403 in ${t.tenant === 'b' ? 'b' : 'c'}` }
        : { status: 'applied' },
    );
    for (const t of r.tenants) t.results.reverse();
    const out = renderApplyReportText(r, { colour: false });
    expect(out).toContain('  applied + blocked sender x.example in 3 tenants: a, b, c\n');
    expect(out).toContain('  applied + blocked sender y.example in a\n');
    expect(out).toContain('  failed  + blocked sender y.example in b — HTTP 403 in b\n');
    expect(out).toContain('  failed  + blocked sender y.example in c — HTTP 403 in c\n');
  });

  it('names a bundle on a grouped line only when every tenant has it from that bundle', () => {
    const from = (c: Change, bundle?: string): Change => ({
      ...c,
      source: { file: 'f.yaml', line: 1, ...(bundle !== undefined ? { bundle } : {}) },
    });
    const mixed = buildPlan([
      tenant('a', [
        from(block('a', 'x.example'), 'baseline'),
        from(block('a', 'y.example'), 'baseline'),
      ]),
      tenant('b', [from(block('b', 'x.example'), 'baseline'), from(block('b', 'y.example'))]),
    ]);
    const out = text(mixed);
    expect(out).toContain('  + blocked sender x.example [bundle baseline] in 2 tenants: a, b\n');
    expect(out).toContain('  + blocked sender y.example in 2 tenants: a, b\n');
  });
});
