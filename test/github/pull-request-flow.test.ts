import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMarker, parsePlanChecksum, parseTenantChecksums } from '../../src/github/markers.js';
import { tenantChecksum } from '../../src/plan/build-plan.js';
import { readPlanMarker } from '../../src/plan/render-markdown.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli } from '../support/cli.js';
import { actionsRun, examplePayload } from './actions-env.js';
import { fakeGithub } from './helpers.js';
import {
  policyRepo,
  readLiveSenders,
  tenantYaml,
  writeLiveSenders,
  writeTenant,
} from './policy-repo.js';

const HEAD_1 = '1'.repeat(40);
const HEAD_2 = '2'.repeat(40);
const MERGE = 'e'.repeat(40);

async function readPlan(dir: string): Promise<Plan> {
  return JSON.parse(await readFile(path.join(dir, 'plan.json'), 'utf8')) as Plan;
}

/** The plan workflow's step: JSON plan for the artifact, sticky comment, job summary. */
const PLAN_ARGS = ['plan', '--format', 'json', '--out', 'plan.json', '--github-comment'];

describe('plan on the pull request', () => {
  it('creates the comment when the PR opens and updates the same comment on the next push', async () => {
    const gh = await fakeGithub();
    const opened = examplePayload('pull_request', 'opened');
    const pr = gh.addPull({ number: 2, title: 'Block the CEO lookalike', headSha: HEAD_1 });
    const repo = await policyRepo({
      acme: tenantYaml('acme', ['ceo@lookalike.example']),
      globex: tenantYaml('globex', []),
    });

    const run1 = await actionsRun(gh, { name: 'pull_request', payload: opened, sha: HEAD_1 });
    const first = await runCli(PLAN_ARGS, { cwd: repo, env: run1.env });
    expect(first.stderr).toContain('plan comment created on #2');
    expect(first.code).toBe(0);
    const plan1 = await readPlan(repo);
    const comments1 = gh.commentsOn(pr);
    expect(comments1).toHaveLength(1);
    expect(parsePlanChecksum(comments1[0]!.body)).toBe(plan1.checksum);
    const head = ((opened['pull_request'] as Record<string, unknown>)['head'] as { sha: string })
      .sha;
    expect(comments1[0]!.body).toContain(`Planned for commit \`${head.slice(0, 7)}\``);
    expect(readPlanMarker(comments1[0]!.body)).toBe(plan1.checksum);
    expect(comments1[0]!.body).toContain('ceo@lookalike.example');
    expect(await run1.summary()).toContain('## mxpolicy plan');

    await writeTenant(
      repo,
      'acme',
      tenantYaml('acme', ['ceo@lookalike.example', 'cfo@lookalike.example']),
    );
    const sync = examplePayload('pull_request', 'synchronize');
    const run2 = await actionsRun(gh, { name: 'pull_request', payload: sync, sha: HEAD_2 });
    const second = await runCli(PLAN_ARGS, { cwd: repo, env: run2.env });
    expect(second.stderr).toContain('plan comment updated on #2');
    const plan2 = await readPlan(repo);
    const comments2 = gh.commentsOn(pr);
    expect(comments2).toHaveLength(1);
    expect(comments2[0]!.id).toBe(comments1[0]!.id);
    expect(plan2.checksum).not.toBe(plan1.checksum);
    expect(parsePlanChecksum(comments2[0]!.body)).toBe(plan2.checksum);
    expect(comments2[0]!.body).toContain('cfo@lookalike.example');
    expect(gh.requests.map((r) => r.operationId)).toContain('issues/update-comment');
  });

  it('still comments when a tenant file is invalid, naming the broken tenant', async () => {
    const gh = await fakeGithub();
    const pr = gh.addPull({ number: 2, title: 'Typo', headSha: HEAD_1 });
    const repo = await policyRepo({
      acme: tenantYaml('acme', ['ceo@lookalike.example']),
      globex: tenantYaml('globex', []) + 'blockedSenders:\n  - sender: no-reason@x.example\n',
    });
    const run = await actionsRun(gh, {
      name: 'pull_request',
      payload: examplePayload('pull_request', 'opened'),
      sha: HEAD_1,
    });

    const res = await runCli(PLAN_ARGS, { cwd: repo, env: run.env });

    expect(res.code).toBe(1);
    const [comment] = gh.commentsOn(pr);
    expect(comment!.body).toMatch(/\| globex \| ❌ error \|/);
    expect(comment!.body).toContain('ceo@lookalike.example');
  });

  it('fails loudly, without printing the token, when GitHub refuses the comment', async () => {
    const gh = await fakeGithub();
    gh.addPull({ number: 2, title: 'From a fork', headSha: HEAD_1 });
    gh.failNext({
      operationId: 'issues/create-comment',
      status: 403,
      body: {
        message: 'Resource not accessible by integration',
        documentation_url: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment',
      },
      times: 1,
    });
    const repo = await policyRepo({ acme: tenantYaml('acme', ['ceo@lookalike.example']) });
    const run = await actionsRun(gh, {
      name: 'pull_request',
      payload: examplePayload('pull_request', 'opened'),
      sha: HEAD_1,
    });

    const res = await runCli(PLAN_ARGS, { cwd: repo, env: run.env });

    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Resource not accessible by integration');
    expect(res.stdout + res.stderr).not.toContain(gh.token);
    expect((await readPlan(repo)).summary.create).toBe(1);
  });

  it('keeps a 300-tenant plan in one comment under the limit, listing every delete', async () => {
    const gh = await fakeGithub();
    const pr = gh.addPull({ number: 2, title: 'Baseline refresh', headSha: HEAD_1 });
    const tenants: Record<string, string> = {};
    for (let i = 0; i < 300; i++) {
      const id = `tenant-${String(i).padStart(3, '0')}`;
      tenants[id] = tenantYaml(id, [
        'ceo@lookalike.example',
        ...Array.from({ length: 8 }, (_, j) => `campaign-${j}-${i}@bulk-sender.example`),
      ]);
    }
    const repo = await policyRepo(tenants);
    await Promise.all(
      Object.keys(tenants).map((id, i) =>
        writeLiveSenders(repo, id, [`retired-${i}@old-campaign.example`]),
      ),
    );
    const run = await actionsRun(gh, {
      name: 'pull_request',
      payload: examplePayload('pull_request', 'opened'),
      sha: HEAD_1,
    });

    const res = await runCli(PLAN_ARGS, { cwd: repo, env: run.env });

    expect(res.code).toBe(0);
    const plan = await readPlan(repo);
    expect(plan.summary.delete).toBe(300);
    const [comment, ...more] = gh.commentsOn(pr);
    expect(more).toEqual([]);
    expect(comment!.body.length).toBeLessThan(65_536);
    expect(parsePlanChecksum(comment!.body)).toBe(plan.checksum);
    for (let i = 0; i < 300; i++)
      expect(comment!.body).toContain(`retired-${i}@old-campaign.example`);
    expect(comment!.body).toContain(
      'https://github.invalid/Codertocat/Hello-World/actions/runs/4242',
    );
    expect(comment!.body).toContain('`mxpolicy-plan` artifact');
    expect(res.stderr).toMatch(/shortened: (details-dropped|summary|compact)/);
    // The job summary holds the whole markdown plan.
    expect((await run.summary()).length).toBeGreaterThan(65_536);
  });
});

