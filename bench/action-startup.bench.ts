import { execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { machine, median } from './measure.js';

/**
 * npm run bench:action-startup — how long the action takes before mxpolicy does anything.
 * Before (the composite action up to this change): `npm ci` of the action's package (every
 * dependency, dev ones included, then `prepare` compiles TypeScript), then the CLI. After:
 * `node action/dist/mxpolicy.mjs`, the committed bundle. Both run `validate` on the example
 * policies from a copy of the committed tree (`git archive HEAD`). The npm cache of this
 * machine is warm, so "before" is a lower bound: a fresh runner also downloads the packages.
 */
const ROOT = path.resolve(import.meta.dirname, '..');
const runs = Number(process.env['RUNS'] ?? 5);
const scratch = await mkdtemp(path.join(tmpdir(), 'mxpolicy-action-startup-'));
const time = (cmd: string, args: string[], cwd: string): number => {
  const start = performance.now();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.slice(0, 2000)}`);
  return performance.now() - start;
};
try {
  const policies = path.join(scratch, 'workspace');
  await cp(path.join(ROOT, 'policies'), path.join(policies, 'policies'), { recursive: true });
  const before: { install: number; run: number }[] = [];
  const beforeRuns = Number(process.env['BEFORE_RUNS'] ?? 1);
  for (let r = 0; r < beforeRuns; r++) {
    const action = path.join(scratch, `action-${r}`);
    execFileSync('sh', ['-c', `mkdir -p "${action}" && git archive HEAD | tar -x -C "${action}"`], {
      cwd: ROOT,
    });
    const install = time('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], action);
    const run = time(
      process.execPath,
      [path.join(action, 'bin', 'mxpolicy.js'), 'validate'],
      policies,
    );
    before.push({ install, run });
    await rm(action, { recursive: true, force: true });
  }
  const after: number[] = [];
  for (let r = 0; r < runs; r++)
    after.push(
      time(
        process.execPath,
        [path.join(ROOT, 'action', 'dist', 'mxpolicy.mjs'), 'validate'],
        policies,
      ),
    );
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const b = {
    install: median(before.map((x) => x.install)),
    run: median(before.map((x) => x.run)),
  };
  console.log(machine());
  console.log(
    `before: npm ci (all dependencies + tsc) ${s(b.install)} + validate ${s(b.run)} = ${s(b.install + b.run)} (median of ${beforeRuns}, warm npm cache)`,
  );
  console.log(`after:  bundled action, validate ${s(median(after))} (median of ${runs})`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
