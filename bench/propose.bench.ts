import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startFakeGithub } from '../test/fakes/github/server.js';
import {
  benchData,
  benchDomains,
  bundleDoc,
  shapeFromEnv,
  tenantDoc,
  tenantId,
  tokensEnv,
} from './cloudflare-data.js';
import type { Command } from './cloudflare-emulator-process.js';
import { forkEmulator } from './emulator-harness.js';
import { machine, median, envNumber } from './measure.js';

/**
 * npm run bench:propose — the 3 a.m. path end to end on local fakes: a SOAR trigger
 * (`propose --from-event --github --auto-merge`, as propose.yml runs it) to the change applied
 * in every tenant (`apply --github`, as apply.yml runs it after the merge).
 *
 * Real parts: the built CLI in a fresh process per stage, a bare git repository as `origin`,
 * the fake GitHub (REST checked against GitHub's OpenAPI, plus the auto-merge mutation), the
 * Cloudflare emulator in its own process with 20 ms per request, 125 tenants x (2,000 blocked
 * senders + 500 exemptions). Stages: propose (edit, validate, commit, push, plan of every
 * tenant, PR, plan comment, auto-merge), merge (what GitHub does once checks pass: main moves
 * to the proposal), apply (find the PR, re-plan, check the reviewed checksum, apply, receipt).
 * Not measured: GitHub's own queueing, runner start, checkout and `npm ci` of the workflows.
 */

const env = process.env;
const num = (name: string, dflt: number): number => envNumber(name, dflt, env);
const shape = shapeFromEnv(env);
const latencyMs = num('LATENCY_MS', 20);
const runs = num('RUNS', 3);
const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'mxpolicy.js');

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

