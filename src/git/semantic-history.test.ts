import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSchemaValidator } from '../config/schema-compile.js';
import { readBundledSchemas } from '../sources/schemas.js';
import {
  buildAuditScenario,
  BOB,
  CAROL,
  DAVE,
  ERIN,
  type AuditScenario,
} from '../../test/support/audit-scenario.js';
import { ALICE, bundleYaml, createTempRepo, tenantYaml } from '../../test/support/temp-repo.js';
import { parsePullRequestNumber } from './commit-log.js';
import { readSemanticHistory, type HistoryRecord } from './semantic-history.js';

const validator = createSchemaValidator(readBundledSchemas());
let s: AuditScenario;
let history: HistoryRecord[];

beforeAll(async () => {
  s = buildAuditScenario();
  history = await readSemanticHistory(s.repo.git, { policiesDir: 'policies', validator });
});
afterAll(() => {
  s.repo.cleanup();
});

const of = (tenant: string, key: string): HistoryRecord[] =>
  history.filter((r) => r.tenant === tenant && r.key === key);

describe('readSemanticHistory', () => {
  it('records the initial entries of every tenant, bundle entries attributed to the bundle', () => {
    const [added] = of('acme-emea', 'mailinator.com');
    expect(added).toMatchObject({
      action: 'added',
      kind: 'blockedSenders',
      commit: s.initial,
      file: 'policies/bundles/baseline.yaml',
      bundle: 'baseline',
      reason: 'disposable mailbox provider',
      proposedBy: ALICE,
      mergedBy: ALICE,
    });
    expect(added?.pr).toBeUndefined();
    expect(of('acme-emea', 'LH-2026-001')[0]).toMatchObject({ action: 'added', kind: 'holds' });
  });

  it('attributes a --no-ff merged change to the branch author, the merger and the PR', () => {
    expect(of('acme-emea', 'ceo@evil-lookalike.example')).toEqual([
      expect.objectContaining({
        action: 'added',
        commit: s.pr12,
        pr: 12,
        proposedBy: BOB,
        proposalCommit: s.bobCommit,
        mergedBy: CAROL,
        reason: 'CEO fraud INC-12',
        file: 'policies/tenants/acme-emea.yaml',
      }),
    ]);
    expect(history.find((r) => r.key === 'ceo@evil-lookalike.example')?.bundle).toBeUndefined();
  });

  it('fans a squash-merged bundle change out to every tenant that includes the bundle', () => {
    const phish = history.filter((r) => r.key === 'phish-kit.example');
    expect(phish.map((r) => r.tenant).sort()).toEqual(['acme-emea', 'globex-corp']);
    for (const r of phish)
      expect(r).toMatchObject({
        action: 'added',
        commit: s.squash34,
        pr: 34,
        proposedBy: DAVE,
        mergedBy: ERIN,
        bundle: 'baseline',
      });
    expect(phish.find((r) => r.tenant === 'globex-corp')?.tenantAtCommit).toBe('globex');
  });

  it('follows a renamed tenant file instead of removing and re-adding its entries', () => {
    expect(history.filter((r) => r.commit === s.rename40)).toEqual([]);
    expect(history.some((r) => r.tenant === 'globex')).toBe(false);
    expect(of('globex-corp', 'mailinator.com')).toEqual([
      expect.objectContaining({ action: 'added', commit: s.initial, tenantAtCommit: 'globex' }),
    ]);
  });

  it('records a hold release as a change with the release reason, merged in the GitHub UI', () => {
    const hold = of('acme-emea', 'LH-2026-001');
    expect(hold.map((r) => r.action)).toEqual(['added', 'changed']);
    expect(hold[1]).toMatchObject({
      commit: s.pr45,
      pr: 45,
      fields: ['released'],
      reason: 'case settled',
      proposedBy: BOB,
      proposalCommit: s.releaseCommit,
      // committed by GitHub <noreply@github.com>: the merge's author pressed the button
      mergedBy: ERIN,
      after: {
        released: { by: 'legal@acme-emea.example', reason: 'case settled', date: '2026-02-01' },
      },
    });
  });

  it('lists records in main-line order with commit dates', () => {
    const dates = history.map((r) => r.date);
    expect([...dates].sort()).toEqual(dates);
    expect(history.every((r) => !Number.isNaN(Date.parse(r.date)))).toBe(true);
  });

  it('reads a removed tenant as every entry removed', async () => {
    const repo = s.repo;
    repo.run(['checkout', '-q', '-b', 'offboard']);
    repo.remove('policies/tenants/globex-corp.yaml');
    const sha = repo.commit('Offboard globex-corp (#50)');
    const after = await readSemanticHistory(repo.git, { policiesDir: 'policies', validator });
    repo.run(['checkout', '-q', 'main']);
    const removed = after.filter((r) => r.commit === sha);
    expect(removed.map((r) => `${r.tenant} ${r.key} ${r.action}`).sort()).toEqual([
      'globex-corp mailinator.com removed',
      'globex-corp phish-kit.example removed',
    ]);
  });
});

