import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApplyReport } from '../plan/types.js';
import { createTempRepo, tenantYaml, type TempRepo } from '../../test/support/temp-repo.js';
import {
  RECEIPTS_REF,
  parseReceiptNote,
  pushApplyReceipts,
  readApplyReceipts,
  runnerFromEnv,
  tokenAuthEnv,
  writeApplyReceipt,
} from './apply-receipts.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function repoWithCommit(): { repo: TempRepo; sha: string } {
  const repo = createTempRepo();
  cleanups.push(() => {
    repo.cleanup();
  });
  repo.write('policies/tenants/acme.yaml', tenantYaml({ tenant: 'acme' }));
  return { repo, sha: repo.commit('Initial policies') };
}

function report(overrides: Partial<ApplyReport> = {}): ApplyReport {
  return {
    formatVersion: 1,
    checksum: 'sha256:abc',
    startedAt: '2026-01-05T10:00:00.000Z',
    finishedAt: '2026-01-05T10:00:04.000Z',
    tenants: [
      {
        tenant: 'acme',
        status: 'partial',
        results: [
          { kind: 'blockedSenders', key: 'evil.example', action: 'create', status: 'applied' },
          {
            kind: 'holds',
            key: 'LH-1',
            action: 'update',
            status: 'failed',
            reason: 'HTTP 503 from Graph after 3 attempts',
          },
        ],
      },
    ],
    summary: { applied: 1, failed: 1, skipped: 0, pending: 0 },
    ...overrides,
  };
}

const CI_ENV = {
  GITHUB_ACTIONS: 'true',
  GITHUB_RUN_ID: '987654',
  GITHUB_RUN_ATTEMPT: '2',
  GITHUB_WORKFLOW: 'apply',
  GITHUB_ACTOR: 'carol',
  RUNNER_NAME: 'GitHub Actions 12',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/mail-policies',
  GITHUB_TOKEN: 'ghs_secret',
};