const emu = await forkEmulator<Command>('cloudflare-emulator-process.ts', {
  type: 'start',
  shape,
  latencyMs,
});
const { url } = emu.started;
const scratch = await mkdtemp(path.join(tmpdir(), 'mxpolicy-bench-propose-'));
try {
  const data = benchData(shape, benchDomains());

  // ---- origin (bare) and the runner's clone ----------------------------------------------
  const origin = path.join(scratch, 'origin.git');
  const clone = path.join(scratch, 'clone');
  await mkdir(origin);
  git(origin, 'init', '-q', '--bare', '-b', 'main');
  await mkdir(path.join(clone, 'policies', 'tenants'), { recursive: true });
  await mkdir(path.join(clone, 'policies', 'bundles'), { recursive: true });
  git(clone, 'init', '-q', '-b', 'main');
  git(clone, 'config', 'user.name', 'github-actions[bot]');
  git(clone, 'config', 'user.email', 'bot@mxpolicy.invalid');
  await writeFile(
    path.join(clone, 'policies', 'bundles', 'baseline.yaml'),
    '# The group-wide block list.\n' + stringify(bundleDoc(data.baseline)),
  );
  for (let t = 0; t < shape.tenants; t++)
    await writeFile(
      path.join(clone, 'policies', 'tenants', `${tenantId(t)}.yaml`),
      stringify(tenantDoc(t, data.tenant(t), url)),
    );
  git(clone, 'add', '-A');
  git(clone, 'commit', '-qm', 'policies');
  git(clone, 'remote', 'add', 'origin', origin);
  git(clone, 'push', '-q', 'origin', 'main');
  git(clone, 'branch', '-q', '--set-upstream-to=origin/main');

  const gh = await startFakeGithub({ gitRemote: origin, idleMs: 3_600_000 });
  const baseEnv = {
    ...process.env,
    ...tokensEnv(shape.tenants),
    GITHUB_ACTIONS: 'true',
    GITHUB_REPOSITORY: `${gh.owner}/${gh.repo}`,
    GITHUB_TOKEN: gh.token,
    GITHUB_API_URL: gh.baseUrl,
    GITHUB_SERVER_URL: 'https://github.invalid',
    MXPOLICY_GITHUB_PACING_MS: '0',
  };
  // Asynchronous: the fake GitHub answers from this process while the CLI runs.
  const cli = (
    args: string[],
    extra: Record<string, string>,
  ): Promise<{ ms: number; out: string }> =>
    new Promise((resolve, reject) => {
      const start = performance.now();
      const p = spawn(process.execPath, [BIN, ...args], {
        cwd: clone,
        env: { ...baseEnv, ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => {
        const ms = performance.now() - start;
        if (code !== 0)
          reject(new Error(`mxpolicy ${args.join(' ')} exited ${code}: ${out.slice(0, 3000)}`));
        else resolve({ ms, out });
      });
    });
  const eventFile = path.join(scratch, 'event.json');

  // Warm-up, untimed: live equals main, and every process has read the files once.
  await cli(['plan', '--detailed-exitcode', '--concurrency', '16'], {});

  const stages: Record<'propose' | 'merge' | 'apply', number[]> = {
    propose: [],
    merge: [],
    apply: [],
  };
  for (let r = 0; r < runs; r++) {
    const sender = `evil-${r}-${Date.now().toString(36)}.example`;
    // 1. The trigger: a repository_dispatch mxpolicy-block with auto_merge.
    await writeFile(
      eventFile,
      JSON.stringify({
        action: 'mxpolicy-block',
        client_payload: {
          sender,
          bundle: 'baseline',
          reason: 'EDR alert: phishing kit',
          ticket: `INC-${9000 + r}`,
          requested_by: 'bench-soar',
          auto_merge: true,
        },
      }),
    );
    const propose = await cli(['propose', '--from-event', '--github', '--concurrency', '16'], {
      GITHUB_EVENT_NAME: 'repository_dispatch',
      GITHUB_EVENT_PATH: eventFile,
    });
    if (!propose.out.includes('auto-merge enabled'))
      throw new Error(`auto-merge was not enabled:\n${propose.out}`);
    stages.propose.push(propose.ms);

    // 2. The merge GitHub performs once the required checks pass (fast-forward of main).
    const pull = gh.issues.filter((i) => i.pull !== undefined).at(-1);
    if (pull?.pull === undefined) throw new Error('no pull request');
    const mergeStart = performance.now();
    const before = git(origin, 'rev-parse', 'refs/heads/main');
    git(origin, 'update-ref', 'refs/heads/main', pull.pull.headSha, before);
    gh.mergePull(pull.number, pull.pull.headSha);
    // The apply workflow's checkout of the new main.
    git(clone, 'fetch', '-q', 'origin');
    git(clone, 'reset', '-q', '--hard', 'origin/main');
    stages.merge.push(performance.now() - mergeStart);

    // 3. apply.yml on the push: apply the reviewed plan in every tenant.
    await writeFile(
      eventFile,
      JSON.stringify({ ref: 'refs/heads/main', before, after: pull.pull.headSha }),
    );
    const apply = await cli(
      ['apply', '--github', '--changed-since', before, '--concurrency', '16', '--no-receipt'],
      {
        GITHUB_EVENT_NAME: 'push',
        GITHUB_EVENT_PATH: eventFile,
        GITHUB_SHA: pull.pull.headSha,
      },
    );
    stages.apply.push(apply.ms);
    if (!apply.out.includes(`Apply: ${shape.tenants} applied, 0 failed`))
      throw new Error(`apply did not apply ${shape.tenants} changes:\n${apply.out.slice(-2000)}`);
    const applied = /Apply: (\d+) applied/.exec(apply.out)?.[1];
    console.log(
      `run ${r + 1}: propose ${Math.round(propose.ms)} ms, merge ${Math.round(stages.merge.at(-1) ?? 0)} ms, apply ${Math.round(apply.ms)} ms${applied !== undefined ? ` (${applied} applied)` : ''}`,
    );
  }

  // Check: the block is live everywhere, nothing is left to do.
  await cli(['plan', '--detailed-exitcode', '--concurrency', '16'], {});
  if (gh.violations.length > 0) throw new Error(`fake GitHub: ${gh.violations.join('; ')}`);
  const { violations } = await emu.stats();
  if (violations > 0) throw new Error(`emulator: ${violations} contract violations`);

  const m = {
    propose: median(stages.propose),
    merge: median(stages.merge),
    apply: median(stages.apply),
  };
  const total = m.propose + m.merge + m.apply;
  const pct = (x: number): string => `${((100 * x) / total).toFixed(0)}%`;
  console.log(
    `\n${machine()}\n${shape.tenants} tenants x (${shape.senders} senders + ${shape.exemptions} exemptions), ${latencyMs} ms per Cloudflare request, median of ${runs} runs`,
  );
  console.log(`trigger -> applied in all ${shape.tenants} tenants: ${(total / 1000).toFixed(2)} s`);
  console.log(
    `  propose (edit, validate, push, plan, PR, auto-merge): ${(m.propose / 1000).toFixed(2)} s (${pct(m.propose)})`,
  );
  console.log(
    `  merge (main moves, checkout):                        ${(m.merge / 1000).toFixed(2)} s (${pct(m.merge)})`,
  );
  console.log(
    `  apply (re-plan, checksum, apply, report):            ${(m.apply / 1000).toFixed(2)} s (${pct(m.apply)})`,
  );
  await gh.close();
} finally {
  await emu.close();
  await rm(scratch, { recursive: true, force: true });
}