describe('parsePullRequestNumber', () => {
  it.each([
    ['Merge pull request #123 from acme/branch', 123],
    ['Block sender (#77)', 77],
    ['Block sender (#77) ', 77],
    ['Fix #12 typo', undefined],
    ['Merge branch main into x', undefined],
  ])('%s -> %s', (subject, pr) => {
    expect(parsePullRequestNumber(subject)).toBe(pr);
  });
});

describe('readSemanticHistory, more shapes', () => {
  it('attributes each entry of a multi-author branch to the author who touched its file', async () => {
    const repo = createTempRepo();
    try {
      repo.write('policies/bundles/baseline.yaml', bundleYaml('baseline', []));
      repo.write('policies/tenants/a.yaml', tenantYaml({ tenant: 'a' }));
      repo.write('policies/tenants/b.yaml', tenantYaml({ tenant: 'b' }));
      repo.commit('Initial');
      repo.run(['checkout', '-q', '-b', 'both']);
      repo.write(
        'policies/tenants/a.yaml',
        tenantYaml({ tenant: 'a', blockedSenders: [{ sender: 'x.example', reason: 'r' }] }),
      );
      const bob = repo.commit('a', { author: BOB });
      repo.write(
        'policies/tenants/b.yaml',
        tenantYaml({ tenant: 'b', blockedSenders: [{ sender: 'y.example', reason: 'r' }] }),
      );
      const dave = repo.commit('b', { author: DAVE });
      // the branch catches up with main in between: that merge is not the branch's own work
      repo.run(['checkout', '-q', 'main']);
      repo.write('README.md', 'x\n');
      repo.commit('docs');
      repo.run(['checkout', '-q', 'both']);
      repo.run(['merge', '-q', '--no-edit', 'main']);
      repo.run(['checkout', '-q', 'main']);
      const merge = repo.merge('both', 'Merge pull request #7 from acme/both', { author: CAROL });
      const history = await readSemanticHistory(repo.git, { policiesDir: 'policies', validator });
      const merged = history.filter((r) => r.commit === merge);
      expect(
        merged.map((r) => [r.tenant, r.key, r.proposedBy, r.proposalCommit, r.mergedBy, r.pr]),
      ).toEqual([
        ['a', 'x.example', BOB, bob, CAROL, 7],
        ['b', 'y.example', DAVE, dave, CAROL, 7],
      ]);
    } finally {
      repo.cleanup();
    }
  });

  it('credits each entry to the branch commit that made it, even in one shared file', async () => {
    const repo = createTempRepo();
    try {
      const x = { sender: 'x.example', reason: 'r' };
      const y = { sender: 'y.example', reason: 'r' };
      repo.write('policies/tenants/a.yaml', tenantYaml({ tenant: 'a' }));
      repo.commit('Initial');
      repo.run(['checkout', '-q', '-b', 'pair']);
      repo.write('policies/tenants/a.yaml', tenantYaml({ tenant: 'a', blockedSenders: [x] }));
      const bob = repo.commit('block x', { author: BOB });
      repo.write('policies/tenants/a.yaml', tenantYaml({ tenant: 'a', blockedSenders: [x, y] }));
      const dave = repo.commit('block y too', { author: DAVE });
      // a reviewer's fixup that only touches the file's layout is nobody's entry change
      repo.write(
        'policies/tenants/a.yaml',
        '# reviewed\n' + tenantYaml({ tenant: 'a', blockedSenders: [x, y] }),
      );
      repo.commit('comment', { author: CAROL });
      repo.run(['checkout', '-q', 'main']);
      repo.merge('pair', 'Merge pull request #8 from acme/pair', { author: ERIN });
      const history = await readSemanticHistory(repo.git, { policiesDir: 'policies', validator });
      expect(history.map((r) => [r.key, r.proposedBy, r.proposalCommit, r.mergedBy])).toEqual([
        ['x.example', BOB, bob, ERIN],
        ['y.example', DAVE, dave, ERIN],
      ]);
    } finally {
      repo.cleanup();
    }
  });

  it('keeps the last good reading of a file that does not parse, and follows include changes', async () => {
    const repo = createTempRepo();
    try {
      repo.write(
        'policies/bundles/baseline.yaml',
        bundleYaml('baseline', [{ sender: 'spam.example', reason: 'spam' }]),
      );
      repo.write(
        'policies/tenants/a.yaml',
        tenantYaml({ tenant: 'a', blockedSenders: [{ sender: 'x.example', reason: 'r' }] }),
      );
      repo.commit('Initial');
      repo.write('policies/tenants/a.yaml', 'tenant: a\nblockedSenders: [\n');
      const broken = repo.commit('Broken YAML');
      repo.write(
        'policies/tenants/a.yaml',
        tenantYaml({
          tenant: 'a',
          include: ['baseline'],
          blockedSenders: [{ sender: 'x.example', reason: 'r' }],
        }),
      );
      const include = repo.commit('Include the baseline (#3)');
      const history = await readSemanticHistory(repo.git, { policiesDir: 'policies', validator });
      expect(history.filter((r) => r.commit === broken)).toEqual([]);
      expect(
        history.filter((r) => r.commit === include).map((r) => [r.key, r.action, r.bundle]),
      ).toEqual([['spam.example', 'added', 'baseline']]);
    } finally {
      repo.cleanup();
    }
  });

  it('reads an empty history from a repository without policies', async () => {
    const repo = createTempRepo();
    try {
      repo.write('README.md', 'nothing here\n');
      repo.commit('docs');
      expect(await readSemanticHistory(repo.git, { policiesDir: 'policies', validator })).toEqual(
        [],
      );
    } finally {
      repo.cleanup();
    }
  });
});