describe('apply receipts', () => {
  it('writes a receipt as a git note under refs/notes/mxpolicy and reads it back', async () => {
    const { repo, sha } = repoWithCommit();
    const written = await writeApplyReceipt(repo.git, 'HEAD', report(), runnerFromEnv(CI_ENV));
    expect(written.commit).toBe(sha);
    expect(repo.run(['notes', '--ref', RECEIPTS_REF, 'list'])).toContain(sha);
    const { receipts, problems } = await readApplyReceipts(repo.git);
    expect(problems).toEqual([]);
    expect(receipts).toEqual([written]);
    expect(receipts[0]).toMatchObject({
      commit: sha,
      checksum: 'sha256:abc',
      runner: {
        kind: 'github-actions',
        runId: '987654',
        runUrl: 'https://github.com/acme/mail-policies/actions/runs/987654',
        runnerName: 'GitHub Actions 12',
      },
    });
    expect(receipts[0]?.tenants[0]?.results[1]).toMatchObject({
      status: 'failed',
      reason: 'HTTP 503 from Graph after 3 attempts',
    });
    // the receipt never carries secrets from the environment
    expect(JSON.stringify(receipts)).not.toContain('ghs_secret');
  });

  it('appends when apply runs again on the same commit', async () => {
    const { repo, sha } = repoWithCommit();
    await writeApplyReceipt(repo.git, sha, report(), runnerFromEnv({}));
    await writeApplyReceipt(
      repo.git,
      sha,
      report({ startedAt: '2026-01-05T11:00:00.000Z', finishedAt: '2026-01-05T11:00:01.000Z' }),
      runnerFromEnv({ USER: 'dave' }),
    );
    const { receipts } = await readApplyReceipts(repo.git);
    expect(receipts.map((r) => [r.startedAt, r.runner.kind, r.runner.user])).toEqual([
      ['2026-01-05T10:00:00.000Z', 'local', undefined],
      ['2026-01-05T11:00:00.000Z', 'local', 'dave'],
    ]);
  });

  it('reads nothing from a repository without receipts', async () => {
    const { repo } = repoWithCommit();
    expect(await readApplyReceipts(repo.git)).toEqual({ receipts: [], problems: [] });
  });

  it('pushes receipts and unions them with receipts another runner pushed meanwhile', async () => {
    const bare = mkdtempSync(path.join(tmpdir(), 'mxpolicy-remote-'));
    cleanups.push(() => {
      rmSync(bare, { recursive: true, force: true });
    });
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
    const { repo: first, sha } = repoWithCommit();
    first.run(['remote', 'add', 'origin', bare]);
    first.run(['push', '-q', 'origin', 'main']);
    const secondDir = mkdtempSync(path.join(tmpdir(), 'mxpolicy-clone-'));
    cleanups.push(() => {
      rmSync(secondDir, { recursive: true, force: true });
    });
    execFileSync('git', ['clone', '-q', bare, secondDir]);
    // a CI checkout: no identity configured anywhere (no global config either)
    const second = simpleGit(secondDir).env({
      PATH: process.env['PATH'] ?? '',
      HOME: secondDir,
      XDG_CONFIG_HOME: secondDir,
      GIT_CONFIG_NOSYSTEM: '1',
    });
    expect((await second.getConfig('user.email')).value).toBeNull();

    await writeApplyReceipt(first.git, sha, report(), runnerFromEnv({}));
    // with a token (as in Actions with persist-credentials: false) git runs with it in its
    // environment; the file remote ignores the header
    await pushApplyReceipts(first.git, { token: 'ghs_secret' });
    await writeApplyReceipt(
      second,
      sha,
      report({ startedAt: '2026-01-06T08:00:00.000Z', checksum: 'sha256:def' }),
      runnerFromEnv(CI_ENV),
    );
    await pushApplyReceipts(second);

    const third = mkdtempSync(path.join(tmpdir(), 'mxpolicy-clone-'));
    cleanups.push(() => {
      rmSync(third, { recursive: true, force: true });
    });
    execFileSync('git', ['clone', '-q', bare, third]);
    const auditor = simpleGit(third);
    await auditor.raw(['fetch', '-q', 'origin', `${RECEIPTS_REF}:${RECEIPTS_REF}`]);
    const { receipts } = await readApplyReceipts(auditor);
    expect(receipts.map((r) => r.checksum)).toEqual(['sha256:abc', 'sha256:def']);
    expect(receipts.every((r) => r.commit === sha)).toBe(true);
  });

  it('gives git a token through its environment, after configuration already there', () => {
    expect(tokenAuthEnv('t0k', 'https://ghe.example/', { GIT_CONFIG_COUNT: '2' })).toEqual({
      GIT_CONFIG_COUNT: '3',
      GIT_CONFIG_KEY_2: 'http.https://ghe.example/.extraheader',
      GIT_CONFIG_VALUE_2: `AUTHORIZATION: basic ${Buffer.from('x-access-token:t0k').toString('base64')}`,
      GIT_TERMINAL_PROMPT: '0',
    });
    expect(tokenAuthEnv('t', 'https://github.com', {})['GIT_CONFIG_KEY_0']).toBe(
      'http.https://github.com/.extraheader',
    );
  });

  it('reports note lines that are not receipts instead of failing', () => {
    const parsed = parseReceiptNote(
      `not json\n\n{"hello":1}\n${JSON.stringify({ ...report(), commit: 'x', runner: { kind: 'local' } })}\n`,
      'c0ffee',
    );
    expect(parsed.receipts).toHaveLength(1);
    expect(parsed.receipts[0]?.commit).toBe('c0ffee');
    expect(parsed.problems).toEqual([
      'note on c0ffee, line 1: not JSON',
      'note on c0ffee, line 3: not an mxpolicy receipt',
    ]);
  });
});
