import { describe, expect, it } from 'vitest';
import { upsertApplyComment, upsertComment, upsertPlanComment } from '../../src/github/comments.js';
import { driftFingerprint, DRIFT_LABEL, type TenantDrift } from '../../src/github/drift-issues.js';
import { syncDriftIssues } from '../../src/github/drift-sync.js';
import { renderMarker } from '../../src/github/markers.js';
import { findMergedPullRequest, readReviewedPlan } from '../../src/github/pulls.js';
import type { Logger } from '../../src/providers/provider.js';
import { blockChange } from './plan-fixtures.js';
import { clientFor, fakeGithub } from './helpers.js';

const sum = (c: string): string => c.repeat(64);
const planBody = (checksum: string, text: string): string =>
  `${renderMarker('plan', { checksum })}\n${text}`;

describe('the fake GitHub server', () => {
  it('rejects and records a request that breaks the contract', async () => {
    const gh = await fakeGithub();
    const n = gh.addPull({ title: 'p', headSha: 'a'.repeat(40) });
    const res = await fetch(`${gh.baseUrl}/repos/${gh.owner}/${gh.repo}/issues/${n}/comments`, {
      method: 'POST',
      headers: { authorization: `token ${gh.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'body is required, text is not a field' }),
    });
    expect(res.status).toBe(422);
    expect(gh.violations).toEqual([expect.stringContaining("must have required property 'body'")]);
    gh.violations.length = 0;
  });

  it('refuses requests without the token and paths outside the contract', async () => {
    const gh = await fakeGithub();
    expect((await fetch(`${gh.baseUrl}/repos/${gh.owner}/${gh.repo}`)).status).toBe(401);
    const res = await fetch(`${gh.baseUrl}/user`, {
      headers: { authorization: `token ${gh.token}` },
    });
    expect(res.status).toBe(404);
    expect(gh.violations).toHaveLength(2);
    gh.violations.length = 0;
  });

  it('stops by itself when nobody talks to it', async () => {
    const gh = await fakeGithub({ idleMs: 30 });
    await new Promise((resolve) => setTimeout(resolve, 80));
    await expect(fetch(`${gh.baseUrl}/repos/${gh.owner}/${gh.repo}`)).rejects.toThrow();
  });

  it('rejects bodies over 65,536 characters like GitHub does', async () => {
    const gh = await fakeGithub();
    const n = gh.addPull({ title: 'p', headSha: 'a'.repeat(40) });
    const res = await fetch(`${gh.baseUrl}/repos/${gh.owner}/${gh.repo}/issues/${n}/comments`, {
      method: 'POST',
      headers: { authorization: `token ${gh.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ body: 'x'.repeat(65_537) }),
    });
    expect(res.status).toBe(422);
    expect(gh.comments).toEqual([]);
  });
});

