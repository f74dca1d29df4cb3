import { execFileSync } from 'node:child_process';
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeGithub, scratchDir } from '../github/helpers.js';
import type { FakeGithub } from '../fakes/github/server.js';
import { REPO_ROOT, runCli } from '../support/cli.js';

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], {
    cwd: dir,
    encoding: 'utf8',
  }).trim();
}

/** A bare `origin` and a clone with the example policies on main, as actions/checkout leaves it. */
async function cloneWithOrigin(): Promise<{ clone: string; origin: string }> {
  const origin = await scratchDir('mxpolicy-origin-');
  git(origin, 'init', '-q', '--bare', '-b', 'main');
  const clone = await scratchDir('mxpolicy-clone-');
  git(clone, 'init', '-q', '-b', 'main');
  await cp(path.join(REPO_ROOT, 'policies'), path.join(clone, 'policies'), { recursive: true });
  git(clone, 'add', '-A');
  git(clone, 'commit', '-qm', 'policies');
  git(clone, 'remote', 'add', 'origin', origin);
  git(clone, 'push', '-q', 'origin', 'main');
  return { clone, origin };
}

const envFor = (gh: FakeGithub): Record<string, string> => ({
  GITHUB_ACTIONS: 'true',
  GITHUB_REPOSITORY: `${gh.owner}/${gh.repo}`,
  GITHUB_TOKEN: gh.token,
  GITHUB_API_URL: gh.baseUrl,
  GITHUB_SERVER_URL: 'https://github.invalid',
  GITHUB_ACTOR: 'soar-bot',
  MXPOLICY_GITHUB_PACING_MS: '0',
  GIT_AUTHOR_NAME: 'mxpolicy-test',
  GIT_AUTHOR_EMAIL: 'test@mxpolicy.invalid',
  GIT_COMMITTER_NAME: 'mxpolicy-test',
  GIT_COMMITTER_EMAIL: 'test@mxpolicy.invalid',
});

const ops = (gh: FakeGithub): string[] =>
  gh.requests.map((r) => `${r.operationId ?? r.path} ${r.status}`);

