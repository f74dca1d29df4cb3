import { describe, expect, it } from 'vitest';
import { blockChange, makePlan, tenantPlan } from '../../test/github/plan-fixtures.js';
import {
  planMarkdownSections,
  readPlanMarker,
  renderPlanMarkdown,
} from '../plan/render-markdown.js';
import type { Plan } from '../plan/types.js';
import { findDetailsBlocks } from './fit-body.js';
import { parsePlanChecksum } from './markers.js';
import { buildPlanCommentBody, groupChanges, renderCompactPlanMarkdown } from './plan-comment.js';

/** `tenants` tenants: one sender blocked everywhere, one distinct delete each, `extra` creates. */
function bigPlan(tenants: number, extra: number, shared = true): Plan {
  return makePlan(
    Array.from({ length: tenants }, (_, i) => {
      const t = `tenant-${String(i).padStart(3, '0')}`;
      return tenantPlan(t, [
        blockChange(t, 'ceo@lookalike.example', 'create'),
        blockChange(t, `old-${i}@spam.example`, 'delete'),
        ...Array.from({ length: extra }, (_, j) =>
          blockChange(t, shared ? `s${j}@bulk.example` : `s${j}-${i}@bulk.example`, 'create'),
        ),
      ]);
    }),
    'ab'.repeat(32),
  );
}

const fit = (plan: Plan, opts = {}) => buildPlanCommentBody(plan, planMarkdownSections(plan), opts);

describe('buildPlanCommentBody', () => {
  it('is the plan markdown itself when it fits', () => {
    const plan = makePlan([tenantPlan('acme', [blockChange('acme', 'x@y.example', 'create')])]);
    expect(fit(plan)).toEqual({ body: renderPlanMarkdown(plan), level: 'full', droppedDetails: 0 });
  });

  it('names the commit when given, keeping the marker the renderers read', () => {
    const plan = makePlan([], 'cd'.repeat(32));
    const out = fit(plan, { sha: 'abc1234'.padEnd(40, '0') });
    expect(parsePlanChecksum(out.body)).toBe(plan.checksum);
    expect(readPlanMarker(out.body)).toBe(plan.checksum);
    expect(out.body).toContain('Planned for commit `abc1234`');
  });

  it('drops trailing details first, keeping the summary and every delete', () => {
    const plan = bigPlan(300, 20);
    expect(renderPlanMarkdown(plan).length).toBeGreaterThan(65_536);
    const out = fit(plan, { artifactUrl: 'https://github.invalid/run/1' });
    expect(out.level).toBe('details-dropped');
    expect(out.body.length).toBeLessThan(65_536);
    expect(parsePlanChecksum(out.body)).toBe(plan.checksum);
    for (let i = 0; i < 300; i++) expect(out.body).toContain(`old-${i}@spam.example`);
    expect(out.body).toContain('in 300 tenants');
    expect(out.body).toContain('https://github.invalid/run/1');
    expect(out.droppedDetails).toBeGreaterThan(0);
    expect(findDetailsBlocks(out.body).length).toBe(300 - out.droppedDetails);
    expect(out.body).toContain(`Details of ${out.droppedDetails} tenant(s) are left out`);
  });

  it('drops the grouped list when distinct changes crowd it out', () => {
    const plan = bigPlan(300, 15, false);
    const out = fit(plan);
    expect(out.level).toBe('summary');
    expect(out.body.length).toBeLessThan(65_536);
    for (let i = 0; i < 300; i++) expect(out.body).toContain(`old-${i}@spam.example`);
    expect(out.body).toContain('Part of the change list and the details are left out');
    expect(out.body).toContain('in 300 tenants');
    expect(out.body).toMatch(/- … and \d+ more/);
    expect(out.body.length).toBeGreaterThan(60_000);
  });

  it('falls back to the compact rendering, then cuts, and never exceeds the limit', () => {
    const many = bigPlan(2000, 0);
    const out = fit(many);
    expect(['compact', 'cut']).toContain(out.level);
    expect(out.body.length).toBeLessThan(65_536);
    expect(parsePlanChecksum(out.body)).toBe(many.checksum);
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
    expect(parsePlanChecksum(md)).toBe(plan.checksum);
    expect(md).toContain('1 to create, 0 to update, 2 to delete in 2 of 3 tenant(s)');
    expect(md).toContain('- delete blocked sender `x@y.example` in 2 tenants: a, b');
    expect(md).toContain('- create blocked sender `n@y.example` in `a`');
    expect(md).toContain('**Blocked by a safety gate (1):** b');
    expect(md).toContain('**Errors (1):** c');
    expect(md).toContain('| a | 1 | 0 | 1 | ok |');
  });

  it('stops naming the tenants of a delete when that would not fit, but still names the delete', () => {
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