describe('readSemanticHistory, tenant lineages', () => {
  it('tells a renamed tenant from a new tenant later created under its old file name', async () => {
    const repo = createTempRepo();
    try {
      const block = (sender: string) => [{ sender, reason: 'r' }];
      repo.write(
        'policies/tenants/a.yaml',
        tenantYaml({ tenant: 'a', blockedSenders: block('old.example') }),
      );
      repo.commit('Initial');
      repo.run(['mv', 'policies/tenants/a.yaml', 'policies/tenants/b.yaml']);
      repo.write(
        'policies/tenants/b.yaml',
        tenantYaml({ tenant: 'b', blockedSenders: block('old.example') }),
      );
      repo.commit('Rename a to b');
      repo.write(
        'policies/tenants/a.yaml',
        tenantYaml({ tenant: 'a', blockedSenders: block('new.example') }),
      );
      repo.commit('A new tenant a');
      repo.remove('policies/tenants/b.yaml');
      const offboard = repo.commit('Offboard b');
      const history = await readSemanticHistory(repo.git, { policiesDir: 'policies', validator });
      expect(history.map((r) => [r.tenant, r.tenantAtCommit, r.key, r.action])).toEqual([
        ['b', 'a', 'old.example', 'added'],
        ['a', 'a', 'new.example', 'added'],
        ['b', 'b', 'old.example', 'removed'],
      ]);
      expect(history[2]?.commit).toBe(offboard);
    } finally {
      repo.cleanup();
    }
  });
});