describe('mxpolicy propose --github', () => {
  it('pushes a branch named after the intent and opens one labelled PR; a repeat updates it', async () => {
    const { clone, origin } = await cloneWithOrigin();
    const gh = await fakeGithub({ gitRemote: origin });
    const args = [
      'propose',
      'block',
      'evil.example',
      '--bundle',
      'baseline',
      '--reason',
      'EDR alert 77',
      '--ticket',
      'INC-77',
      '--github',
      '--requested-by',
      'xsoar-playbook',
    ];
    const first = await runCli(args, { cwd: clone, env: { ...process.env, ...envFor(gh) } });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /opened pull request #1: https:\/\/github.invalid\/Codertocat\/Hello-World\/pull\/1/,
    );

    const branch = 'mxpolicy/block-evil.example-bundle-baseline';
    const pushed = git(origin, 'rev-parse', `refs/heads/${branch}`);
    // The commit changes the bundle only, and says why and who asked.
    expect(git(origin, 'diff', '--name-only', 'main', branch)).toBe(
      'policies/bundles/baseline.yaml',
    );
    expect(git(origin, 'log', '-1', '--format=%B', branch)).toContain(
      'Requested-by: xsoar-playbook',
    );
    // The clone is back on main, untouched.
    expect(git(clone, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(git(clone, 'status', '--porcelain')).toBe('');

    const pull = gh.issues.find((i) => i.number === 1)!;
    expect(pull.pull).toMatchObject({ headRef: branch, baseRef: 'main', headSha: pushed });
    expect(pull.title).toBe('mxpolicy: block evil.example in bundle baseline');
    expect(pull.labels).toEqual(['mxpolicy-propose']);
    expect(pull.body).toContain('**Reason:** EDR alert 77');
    expect(pull.body).toContain('+ block `evil.example` in 3 tenants');
    // The reviewed plan, with its checksum, is the sticky plan comment apply --github reads.
    const [comment, ...others] = gh.commentsOn(1);
    expect(others).toEqual([]);
    expect(comment?.body).toMatch(/^<!-- mxpolicy:plan checksum=[0-9a-f]{64} tenants=\S+ -->/);
    expect(ops(gh)).toEqual([
      'pulls/list 200',
      'pulls/create 201',
      'issues/add-labels 200',
      'issues/list-comments 200',
      'issues/create-comment 201',
    ]);

    const second = await runCli(
      [...args.slice(0, 5), '--reason', 'EDR alert 77 (again)', '--github'],
      {
        cwd: clone,
        env: { ...process.env, ...envFor(gh) },
      },
    );
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('updated pull request #1');
    expect(gh.issues.filter((i) => i.pull !== undefined)).toHaveLength(1);
    expect(gh.issues[0]?.body).toContain('EDR alert 77 (again)');
    expect(ops(gh).slice(5)).toEqual([
      'pulls/list 200',
      'issues/update 200',
      'issues/add-labels 200',
      'issues/list-comments 200',
      'issues/update-comment 200',
    ]);
    expect(gh.commentsOn(1)).toHaveLength(1);
  });

  it('--auto-merge asks GitHub to merge a plan that only tightens', async () => {
    const { clone, origin } = await cloneWithOrigin();
    const gh = await fakeGithub({ gitRemote: origin });
    // Make live match main first, so the plan holds only what the proposal adds.
    expect((await runCli(['apply'], { cwd: clone })).code).toBe(0);
    const r = await runCli(
      [
        'propose',
        'block',
        'evil.example',
        '--bundle',
        'baseline',
        '--reason',
        'r',
        '--github',
        '--auto-merge',
      ],
      { cwd: clone, env: { ...process.env, ...envFor(gh) } },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('auto-merge enabled');
    const pull = gh.issues[0]!;
    expect(pull.pull?.autoMerge?.mergeMethod).toBe('SQUASH');
    expect(pull.labels).toEqual(['mxpolicy-propose']);
    expect(ops(gh).at(-1)).toBe('graphql/enablePullRequestAutoMerge 200');
  });

  it('--auto-merge on a loosening plan labels needs-review and says why, never asks to merge', async () => {
    const { clone, origin } = await cloneWithOrigin();
    const gh = await fakeGithub({ gitRemote: origin });
    expect((await runCli(['apply'], { cwd: clone })).code).toBe(0);
    const r = await runCli(
      ['propose', 'unblock', 'mailinator.com', '--bundle', 'baseline', '--github', '--auto-merge'],
      { cwd: clone, env: { ...process.env, ...envFor(gh) } },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /Not merged automatically: the plan loosens \(3\): acme-americas: delete blockedSenders mailinator.com/,
    );
    const pull = gh.issues[0]!;
    expect(pull.labels).toEqual(['mxpolicy-propose', 'needs-review']);
    expect(pull.body).toContain('Not merged automatically');
    expect(pull.pull?.autoMerge).toBeUndefined();
    expect(gh.requests.some((q) => q.path === '/graphql')).toBe(false);
  });

  it('when GitHub refuses auto-merge, labels needs-review and warns', async () => {
    const { clone, origin } = await cloneWithOrigin();
    const gh = await fakeGithub({ gitRemote: origin, autoMergeAllowed: false });
    expect((await runCli(['apply'], { cwd: clone })).code).toBe(0);
    const r = await runCli(
      [
        'propose',
        'block',
        'evil.example',
        '--bundle',
        'baseline',
        '--reason',
        'r',
        '--github',
        '--auto-merge',
      ],
      { cwd: clone, env: { ...process.env, ...envFor(gh) } },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('GitHub refused auto-merge');
    expect(r.stderr).toContain('Auto merge is not allowed for this repository');
    expect(gh.issues[0]?.labels).toEqual(['mxpolicy-propose', 'needs-review']);
  });

  it('proposing what main already has opens nothing', async () => {
    const { clone, origin } = await cloneWithOrigin();
    const gh = await fakeGithub({ gitRemote: origin });
    const r = await runCli(
      ['propose', 'block', 'mailinator.com', '--bundle', 'baseline', '--reason', 'r', '--github'],
      { cwd: clone, env: { ...process.env, ...envFor(gh) } },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Nothing to change/);
    expect(gh.requests).toEqual([]);
    expect(git(origin, 'branch', '--list')).toBe('* main');
  });
});

describe('mxpolicy propose --from-event (the SOAR trigger)', () => {
  async function run(gh: FakeGithub, clone: string, name: string, payload: object) {
    const dir = await scratchDir('mxpolicy-event-');
    const file = path.join(dir, 'event.json');
    await writeFile(file, JSON.stringify(payload));
    return runCli(['propose', '--from-event', '--github', '--events', '-'], {
      cwd: clone,
      env: { ...process.env, ...envFor(gh), GITHUB_EVENT_NAME: name, GITHUB_EVENT_PATH: file },
    });
  }

  it('a repository_dispatch mxpolicy-block opens the PR with auto-merge', async () => {
    const { clone, origin } = await cloneWithOrigin();
    const gh = await fakeGithub({ gitRemote: origin });
    expect((await runCli(['apply'], { cwd: clone })).code).toBe(0);
    const r = await run(gh, clone, 'repository_dispatch', {
      action: 'mxpolicy-block',
      client_payload: {
        sender: 'evil.example',
        bundle: 'baseline',
        reason: 'EDR alert 4711',
        ticket: 'INC-4711',
        requested_by: 'xsoar',
        auto_merge: true,
      },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(gh.issues[0]?.pull?.autoMerge?.mergeMethod).toBe('SQUASH');
    const event = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as {
      user: { name: string };
      mxpolicy: { pr: number; effect: string };
    };
    expect(event.user.name).toBe('xsoar');
    expect(event.mxpolicy).toMatchObject({ pr: 1, effect: 'tighten' });
  });

  it('a workflow_dispatch with string inputs is the same request', async () => {
    const { clone, origin } = await cloneWithOrigin();
    const gh = await fakeGithub({ gitRemote: origin });
    const r = await run(gh, clone, 'workflow_dispatch', {
      inputs: {
        intent: 'hold',
        subject: 'LH-2026-200',
        tenants: 'acme-emea, globex',
        matter: 'Roe v. ACME',
        custodians: 'legal@acme.eu',
        bundle: '',
        reason: '',
        'auto-merge': 'false',
      },
      ref: 'refs/heads/main',
    });
    expect(r.code).toBe(0);
    expect(gh.issues[0]?.title).toBe('mxpolicy: hold LH-2026-200 in tenants acme-emea, globex');
  });

  it('refuses unknown fields and bad values, naming each, and changes nothing', async () => {
    const { clone, origin } = await cloneWithOrigin();
    const gh = await fakeGithub({ gitRemote: origin });
    const r = await run(gh, clone, 'repository_dispatch', {
      action: 'mxpolicy-block',
      client_payload: {
        sender: 'evil.example',
        bundle: 'baseline',
        tenants: ['*'],
        expires: 'soon',
        colour: 'red',
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').sort()).toEqual([
      '::error title=mxpolicy propose: request refused::payload.expires: must match format "date"',
      "::error title=mxpolicy propose: request refused::payload: give exactly one of 'bundle' or 'tenants'",
      "::error title=mxpolicy propose: request refused::payload: missing 'reason'",
      "::error title=mxpolicy propose: request refused::payload: unknown field 'colour'",
    ]);
    const wrongType = await run(gh, clone, 'repository_dispatch', {
      action: 'mxpolicy-nuke',
      client_payload: {},
    });
    expect(wrongType.stderr).toContain(
      "event type 'mxpolicy-nuke' is not one of mxpolicy-block, mxpolicy-unblock, mxpolicy-hold",
    );
    expect(gh.requests).toEqual([]);
    expect(git(origin, 'branch', '--list')).toBe('* main');
  });
});
