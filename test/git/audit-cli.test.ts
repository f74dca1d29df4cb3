import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRow } from '../../src/git/audit-trail.js';
import type { HistoryRecord } from '../../src/git/semantic-history.js';
import {
  buildAuditScenario,
  BOB,
  CAROL,
  DAVE,
  ERIN,
  type AuditScenario,
} from '../support/audit-scenario.js';
import { runCliAt as runCli } from '../support/cli.js';
import { createTempRepo, tenantYaml } from '../support/temp-repo.js';

let s: AuditScenario;
beforeAll(() => {
  s = buildAuditScenario();
});
afterAll(() => {
  s.repo.cleanup();
});

const CI = {
  CI: 'true',
  GITHUB_ACTIONS: 'false',
  GITHUB_RUN_ID: '4242',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/mail-policies',
};

describe('mxpolicy history', () => {
  it('answers who blocked a sender, when and through which PR', async () => {
    const run = await runCli(s.repo.dir, ['history', '--key', '*@evil-lookalike.example']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('acme-emea  blocked sender  ceo@evil-lookalike.example');
    expect(run.stdout).toMatch(
      /added {2}PR #12 {2}[0-9a-f]{10} {2}proposed by Bob Builder <bob@example.com>, merged by Carol Lead <carol@example.com>/,
    );
    expect(run.stdout).toContain('reason: CEO fraud INC-12');
    expect(run.stdout).toContain('1 change(s) to 1 entry.');
  });

  it('filters by tenant (old names too), kind and date, as JSON', async () => {
    const run = await runCli(s.repo.dir, [
      'history',
      '--tenant',
      'globex',
      '--kind',
      'blockedSenders',
      '--since',
      '2026-01-05T11:30:00Z',
      '--format',
      'json',
    ]);
    const { changes } = JSON.parse(run.stdout) as { changes: HistoryRecord[] };
    // matched on the name it had then; the tenant is globex-corp today
    expect(changes.map((c) => [c.tenant, c.key, c.pr, c.proposedBy, c.mergedBy])).toEqual([
      ['globex-corp', 'phish-kit.example', 34, DAVE, ERIN],
    ]);
  });

  it('writes CSV with a header row', async () => {
    const run = await runCli(s.repo.dir, ['history', '--kind', 'holds', '--format', 'csv']);
    const lines = run.stdout.trim().split('\r\n');
    expect(lines[0]).toMatch(/^date,tenant,tenant_at_commit,kind,key,action,fields,reason,pr,/);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain(',holds,LH-2026-001,changed,released,case settled,45,');
  });

  it('works from a subfolder with --policies relative to it', async () => {
    const run = await runCli(path.join(s.repo.dir, 'policies'), [
      'history',
      '--policies',
      '.',
      '--kind',
      'holds',
      '--format',
      'json',
    ]);
    expect(run.code).toBe(0);
    const { changes } = JSON.parse(run.stdout) as { changes: HistoryRecord[] };
    expect(changes.map((c) => c.action)).toEqual(['added', 'changed']);
  });

  it('explains that history needs a git repository', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mxpolicy-nogit-'));
    try {
      const run = await runCli(dir, ['history']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("history reads the policies' history from git");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an unknown kind', async () => {
    const run = await runCli(s.repo.dir, ['history', '--kind', 'spam']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--kind must be one of blockedSenders');
  });
});

describe('apply receipts and mxpolicy audit', () => {
  it('shows who proposed, who merged, when it was applied, and what was never applied', async () => {
    // apply at PR #12 (receipt on that commit), then nothing more until the end
    s.repo.run(['checkout', '-q', '--detach', s.pr12]);
    const applied = await runCli(s.repo.dir, ['apply'], CI, new Date('2026-01-06T08:00:00Z'));
    expect(applied.stderr).toContain(`apply receipt noted on ${s.pr12.slice(0, 10)}`);
    expect(applied.code).toBe(0);
    s.repo.run(['checkout', '-q', 'main']);

    const run = await runCli(s.repo.dir, ['audit', '--format', 'json']);
    expect(run.code).toBe(0);
    const { summary, changes } = JSON.parse(run.stdout) as {
      summary: { changes: number; unapplied: number };
      changes: AuditRow[];
    };
    const row = (tenant: string, key: string, action = 'added'): AuditRow | undefined =>
      changes.find((c) => c.tenant === tenant && c.key === key && c.action === action);

    expect(row('acme-emea', 'ceo@evil-lookalike.example')).toMatchObject({
      pr: 12,
      proposedBy: BOB,
      mergedBy: CAROL,
      status: 'applied',
      apply: {
        commit: s.pr12,
        action: 'create',
        result: 'applied',
        runner: {
          kind: 'local',
          runId: '4242',
          runUrl: 'https://github.com/acme/mail-policies/actions/runs/4242',
        },
      },
    });
    // the initial commit had no receipt of its own: the apply on PR #12 covered it
    expect(row('globex-corp', 'mailinator.com')).toMatchObject({
      status: 'applied',
      apply: { commit: s.pr12 },
    });
    // merged after the last apply: stands out
    expect(row('acme-emea', 'phish-kit.example')).toMatchObject({
      pr: 34,
      status: 'not-applied',
      attempts: 0,
    });
    expect(row('acme-emea', 'LH-2026-001', 'changed')).toMatchObject({
      pr: 45,
      proposedBy: BOB,
      mergedBy: ERIN,
      status: 'not-applied',
      reason: 'case settled',
    });
    expect(summary.unapplied).toBe(3);

    const md = await runCli(s.repo.dir, ['audit']);
    const [unapplied, all] = md.stdout.split('## All changes');
    expect(unapplied).toContain('## Merged but not applied');
    expect(unapplied).toContain(
      '| acme-emea | hold `LH-2026-001` | released | #45 | Bob Builder <bob@example.com> | Erin Merger <erin@example.com> | **NOT APPLIED** |',
    );
    expect(unapplied).not.toContain('evil-lookalike');
    expect(all).toContain('ceo@evil-lookalike.example');
    expect(all).toContain('](https://github.com/acme/mail-policies/actions/runs/4242) | applied |');
  });

  it('settles everything with an apply at HEAD, and a re-run finds it already live', async () => {
    const first = await runCli(
      s.repo.dir,
      ['apply', '--receipt', '--format', 'json'],
      {},
      new Date('2026-01-07T08:00:00Z'),
    );
    expect(first.code).toBe(0);
    const second = await runCli(
      s.repo.dir,
      ['apply', '--receipt'],
      {},
      new Date('2026-01-07T09:00:00Z'),
    );
    expect(second.code).toBe(0);
    const run = await runCli(s.repo.dir, [
      'audit',
      '--format',
      'csv',
      '--since',
      '2026-01-05T12:30:00Z',
    ]);
    const [header, ...rows] = run.stdout.trim().split('\r\n');
    const status = header!.split(',').indexOf('status');
    // everything merged from PR #34 on, each applied by the first run at HEAD
    expect(rows.map((r) => r.split(',')[status])).toEqual(['applied', 'applied', 'applied']);
    expect(rows.every((r) => r.includes(`,${s.pr45},applied,`))).toBe(true);
    const json = await runCli(s.repo.dir, ['audit', '--format', 'json']);
    const { summary } = JSON.parse(json.stdout) as { summary: { unapplied: number } };
    expect(summary.unapplied).toBe(0);
  });

  it('writes no receipt on a workstation unless asked: a rehearsal is not an apply of record', async () => {
    const before = s.repo.run(['notes', '--ref', 'refs/notes/mxpolicy', 'list']);
    const local = await runCli(s.repo.dir, ['apply']);
    expect(local.code).toBe(0);
    expect(local.stderr).not.toContain('receipt');
    expect(s.repo.run(['notes', '--ref', 'refs/notes/mxpolicy', 'list'])).toBe(before);
  });

  it('writes no receipt with --no-receipt, even in CI; a later run finds the entry already live', async () => {
    s.repo.write(
      'policies/bundles/baseline.yaml',
      s.repo.run(['show', 'HEAD:policies/bundles/baseline.yaml']) +
        '\n  - sender: quiet.example\n    reason: applied without a receipt\n',
    );
    const sha = s.repo.commit('Block quiet.example (#60)');
    const since = s.repo.run(['show', '-s', '--format=%cI', sha]);
    const before = s.repo.run(['notes', '--ref', 'refs/notes/mxpolicy', 'list']);
    const quiet = await runCli(s.repo.dir, ['apply', '--no-receipt'], CI);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain('receipt');
    expect(s.repo.run(['notes', '--ref', 'refs/notes/mxpolicy', 'list'])).toBe(before);

    let audit = await runCli(s.repo.dir, ['audit', '--format', 'json', '--since', since]);
    let rows = (JSON.parse(audit.stdout) as { changes: AuditRow[] }).changes;
    expect(rows.map((r) => [r.tenant, r.key, r.status])).toEqual([
      ['acme-emea', 'quiet.example', 'not-applied'],
      ['globex-corp', 'quiet.example', 'not-applied'],
    ]);

    await runCli(s.repo.dir, ['apply', '--receipt'], {}, new Date('2026-01-08T08:00:00Z'));
    audit = await runCli(s.repo.dir, [
      'audit',
      '--format',
      'json',
      '--tenant',
      'acme-*',
      '--since',
      since,
    ]);
    rows = (JSON.parse(audit.stdout) as { changes: AuditRow[] }).changes;
    expect(rows).toEqual([
      expect.objectContaining({
        tenant: 'acme-emea',
        key: 'quiet.example',
        commit: sha,
        pr: 60,
        status: 'already-live',
        apply: expect.objectContaining({ commit: sha }) as unknown,
      }),
    ]);
  });
});

describe('mxpolicy plan --changed-since', () => {
  it('plans only tenants whose effective state differs from the merge base', async () => {
    const repo = s.repo;
    repo.run(['checkout', '-q', '-b', 'block-more', 'main']);
    repo.write(
      'policies/tenants/acme-emea.yaml',
      repo
        .run(['show', 'HEAD:policies/tenants/acme-emea.yaml'])
        .replace(
          'blockedSenders:\n',
          'blockedSenders:\n  - sender: more-fraud.example\n    reason: "INC-99"\n',
        ) + '\n',
    );
    repo.commit('Block more fraud');
    // main moves on after the branch was cut: not this branch's change
    repo.run(['checkout', '-q', 'main']);
    repo.write(
      'policies/bundles/baseline.yaml',
      repo.run(['show', 'HEAD:policies/bundles/baseline.yaml']) +
        '\n  - sender: later.example\n    reason: later\n',
    );
    repo.commit('Later change on main');
    repo.run(['checkout', '-q', 'block-more']);

    const run = await runCli(repo.dir, ['plan', '--changed-since', 'main', '--format', 'json']);
    expect(run.stderr).toContain('1 of 2 tenant(s) changed: acme-emea');
    const plan = JSON.parse(run.stdout) as {
      tenants: { tenant: string; changes: { key: string }[] }[];
    };
    expect(plan.tenants.map((t) => t.tenant)).toEqual(['acme-emea']);

    // a bundle change fans out to every tenant including the bundle
    repo.write(
      'policies/bundles/baseline.yaml',
      repo.run(['show', 'HEAD:policies/bundles/baseline.yaml']) +
        '\n  - sender: bundle-new.example\n    reason: new\n',
    );
    const fan = await runCli(repo.dir, ['plan', '--changed-since', 'HEAD', '--format', 'json']);
    const fanned = JSON.parse(fan.stdout) as { tenants: { tenant: string }[] };
    expect(fanned.tenants.map((t) => t.tenant)).toEqual(['acme-emea', 'globex-corp']);
    repo.run(['checkout', '-q', '--', '.']);
    repo.run(['checkout', '-q', 'main']);
  });

  it('lets apply take the same selection, so the reviewed checksum matches', async () => {
    const repo = createTempRepo();
    try {
      repo.write('.gitignore', '.mxpolicy/\n');
      repo.write('policies/tenants/a.yaml', tenantYaml({ tenant: 'a' }));
      // b has a change nobody applied yet: outside the selection, it is not in the review
      repo.write(
        'policies/tenants/b.yaml',
        tenantYaml({ tenant: 'b', blockedSenders: [{ sender: 'y.example', reason: 'r' }] }),
      );
      const base = repo.commit('Initial');
      expect((await runCli(repo.dir, ['apply', '--no-receipt', '--tenant', 'a'])).code).toBe(0);
      repo.write(
        'policies/tenants/a.yaml',
        tenantYaml({ tenant: 'a', blockedSenders: [{ sender: 'x.example', reason: 'r' }] }),
      );
      repo.commit('Block x in a');

      const reviewed = await runCli(repo.dir, [
        'plan',
        '--changed-since',
        base,
        '--format',
        'json',
      ]);
      const plan = JSON.parse(reviewed.stdout) as {
        checksum: string;
        tenants: { tenant: string }[];
      };
      expect(plan.tenants.map((t) => t.tenant)).toEqual(['a']);

      const full = await runCli(repo.dir, ['apply', '--checksum', plan.checksum]);
      expect(full.code).toBe(1);
      expect(full.stderr).toContain('Nothing was applied');

      const same = await runCli(repo.dir, [
        'apply',
        '--changed-since',
        base,
        '--checksum',
        plan.checksum,
        '--format',
        'json',
      ]);
      expect(same.code).toBe(0);
      const report = JSON.parse(same.stdout) as { tenants: { tenant: string; status: string }[] };
      expect(report.tenants).toEqual([expect.objectContaining({ tenant: 'a', status: 'applied' })]);
    } finally {
      repo.cleanup();
    }
  });

  it('explains an unknown ref', async () => {
    const run = await runCli(s.repo.dir, ['plan', '--changed-since', 'origin/nope']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("'origin/nope' is not a commit here");
  });
});

describe('apply in GitHub Actions', () => {
  it('fails loudly when the receipt cannot be pushed, saying the changes were applied', async () => {
    const repo = createTempRepo();
    try {
      repo.write('.gitignore', '.mxpolicy/\n');
      repo.write(
        'policies/tenants/acme.yaml',
        tenantYaml({ tenant: 'acme', blockedSenders: [{ sender: 'x.example', reason: 'r' }] }),
      );
      repo.commit('Initial');
      const run = await runCli(repo.dir, ['apply'], { GITHUB_ACTIONS: 'true', GITHUB_RUN_ID: '1' });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        'the changes were applied, but the apply receipt could not be recorded',
      );
      expect(run.stderr).toContain('permissions: contents: write');
      expect(run.stderr).toContain('::error title=apply receipt not recorded::');
      // the receipt is still noted locally
      expect(repo.run(['notes', '--ref', 'refs/notes/mxpolicy', 'list'])).not.toBe('');
    } finally {
      repo.cleanup();
    }
  });

  it('marks a receipt whose policies had uncommitted edits', async () => {
    const repo = createTempRepo();
    try {
      repo.write('.gitignore', '.mxpolicy/\n');
      repo.write('policies/tenants/acme.yaml', tenantYaml({ tenant: 'acme' }));
      const sha = repo.commit('Initial');
      repo.write(
        'policies/tenants/acme.yaml',
        tenantYaml({ tenant: 'acme', blockedSenders: [{ sender: 'x.example', reason: 'r' }] }),
      );
      const run = await runCli(repo.dir, ['apply', '--receipt']);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(
        `policies has uncommitted changes: the receipt on ${sha.slice(0, 10)} says so`,
      );
      const note = JSON.parse(repo.run(['notes', '--ref', 'refs/notes/mxpolicy', 'show', sha])) as {
        uncommittedChanges?: boolean;
      };
      expect(note.uncommittedChanges).toBe(true);
    } finally {
      repo.cleanup();
    }
  });
});
