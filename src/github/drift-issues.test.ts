import { describe, expect, it } from 'vitest';
import { blockChange, makePlan, tenantPlan } from '../../test/github/plan-fixtures.js';
import {
  driftFingerprint,
  driftIssueTitle,
  driftOfPlan,
  planDriftIssueActions,
  renderDriftIssueBody,
  renderTenantDriftMarkdown,
  tenantOfDriftIssue,
  type ExistingDriftIssue,
  type TenantDrift,
} from './drift-issues.js';
import { parseMarker } from './markers.js';

const run = {
  at: '2026-11-23T12:00:00Z',
  sha: 'a'.repeat(40),
  runUrl: 'https://github.invalid/run/7',
};

function drift(tenant: string, senders: string[]): Extract<TenantDrift, { state: 'drift' }> {
  const changes = senders.map((s) => blockChange(tenant, s, 'delete'));
  return { tenant, state: 'drift', changes, fingerprint: driftFingerprint(changes) };
}

function issue(
  number: number,
  d: Extract<TenantDrift, { state: 'drift' }>,
  state: 'open' | 'closed' = 'open',
): ExistingDriftIssue {
  return { number, title: driftIssueTitle(d.tenant), body: renderDriftIssueBody(d, run), state };
}

describe('driftOfPlan', () => {
  it('treats expired entries as expected, errors as unknown', () => {
    const plan = makePlan([
      tenantPlan('drifted', [blockChange('drifted', 'live@x.example', 'delete')]),
      tenantPlan('expired-only', [
        blockChange('expired-only', 'old@x.example', 'delete', 'expired'),
      ]),
      {
        ...tenantPlan('broken', [], 'error'),
        errors: [{ code: 'E_READ', message: 'live read failed' }],
      },
      tenantPlan('clean', []),
    ]);
    const out = driftOfPlan(plan);
    expect(out.map((d) => [d.tenant, d.state])).toEqual([
      ['drifted', 'drift'],
      ['expired-only', 'clean'],
      ['broken', 'unknown'],
      ['clean', 'clean'],
    ]);
    expect(out[2]).toMatchObject({ reason: 'live read failed' });
  });
});

describe('driftFingerprint', () => {
  it('depends on what drifted, not on order', () => {
    const a = blockChange('t', 'a@x', 'delete');
    const b = blockChange('t', 'b@x', 'create');
    expect(driftFingerprint([a, b])).toBe(driftFingerprint([b, a]));
    expect(driftFingerprint([a])).not.toBe(driftFingerprint([a, b]));
  });
});

describe('renderDriftIssueBody', () => {
  it('carries the tenant and fingerprint marker and explains every difference', () => {
    const d = drift('acme', ['live@x.example']);
    const update = {
      ...blockChange('acme', 'u@x.example', 'update'),
      patch: [{ op: 'replace' as const, path: '/reason', value: 'edited live' }],
    };
    const body = renderDriftIssueBody(
      { ...d, changes: [...d.changes, update, blockChange('acme', 'gone@x.example', 'create')] },
      run,
    );
    expect(parseMarker(body)).toEqual({
      kind: 'drift',
      attrs: { tenant: 'acme', fingerprint: d.fingerprint },
    });
    expect(body).toContain(
      '| blocked sender `live@x.example` | live only (not in YAML) | delete it |',
    );
    expect(body).toContain(
      'changed live (live -> YAML): `reason: "campaign against u@x.example" -> "edited live"`',
    );
    expect(body).toContain('missing live (in YAML)');
    expect(body).toContain('https://github.invalid/run/7');
  });

  it('stays under the limit for huge drift', () => {
    const senders = Array.from(
      { length: 5000 },
      (_, i) => `sender-${i}@very-long-domain-name.example`,
    );
    expect(renderDriftIssueBody(drift('acme', senders), run).length).toBeLessThan(65_536);
  });

  it('renders markdown a reader can act on', () => {
    expect(renderTenantDriftMarkdown('acme', [])).toContain('differs from `main` in 0 place(s)');
  });
});