describe('upsertPlanComment', () => {
  it('creates one comment, then updates the same one, and leaves it alone when unchanged', async () => {
    const gh = await fakeGithub();
    const issueNumber = gh.addPull({ title: 'block x', headSha: 'a'.repeat(40) });
    const client = clientFor(gh);
    const target = { owner: gh.owner, repo: gh.repo, issueNumber };
    await client.rest.issues.createComment({ ...target, issue_number: issueNumber, body: 'LGTM' });

    const first = await upsertPlanComment(client, target, planBody(sum('a'), 'plan 1'));
    const second = await upsertPlanComment(client, target, planBody(sum('b'), 'plan 2'));
    const third = await upsertPlanComment(client, target, planBody(sum('b'), 'plan 2'));

    expect([first.action, second.action, third.action]).toEqual([
      'created',
      'updated',
      'unchanged',
    ]);
    expect(second.comment.id).toBe(first.comment.id);
    expect(gh.commentsOn(issueNumber).map((c) => c.body)).toEqual([
      'LGTM',
      planBody(sum('b'), 'plan 2'),
    ]);
  });

  it('finds its comment past the first page and removes duplicates left by concurrent runs', async () => {
    const gh = await fakeGithub();
    const issueNumber = gh.addPull({ title: 'busy', headSha: 'a'.repeat(40) });
    const client = clientFor(gh);
    const target = { owner: gh.owner, repo: gh.repo, issueNumber };
    for (let i = 0; i < 120; i++) gh.seedComment(issueNumber, `chat ${i}`);
    gh.seedComment(issueNumber, planBody(sum('a'), 'one'));
    gh.seedComment(issueNumber, planBody(sum('a'), 'two'));

    const out = await upsertPlanComment(client, target, planBody(sum('c'), 'three'));

    expect(out.action).toBe('updated');
    expect(out.deleted).toHaveLength(1);
    const plans = gh.commentsOn(issueNumber).filter((c) => c.body.includes('mxpolicy:plan'));
    expect(plans.map((c) => c.body)).toEqual([planBody(sum('c'), 'three')]);
    expect(gh.requests.filter((r) => r.operationId === 'issues/list-comments').length).toBe(2);
  });

  it('waits out a secondary rate limit and retries', async () => {
    const gh = await fakeGithub();
    const issueNumber = gh.addPull({ title: 'p', headSha: 'a'.repeat(40) });
    gh.failNext({
      operationId: 'issues/create-comment',
      status: 403,
      headers: { 'retry-after': '1' },
      body: {
        message:
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
        documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
      },
      times: 1,
    });
    const warnings: string[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (m) => warnings.push(m),
    };
    const out = await upsertPlanComment(
      clientFor(gh, logger),
      { owner: gh.owner, repo: gh.repo, issueNumber },
      planBody(sum('a'), 'x'),
    );
    expect(out.action).toBe('created');
    expect(
      gh.requests.filter((r) => r.operationId === 'issues/create-comment').map((r) => r.status),
    ).toEqual([403, 201]);
    expect(warnings).toContain('GitHub secondary rate limit');
    expect(JSON.stringify(gh.requests)).not.toContain(gh.token);
  });

  it('waits out an exhausted primary rate limit until its reset', async () => {
    const gh = await fakeGithub();
    const issueNumber = gh.addPull({ title: 'p', headSha: 'a'.repeat(40) });
    gh.failNext({
      operationId: 'issues/create-comment',
      status: 403,
      headers: {
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000)),
      },
      body: { message: 'API rate limit exceeded for installation ID 1.' },
      times: 1,
    });
    const out = await upsertPlanComment(
      clientFor(gh),
      { owner: gh.owner, repo: gh.repo, issueNumber },
      planBody(sum('a'), 'x'),
    );
    expect(out.action).toBe('created');
    const statuses = gh.requests
      .filter((r) => r.operationId === 'issues/create-comment')
      .map((r) => r.status);
    expect(statuses).toEqual([403, 201]);
  });

  it('gives up after a bounded number of secondary rate limits', async () => {
    const gh = await fakeGithub();
    const issueNumber = gh.addPull({ title: 'p', headSha: 'a'.repeat(40) });
    gh.failNext({
      operationId: 'issues/create-comment',
      status: 403,
      headers: { 'retry-after': '1' },
      body: { message: 'You have exceeded a secondary rate limit.' },
      times: 10,
    });
    await expect(
      upsertPlanComment(
        clientFor(gh),
        { owner: gh.owner, repo: gh.repo, issueNumber },
        planBody(sum('a'), 'x'),
      ),
    ).rejects.toThrow(/secondary rate limit/);
    // The first try and three retries (maxRateLimitRetries defaults to 3).
    expect(gh.requests.filter((r) => r.operationId === 'issues/create-comment')).toHaveLength(4);
    expect(gh.comments).toEqual([]);
  });

  it('refuses a body without the marker or over the limit before calling GitHub', async () => {
    const gh = await fakeGithub();
    const client = clientFor(gh);
    const target = { owner: gh.owner, repo: gh.repo, issueNumber: 1 };
    await expect(upsertPlanComment(client, target, 'no marker')).rejects.toThrow(/plan marker/);
    await expect(upsertComment(client, target, 'x'.repeat(65_536), () => true)).rejects.toThrow(
      /65536/,
    );
    expect(gh.requests).toEqual([]);
  });
});