describe('apply on merge', () => {
  async function reviewedPullRequest() {
    const gh = await fakeGithub();
    const pr = gh.addPull({ number: 2, title: 'Block the CEO lookalike', headSha: HEAD_1 });
    const repo = await policyRepo({
      acme: tenantYaml('acme', ['ceo@lookalike.example']),
      globex: tenantYaml('globex', ['ceo@lookalike.example']),
    });
    const review = await actionsRun(gh, {
      name: 'pull_request',
      payload: examplePayload('pull_request', 'opened'),
      sha: HEAD_1,
    });
    expect((await runCli(PLAN_ARGS, { cwd: repo, env: review.env })).code).toBe(0);
    const reviewed = await readPlan(repo);
    gh.mergePull(pr, MERGE);
    const push = examplePayload('push');
    push['after'] = MERGE;
    push['ref'] = 'refs/heads/main';
    const merge = await actionsRun(gh, { name: 'push', payload: push, sha: MERGE });
    return { gh, pr, repo, reviewed, merge };
  }

  it('applies the reviewed plan when the fresh plan has its checksum, and reports on the PR', async () => {
    const { gh, pr, repo, reviewed, merge } = await reviewedPullRequest();

    const res = await runCli(['apply', '--github'], { cwd: repo, env: merge.env });

    expect(res.stderr).toContain(
      `applying the plan reviewed on #2 (checksum ${reviewed.checksum}, checked tenant by tenant)`,
    );
    expect(res.code).toBe(0);
    expect(await readLiveSenders(repo, 'acme')).toEqual(['ceo@lookalike.example']);
    expect(await readLiveSenders(repo, 'globex')).toEqual(['ceo@lookalike.example']);
    const report = gh.commentsOn(pr).find((c) => parseMarker(c.body)?.kind === 'apply');
    expect(parseMarker(report!.body)?.attrs).toEqual({ sha: MERGE, checksum: reviewed.checksum });
    expect(report!.body).toContain('2 applied, 0 failed, 0 skipped');
    expect(report!.body).toContain('| acme | ✅ applied | 1 | 0 | 0 |');
    expect(report!.body).toContain(`https://github.invalid/Codertocat/Hello-World/commit/${MERGE}`);
    expect(await merge.summary()).toContain('mxpolicy apply');
    // Level-triggered: planning again finds nothing to do.
    const again = await runCli(['plan', '--detailed-exitcode'], { cwd: repo });
    expect(again.code).toBe(0);
  });

  it('applies tenant by tenant: a tenant whose live state moved after review is refused alone, the others applied', async () => {
    const { gh, pr, repo, reviewed, merge } = await reviewedPullRequest();
    const planComment = gh.commentsOn(pr).find((c) => parsePlanChecksum(c.body))!;
    const perTenant = parseTenantChecksums(planComment.body)!;
    expect([...perTenant.keys()].sort()).toEqual(['acme', 'globex']);
    for (const t of reviewed.tenants)
      expect(tenantChecksum(t).startsWith(perTenant.get(t.tenant)!)).toBe(true);
    // Someone blocked a sender by hand on acme's gateway after the review.
    await writeLiveSenders(repo, 'acme', ['hand-added@x.example']);
    const before = await readFile(path.join(repo, '.mxpolicy/sandbox/acme.json'), 'utf8');

    const res = await runCli(['apply', '--github'], { cwd: repo, env: merge.env });

    expect(res.code).toBe(1);
    expect(res.stderr).toContain('checked tenant by tenant');
    expect(res.stderr).toContain('Not applied to acme');
    expect(await readFile(path.join(repo, '.mxpolicy/sandbox/acme.json'), 'utf8')).toBe(before);
    expect(await readLiveSenders(repo, 'globex')).toEqual(['ceo@lookalike.example']);
    const report = gh.commentsOn(pr).find((c) => parseMarker(c.body)?.kind === 'apply');
    expect(report!.body).toContain('Not applied to acme');
    expect(report!.body).toContain('1 applied');
    expect(report!.body).toMatch(/\| globex \| ✅ applied \| 1 \|/);
    expect(report!.body).toContain('acme: the fresh plan has 2 change(s)');
  });

  it('applies nothing and says why when an older plan comment has only the whole checksum and the plan moved', async () => {
    const { gh, pr, repo, reviewed, merge } = await reviewedPullRequest();
    const planComment = gh.commentsOn(pr).find((c) => parsePlanChecksum(c.body))!;
    planComment.body = planComment.body.replace(/ tenants=\S+/, '');
    expect(parseTenantChecksums(planComment.body)).toBeUndefined();
    // Someone blocked a sender by hand on the gateway after the review.
    await writeLiveSenders(repo, 'acme', ['hand-added@x.example']);
    const before = await readFile(path.join(repo, '.mxpolicy/sandbox/acme.json'), 'utf8');

    const res = await runCli(['apply', '--github'], { cwd: repo, env: merge.env });

    expect(res.code).toBe(1);
    expect(res.stderr).toContain('nothing applied');
    expect(await readFile(path.join(repo, '.mxpolicy/sandbox/acme.json'), 'utf8')).toBe(before);
    expect(await readLiveSenders(repo, 'globex')).toEqual([]);
    const refusal = gh.commentsOn(pr).find((c) => parseMarker(c.body)?.kind === 'apply');
    expect(refusal!.body).toContain('nothing applied');
    expect(refusal!.body).toContain(reviewed.checksum);
    expect(refusal!.body).toContain('Nothing was changed');
    expect(refusal!.body).toContain('1 to delete');
    expect(gh.commentsOn(pr).filter((c) => parsePlanChecksum(c.body))).toHaveLength(1);
  });

  it('says on the PR when apply stops with an error', async () => {
    const { gh, pr, repo, merge } = await reviewedPullRequest();

    const res = await runCli(['apply', '--github', '--concurrency', '0'], {
      cwd: repo,
      env: merge.env,
    });

    expect(res.code).toBe(1);
    expect(res.stderr).toContain('--concurrency must be a positive whole number');
    const report = gh.commentsOn(pr).find((c) => parseMarker(c.body)?.kind === 'apply');
    expect(report!.body).toContain('stopped with an error');
    expect(report!.body).toContain('--concurrency must be a positive whole number');
  });

  it('refuses when the merged PR has no plan comment, or no PR contains the commit', async () => {
    const gh = await fakeGithub();
    const repo = await policyRepo({ acme: tenantYaml('acme', ['ceo@lookalike.example']) });
    const pr = gh.addPull({ number: 2, title: 'unreviewed', headSha: HEAD_1 });
    gh.mergePull(pr, MERGE);
    const merged = await actionsRun(gh, {
      name: 'push',
      payload: examplePayload('push'),
      sha: MERGE,
    });
    const noPlan = await runCli(['apply', '--github'], { cwd: repo, env: merged.env });
    expect(noPlan.code).toBe(1);
    expect(gh.commentsOn(pr)[0]!.body).toContain('no mxpolicy plan comment');

    const direct = await actionsRun(gh, {
      name: 'push',
      payload: examplePayload('push'),
      sha: 'd'.repeat(40),
    });
    const noPr = await runCli(['apply', '--github'], { cwd: repo, env: direct.env });
    expect(noPr.code).toBe(1);
    expect(noPr.stderr).toContain('no merged pull request contains');
    expect(await direct.summary()).toContain('No merged pull request contains this commit');
    expect(await readLiveSenders(repo, 'acme')).toEqual([]);
  });
});