describe('tenantOfDriftIssue', () => {
  it('prefers the marker and falls back to the title', () => {
    expect(
      tenantOfDriftIssue({
        title: 'renamed by a human',
        body: '<!-- mxpolicy:drift tenant=acme -->',
      }),
    ).toBe('acme');
    expect(tenantOfDriftIssue({ title: 'mxpolicy drift: globex', body: 'edited away' })).toBe(
      'globex',
    );
    expect(tenantOfDriftIssue({ title: 'unrelated', body: null })).toBeUndefined();
  });
});

describe('planDriftIssueActions', () => {
  it('opens an issue for new drift', () => {
    const actions = planDriftIssueActions([], [drift('acme', ['x@y'])], run);
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({
      type: 'create',
      tenant: 'acme',
      title: 'mxpolicy drift: acme',
    });
  });

  it('does nothing while the drift is unchanged', () => {
    const d = drift('acme', ['x@y']);
    expect(planDriftIssueActions([issue(1, d)], [d], { ...run, at: 'later' })).toEqual([]);
  });

  it('updates the open issue when the drift changes', () => {
    const before = drift('acme', ['x@y']);
    const after = drift('acme', ['x@y', 'z@y']);
    const actions = planDriftIssueActions([issue(1, before)], [after], run);
    expect(actions).toEqual([
      expect.objectContaining({
        type: 'update',
        number: 1,
        comment: expect.stringContaining('2 difference(s)') as string,
      }),
    ]);
  });

  it('restores a renamed title without a "drift changed" comment', () => {
    const d = drift('acme', ['x@y']);
    const renamed = { ...issue(1, d), title: 'someone renamed this' };
    const actions = planDriftIssueActions([renamed], [d], run);
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ type: 'update', number: 1, title: 'mxpolicy drift: acme' });
    expect(actions[0]).not.toHaveProperty('comment');
  });

  it('closes the issue with a comment when the drift is gone', () => {
    const actions = planDriftIssueActions(
      [issue(1, drift('acme', ['x@y']))],
      [{ tenant: 'acme', state: 'clean' }],
      run,
    );
    expect(actions).toEqual([
      expect.objectContaining({
        type: 'close',
        number: 1,
        reason: 'completed',
        comment: expect.stringContaining('resolved') as string,
      }),
    ]);
  });

  it('reopens the latest closed issue when the drift returns', () => {
    const d = drift('acme', ['x@y']);
    const actions = planDriftIssueActions([issue(1, d, 'closed'), issue(4, d, 'closed')], [d], run);
    expect(actions).toEqual([expect.objectContaining({ type: 'reopen', number: 4 })]);
  });

  it('leaves issues alone when the tenant could not be read or was not checked', () => {
    const d = drift('acme', ['x@y']);
    const other = drift('globex', ['x@y']);
    const actions = planDriftIssueActions(
      [issue(1, d), issue(2, other)],
      [{ tenant: 'acme', state: 'unknown', reason: 'timeout' }],
      run,
    );
    expect(actions).toEqual([]);
  });

  it('closes duplicate open issues of a tenant as not planned', () => {
    const d = drift('acme', ['x@y']);
    const actions = planDriftIssueActions([issue(3, d), issue(2, d)], [d], run);
    expect(actions).toEqual([
      expect.objectContaining({
        type: 'close',
        number: 3,
        reason: 'not_planned',
        comment: expect.stringContaining('#2') as string,
      }),
    ]);
  });

  it('closes issues of tenants gone from the policies only when every tenant was checked', () => {
    const gone = drift('initech', ['x@y']);
    const existing = [issue(5, gone), issue(6, drift('acme', ['x@y']), 'closed')];
    const checked: TenantDrift[] = [{ tenant: 'acme', state: 'clean' }];
    expect(planDriftIssueActions(existing, checked, run)).toEqual([]);
    expect(planDriftIssueActions(existing, checked, run, { complete: true })).toEqual([
      expect.objectContaining({
        type: 'close',
        number: 5,
        tenant: 'initech',
        reason: 'not_planned',
        comment: expect.stringContaining('no longer in the policies') as string,
      }),
    ]);
  });

  it('ignores clean tenants without issues and issues it cannot attribute', () => {
    const stray = { number: 9, title: 'not ours', body: 'hello', state: 'open' as const };
    expect(planDriftIssueActions([stray], [{ tenant: 'acme', state: 'clean' }], run)).toEqual([]);
  });
});