describe('merged pull request and reviewed plan', () => {
  it('finds the PR merged as a commit and the checksum of its plan comment', async () => {
    const gh = await fakeGithub();
    const other = gh.addPull({ title: 'still open', headSha: 'd'.repeat(40) });
    const n = gh.addPull({ title: 'block x', headSha: 'a'.repeat(40) });
    gh.mergePull(n, 'c'.repeat(40));
    gh.commitPulls.set('c'.repeat(40), [other, n]);
    const client = clientFor(gh);
    await upsertPlanComment(
      client,
      { owner: gh.owner, repo: gh.repo, issueNumber: n },
      planBody(sum('e'), 'x'),
    );

    const pr = await findMergedPullRequest(client, gh, 'c'.repeat(40));
    expect(pr).toMatchObject({
      number: n,
      mergeCommitSha: 'c'.repeat(40),
      headSha: 'a'.repeat(40),
      baseRef: 'main',
    });
    const reviewed = await readReviewedPlan(client, {
      owner: gh.owner,
      repo: gh.repo,
      issueNumber: n,
    });
    expect(reviewed?.checksum).toBe(sum('e'));
  });

  it('never takes a marker in a comment written by a person for the plan comment', async () => {
    const gh = await fakeGithub();
    const n = gh.addPull({ title: 'p', headSha: 'a'.repeat(40) });
    const forged = gh.seedComment(n, planBody(sum('f'), 'trust me'), {
      login: 'mallory',
      type: 'User',
    });
    const client = clientFor(gh);
    const target = { owner: gh.owner, repo: gh.repo, issueNumber: n };
    expect(await readReviewedPlan(client, target)).toBeUndefined();
    const out = await upsertPlanComment(client, target, planBody(sum('a'), 'real'));
    expect(out.action).toBe('created');
    expect(gh.commentsOn(n).find((c) => c.id === forged.id)?.body).toBe(
      planBody(sum('f'), 'trust me'),
    );
    expect((await readReviewedPlan(client, target))?.checksum).toBe(sum('a'));
  });

  it('trusts only the expected account: another bot or app copying the marker is ignored', async () => {
    const gh = await fakeGithub();
    const n = gh.addPull({ title: 'p', headSha: 'a'.repeat(40) });
    const forged = gh.seedComment(n, planBody(sum('f'), 'from another app'), {
      login: 'helpful-app[bot]',
      type: 'Bot',
    });
    const client = clientFor(gh);
    const target = { owner: gh.owner, repo: gh.repo, issueNumber: n };
    expect(await readReviewedPlan(client, target)).toBeUndefined();
    // The sticky comment is ours alone: the other bot's comment is neither updated nor deleted.
    await upsertPlanComment(client, target, planBody(sum('a'), 'real'));
    expect(gh.commentsOn(n).find((c) => c.id === forged.id)?.body).toBe(
      planBody(sum('f'), 'from another app'),
    );
    expect((await readReviewedPlan(client, target))?.checksum).toBe(sum('a'));
    // A configured app identity: github-actions[bot]'s comment no longer counts, the app's does.
    expect((await readReviewedPlan(client, target, 'helpful-app[bot]'))?.checksum).toBe(sum('f'));
    const user = gh.seedComment(n, planBody(sum('b'), 'me'), {
      login: 'mxpolicy-bot',
      type: 'User',
    });
    expect(user.id).toBeGreaterThan(0);
    expect((await readReviewedPlan(client, target, 'mxpolicy-bot'))?.checksum).toBeUndefined();
  });

  it('returns nothing for a direct push and for a PR without a plan comment', async () => {
    const gh = await fakeGithub();
    const client = clientFor(gh);
    expect(await findMergedPullRequest(client, gh, 'f'.repeat(40))).toBeUndefined();
    const n = gh.addPull({ title: 'no plan', headSha: 'a'.repeat(40) });
    expect(
      await readReviewedPlan(client, { owner: gh.owner, repo: gh.repo, issueNumber: n }),
    ).toBeUndefined();
  });

  it('updates the apply report of the same commit instead of adding another', async () => {
    const gh = await fakeGithub();
    const n = gh.addPull({ title: 'p', headSha: 'a'.repeat(40) });
    const client = clientFor(gh);
    const target = { owner: gh.owner, repo: gh.repo, issueNumber: n };
    const sha = 'c'.repeat(40);
    await upsertApplyComment(client, target, `${renderMarker('apply', { sha })}\nfirst`, sha);
    await upsertApplyComment(client, target, `${renderMarker('apply', { sha })}\nrerun`, sha);
    expect(gh.commentsOn(n).map((c) => c.body)).toEqual([
      `${renderMarker('apply', { sha })}\nrerun`,
    ]);
    await expect(upsertApplyComment(client, target, 'no marker', sha)).rejects.toThrow(
      /apply marker/,
    );
  });
});

describe('syncDriftIssues', () => {
  const run = { at: '2026-11-23T12:00:00Z' };
  const drift = (tenant: string, senders: string[]): TenantDrift => {
    const changes = senders.map((s) => blockChange(tenant, s, 'delete'));
    return { tenant, state: 'drift', changes, fingerprint: driftFingerprint(changes) };
  };

  it('opens, updates, closes and reopens one labelled issue per tenant', async () => {
    const gh = await fakeGithub();
    const client = clientFor(gh);
    const sync = (tenants: TenantDrift[]) => syncDriftIssues(client, gh, tenants, run);

    const opened = await sync([drift('acme', ['a@x']), drift('globex', ['g@x'])]);
    expect(opened.map((r) => [r.action, r.tenant])).toEqual([
      ['create', 'acme'],
      ['create', 'globex'],
    ]);
    expect(gh.labels.map((l) => l.name)).toEqual([DRIFT_LABEL]);
    expect(gh.issues.map((i) => [i.title, i.state, i.labels])).toEqual([
      ['mxpolicy drift: acme', 'open', [DRIFT_LABEL]],
      ['mxpolicy drift: globex', 'open', [DRIFT_LABEL]],
    ]);

    expect(await sync([drift('acme', ['a@x']), drift('globex', ['g@x'])])).toEqual([]);

    const changed = await sync([
      drift('acme', ['a@x', 'b@x']),
      { tenant: 'globex', state: 'clean' },
    ]);
    expect(changed.map((r) => [r.action, r.tenant])).toEqual([
      ['update', 'acme'],
      ['close', 'globex'],
    ]);
    expect(gh.issues[0]?.body).toContain('b@x');
    expect(gh.issues[1]).toMatchObject({ state: 'closed', stateReason: 'completed' });
    expect(gh.commentsOn(2).at(-1)?.body).toContain('Drift resolved');

    const back = await sync([drift('acme', ['a@x', 'b@x']), drift('globex', ['g@x'])]);
    expect(back.map((r) => [r.action, r.number])).toEqual([['reopen', 2]]);
    expect(gh.issues[1]).toMatchObject({ state: 'open', stateReason: 'reopened' });
    expect(gh.issues).toHaveLength(2);
  });
});
