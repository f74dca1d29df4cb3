import { describe, expect, it } from 'vitest';
import type { ApplyReport } from '../plan/types.js';
import { renderApplyRefusal, renderApplyReportComment } from './apply-report.js';
import { parseMarker } from './markers.js';

const sha = '1234567'.padEnd(40, 'a');
const link = {
  sha,
  repoUrl: 'https://github.invalid/o/r',
  runUrl: 'https://github.invalid/o/r/actions/runs/9',
};

function report(tenants: ApplyReport['tenants']): ApplyReport {
  const all = tenants.flatMap((t) => t.results);
  const n = (s: string): number => all.filter((r) => r.status === s).length;
  return {
    formatVersion: 1,
    checksum: 'ab'.repeat(32),
    startedAt: '2026-11-23T10:00:00Z',
    finishedAt: '2026-11-23T10:00:05Z',
    tenants,
    summary: {
      applied: n('applied'),
      failed: n('failed'),
      skipped: n('skipped'),
      pending: n('pending'),
    },
  };
}

describe('renderApplyReportComment', () => {
  it('reports per tenant with the commit, and every failure with its reason', () => {
    const body = renderApplyReportComment(
      report([
        {
          tenant: 'acme',
          status: 'applied',
          results: [{ kind: 'blockedSenders', key: 'x@y', action: 'create', status: 'applied' }],
        },
        {
          tenant: 'globex',
          status: 'partial',
          results: [
            { kind: 'blockedSenders', key: 'x@y', action: 'create', status: 'applied' },
            {
              kind: 'routes',
              key: 'globex.com',
              action: 'update',
              status: 'failed',
              reason: 'HTTP 500 | upstream',
            },
          ],
        },
        { tenant: 'initech', status: 'skipped', results: [], reason: 'blocked by safety gate' },
        { tenant: 'quiet', status: 'unchanged', results: [] },
      ]),
      link,
    );
    expect(parseMarker(body)).toEqual({ kind: 'apply', attrs: { sha, checksum: 'ab'.repeat(32) } });
    expect(body).toContain('[`1234567`](https://github.invalid/o/r/commit/' + sha + ')');
    expect(body).toContain('2 applied, 1 failed, 0 skipped');
    expect(body).toContain('| acme | ✅ applied | 1 | 0 | 0 |  |');
    expect(body).toContain('| globex | ⚠️ partial | 1 | 1 | 0 |  |');
    expect(body).toContain('| initech | ⏭️ skipped | 0 | 0 | 0 | blocked by safety gate |');
    expect(body).not.toContain('| quiet |');
    expect(body).toContain('1 tenant(s) had nothing to change');
    expect(body).toContain('`globex`: failed update route `globex.com` — HTTP 500 \\| upstream');
  });

  it('stays under the limit for thousands of failures', () => {
    const results = Array.from({ length: 4000 }, (_, i) => ({
      kind: 'blockedSenders' as const,
      key: `sender-${i}@example.com`,
      action: 'create' as const,
      status: 'failed' as const,
      reason: 'provider unavailable: connection reset by peer',
    }));
    const body = renderApplyReportComment(
      report([{ tenant: 'acme', status: 'failed', results }]),
      link,
    );
    expect(body.length).toBeLessThan(65_536);
    expect(body).toContain('| acme | ❌ failed | 0 | 4000 | 0 |');
  });
});

describe('renderApplyRefusal', () => {
  it('explains a checksum mismatch and that nothing was applied', () => {
    const body = renderApplyRefusal(
      {
        kind: 'checksum-mismatch',
        reviewed: 'aa'.repeat(32),
        fresh: 'bb'.repeat(32),
        freshSummary: { create: 1, update: 0, delete: 2, tighten: 1, loosen: 2, neutral: 0 },
      },
      link,
    );
    expect(parseMarker(body)).toEqual({ kind: 'apply', attrs: { sha } });
    expect(body).toContain('nothing applied');
    expect(body).toContain('aa'.repeat(32));
    expect(body).toContain('bb'.repeat(32));
    expect(body).toContain('1 to create, 0 to update, 2 to delete');
    expect(body).toContain('Nothing was changed');
  });

  it('reports an apply that stopped with an error without claiming nothing was applied', () => {
    const body = renderApplyRefusal({ kind: 'error', message: 'disk `full`' }, link);
    expect(body).toContain('stopped with an error');
    expect(body).toContain("`disk 'full'`");
    expect(body).not.toContain('nothing applied');
  });

  it('explains a missing plan comment and a missing pull request', () => {
    expect(renderApplyRefusal({ kind: 'no-reviewed-plan' }, link)).toContain(
      'no mxpolicy plan comment',
    );
    expect(renderApplyRefusal({ kind: 'no-pull-request' }, { sha })).toContain(
      'No merged pull request',
    );
  });
});
