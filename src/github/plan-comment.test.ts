import { describe, expect, it } from 'vitest';
import { blockChange, makePlan, tenantPlan } from '../../test/github/plan-fixtures.js';
import { findDetailsBlocks } from './fit-body.js';
import { parsePlanChecksum } from './markers.js';
import { buildPlanCommentBody, groupChanges, renderCompactPlanMarkdown } from './plan-comment.js';

/** 300 tenants: one sender blocked everywhere, one distinct delete each, fat details. */
function bigPlan() {
  const tenants = Array.from({ length: 300 }, (_, i) => {
    const t = `tenant-${String(i).padStart(3, '0')}`;
    return tenantPlan(t, [
      blockChange(t, 'ceo@lookalike.example', 'create'),
      blockChange(t, `old-${i}@spam.example`, 'delete'),
      ...Array.from({ length: 20 }, (_, j) => blockChange(t, `s${j}-${i}@bulk.example`, 'create')),
    ]);
  });
  return makePlan(tenants, 'ab'.repeat(32));
}

/** What a full renderer produces: summary, delete list, a big <details> per tenant. */
function fullMarkdown(plan: ReturnType<typeof bigPlan>): string {
  const deletes = plan.tenants.flatMap((t) =>
    t.changes
      .filter((c) => c.action === 'delete')
      .map((c) => `- delete \`${c.key}\` in ${t.tenant}`),
  );
  const details = plan.tenants.map(
    (t) =>
      `<details><summary>${t.tenant}</summary>\n\n${t.changes.map((c) => `- ${c.action} ${c.key} ${'·'.repeat(80)}`).join('\n')}\n\n</details>`,
  );
  return [
    `<!-- mxpolicy:plan checksum=${plan.checksum} -->`,
    '## Plan',
    ...deletes,
    ...details,
  ].join('\n\n');
}

describe('buildPlanCommentBody', () => {
  it('keeps a small plan as it is', () => {
    const plan = makePlan([tenantPlan('acme', [blockChange('acme', 'x@y.example', 'create')])]);
    const md = `<!-- mxpolicy:plan checksum=${plan.checksum} -->\n## Plan\n- create x@y.example`;
    expect(buildPlanCommentBody(plan, md)).toEqual({ body: md, level: 'full', droppedDetails: 0 });
  });

  it('adds the marker when the markdown lacks it (or carries another checksum)', () => {
    const plan = makePlan([], 'cd'.repeat(32));
    const out = buildPlanCommentBody(
      plan,
      '<!-- mxpolicy:plan checksum=' + 'ef'.repeat(32) + ' -->\nx',
      {
        sha: 'abc1234',
      },
    );
    expect(parsePlanChecksum(out.body)).toBe(plan.checksum);
    expect(out.body).toContain('sha=abc1234');
  });

  it('fits a 300-tenant plan under the limit with the summary and every delete', () => {
    const plan = bigPlan();
    const md = fullMarkdown(plan);
    expect(md.length).toBeGreaterThan(65_536);
    const out = buildPlanCommentBody(plan, md, { artifactUrl: 'https://github.invalid/run/1' });
    expect(out.body.length).toBeLessThan(65_536);
    expect(out.level).toBe('details-dropped');
    expect(parsePlanChecksum(out.body)).toBe(plan.checksum);
    for (let i = 0; i < 300; i++) expect(out.body).toContain(`old-${i}@spam.example`);
    expect(out.body).toContain('https://github.invalid/run/1');
    expect(findDetailsBlocks(out.body).length).toBe(300 - out.droppedDetails);
  });

  it('falls back to the compact rendering when the delete list alone is too long', () => {
    const plan = bigPlan();
    const padded = fullMarkdown(plan).replace('## Plan', `## Plan\n${'p'.repeat(70_000)}`);
    const out = buildPlanCommentBody(plan, padded);
    expect(out.level).toBe('compact');
    expect(out.body.length).toBeLessThan(65_536);
    for (let i = 0; i < 300; i++) expect(out.body).toContain(`old-${i}@spam.example`);
  });
});

describe('renderCompactPlanMarkdown', () => {
  it('groups identical changes, lists blocked and failed tenants, and counts per tenant', () => {
    const plan = makePlan([
      tenantPlan('a', [
        blockChange('a', 'x@y.example', 'delete'),
        blockChange('a', 'n@y.example', 'create'),
      ]),
      tenantPlan('b', [blockChange('b', 'x@y.example', 'delete')], 'blocked'),
      tenantPlan('c', [], 'error'),
    ]);
    const md = renderCompactPlanMarkdown(plan);
    expect(md).toContain('1 to create, 0 to update, 2 to delete in 2 of 3 tenant(s)');
    expect(md).toContain('- delete blocked sender `x@y.example` in 2 tenants: a, b');
    expect(md).toContain('- create blocked sender `n@y.example` in `a`');
    expect(md).toContain('**Blocked by a safety gate (1):** b');
    expect(md).toContain('**Errors (1):** c');
    expect(md).toContain('| a | 1 | 0 | 1 | ok |');
  });

  it('stops naming tenants of a delete when that would not fit, but still names the delete', () => {
    const tenants = Array.from({ length: 3000 }, (_, i) =>
      tenantPlan(`tenant-with-a-long-name-${i}`, [
        blockChange(`tenant-with-a-long-name-${i}`, 'x@y.example', 'delete'),
      ]),
    );
    const md = renderCompactPlanMarkdown(makePlan(tenants));
    expect(md.length).toBeLessThan(65_536);
    expect(md).toContain('- delete blocked sender `x@y.example` in 3000 tenants');
  });
});

describe('groupChanges', () => {
  it('groups by action, kind and key in first-seen order', () => {
    const groups = groupChanges([
      blockChange('a', 'x', 'create'),
      blockChange('b', 'x', 'create'),
      blockChange('a', 'x', 'delete'),
    ]);
    expect(groups.map((g) => [g.action, g.key, g.tenants])).toEqual([
      ['create', 'x', ['a', 'b']],
      ['delete', 'x', ['a']],
    ]);
  });
});
