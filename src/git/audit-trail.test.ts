import { describe, expect, it } from 'vitest';
import type { TenantApplyResult } from '../plan/types.js';
import type { ApplyReceipt } from './apply-receipts.js';
import { buildAuditTrail, filterAuditRows, isUnapplied } from './audit-trail.js';
import { renderAuditMarkdown } from './render-audit.js';
import type { HistoryRecord } from './semantic-history.js';

const ALICE = { name: 'Alice', email: 'alice@example.com' };
const MAINLINE = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];

function change(commit: string, over: Partial<HistoryRecord> = {}): HistoryRecord {
  const i = MAINLINE.indexOf(commit);
  return {
    tenant: 'acme',
    tenantAtCommit: 'acme',
    kind: 'blockedSenders',
    key: 'evil.example',
    action: 'added',
    fields: [],
    file: 'policies/tenants/acme.yaml',
    commit,
    date: `2026-01-0${i + 1}T10:00:00Z`,
    subject: `change (#${i + 10})`,
    pr: i + 10,
    proposedBy: ALICE,
    proposedAt: `2026-01-0${i + 1}T09:00:00Z`,
    proposalCommit: commit,
    mergedBy: ALICE,
    ...over,
  };
}

function receipt(commit: string, day: number, tenants: TenantApplyResult[]): ApplyReceipt {
  return {
    formatVersion: 1,
    commit,
    checksum: `sum-${commit}-${day}`,
    startedAt: `2026-01-0${day}T12:00:00Z`,
    finishedAt: `2026-01-0${day}T12:01:00Z`,
    runner: { kind: 'github-actions', runId: String(day) },
    tenants,
    summary: { applied: 0, failed: 0, skipped: 0, pending: 0 },
  };
}

const created = (status: 'applied' | 'failed' | 'skipped', reason?: string): TenantApplyResult => ({
  tenant: 'acme',
  status: status === 'applied' ? 'applied' : 'partial',
  results: [
    {
      kind: 'blockedSenders',
      key: 'evil.example',
      action: 'create',
      status,
      ...(reason !== undefined ? { reason } : {}),
    },
  ],
});

describe('buildAuditTrail', () => {
  it('settles a change with the first later receipt that applied it, counting failed attempts', () => {
    const [row] = buildAuditTrail(
      [change('c1')],
      [
        receipt('c1', 2, [created('failed', 'HTTP 503')]),
        receipt('c3', 4, [created('applied')]),
        receipt('c4', 5, [{ tenant: 'acme', status: 'unchanged', results: [] }]),
      ],
      MAINLINE,
    );
    expect(row).toMatchObject({
      status: 'applied',
      attempts: 2,
      apply: {
        commit: 'c3',
        result: 'applied',
        action: 'create',
        finishedAt: '2026-01-04T12:01:00Z',
      },
    });
  });

  it('reports the last failure when no apply succeeded', () => {
    const [row] = buildAuditTrail(
      [change('c1')],
      [receipt('c2', 3, [created('failed', 'HTTP 503')])],
      MAINLINE,
    );
    expect(row).toMatchObject({ status: 'failed', apply: { reason: 'HTTP 503' } });
    expect(isUnapplied(row!.status)).toBe(true);
  });

  it('uses the tenant-level reason when a whole tenant was skipped', () => {
    const [row] = buildAuditTrail(
      [change('c1')],
      [
        receipt('c1', 2, [
          {
            tenant: 'acme',
            status: 'skipped',
            results: [],
            reason: 'plan blocked: 40 deletes > 25',
          },
        ]),
      ],
      MAINLINE,
    );
    expect(row).toMatchObject({
      status: 'skipped',
      apply: { reason: 'plan blocked: 40 deletes > 25' },
    });
  });

  it('ignores receipts before the change, for other tenants, and off the main line', () => {
    const [row] = buildAuditTrail(
      [change('c2')],
      [
        receipt('c1', 1, [created('applied')]),
        receipt('c3', 3, [{ ...created('applied'), tenant: 'globex' }]),
        receipt('side-branch', 4, [created('applied')]),
      ],
      MAINLINE,
    );
    expect(row).toMatchObject({ status: 'not-applied', attempts: 0 });
    expect(row?.apply).toBeUndefined();
  });

  it('marks a change superseded when the entry changed again before any apply', () => {
    const rows = buildAuditTrail(
      [
        change('c1'),
        change('c2', { action: 'changed', fields: ['reason'] }),
        change('c1', { key: 'other.example' }),
      ],
      [
        receipt('c3', 4, [
          {
            ...created('applied'),
            results: [
              { kind: 'blockedSenders', key: 'evil.example', action: 'update', status: 'applied' },
            ],
          },
        ]),
      ],
      MAINLINE,
    );
    expect(rows.map((r) => [r.key, r.action, r.status])).toEqual([
      ['evil.example', 'added', 'superseded'],
      ['evil.example', 'changed', 'applied'],
      ['other.example', 'added', 'already-live'],
    ]);
  });

  it('carries the uncommitted-edits flag of a local apply', () => {
    const [row] = buildAuditTrail(
      [change('c1')],
      [{ ...receipt('c1', 2, [created('applied')]), uncommittedChanges: true }],
      MAINLINE,
    );
    expect(row?.apply?.uncommittedChanges).toBe(true);
    expect(renderAuditMarkdown([row!])).toContain(
      '2026-01-02 12:01 UTC (with uncommitted edits) | applied |',
    );
  });

  it('matches a receipt written under the name a renamed tenant had then', () => {
    const [row] = buildAuditTrail(
      [change('c1', { tenant: 'acme-corp', tenantAtCommit: 'acme' })],
      [receipt('c1', 2, [created('applied')])],
      MAINLINE,
    );
    expect(row).toMatchObject({ tenant: 'acme-corp', status: 'applied' });
  });
});

describe('filterAuditRows', () => {
  it('filters by tenant glob and merge date', () => {
    const rows = buildAuditTrail(
      [change('c1'), change('c3', { tenant: 'globex', tenantAtCommit: 'globex' })],
      [],
      MAINLINE,
    );
    expect(filterAuditRows(rows, { tenant: ['glob*'] }).map((r) => r.tenant)).toEqual(['globex']);
    expect(
      filterAuditRows(rows, { tenant: [], since: new Date('2026-01-03T00:00:00Z') }).map(
        (r) => r.commit,
      ),
    ).toEqual(['c3']);
  });
});
