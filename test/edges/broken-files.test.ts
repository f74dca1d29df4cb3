import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/types.js';
import { exampleRepo, runCli } from '../support/cli.js';

/** The example repository with one broken neighbour per case, beside the good tenants. */
async function repoWithNeighbours(): Promise<string> {
  const repo = await exampleRepo();
  const tenants = path.join(repo, 'policies/tenants');
  await mkdir(path.join(tenants, 'adir.yaml'));
  await symlink(path.join(tenants, 'gone.yaml'), path.join(tenants, 'dangling.yaml'));
  execFileSync('mkfifo', [path.join(tenants, 'pipe.yaml')]);
  await writeFile(path.join(tenants, 'empty.yaml'), '');
  await writeFile(path.join(tenants, 'SHOUT.YAML'), 'tenant: SHOUT\n');
  return repo;
}

describe('broken files named like policy files', () => {
  it('validate reports each one at its path and still validates the others', async () => {
    const repo = await repoWithNeighbours();
    const r = await runCli(['validate'], { cwd: repo });
    expect(r.code).toBe(1);
    const lines = r.stdout + r.stderr;
    for (const [file, code] of [
      ['adir.yaml', 'FILE_UNREADABLE'],
      ['dangling.yaml', 'FILE_UNREADABLE'],
      ['pipe.yaml', 'FILE_UNREADABLE'],
      ['empty.yaml', 'FILE_EMPTY'],
      ['SHOUT.YAML', 'FILE_EXTENSION'],
    ] as const)
      expect(lines).toMatch(
        new RegExp(`policies/tenants/${file.replace('.', '\\.')}:1:1.*${code}`),
      );
  }, 30_000);

  it('plan --tenant of a good tenant is not aborted by a bad neighbour', async () => {
    const repo = await repoWithNeighbours();
    const r = await runCli(['plan', '--tenant', 'globex', '--format', 'json'], { cwd: repo });
    expect(r.stderr).toBe('');
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.tenants.map((t) => `${t.tenant} ${t.status}`)).toEqual(['globex ok']);
    expect(plan.summary.create).toBeGreaterThan(0);
  }, 30_000);

  it('plan of every tenant plans the good ones and shows each unreadable tenant in error', async () => {
    const repo = await repoWithNeighbours();
    const r = await runCli(['plan', '--format', 'json'], { cwd: repo });
    expect(r.code).toBe(1);
    const plan = JSON.parse(r.stdout) as Plan;
    const status = Object.fromEntries(plan.tenants.map((t) => [t.tenant, t.status]));
    expect(status).toMatchObject({
      globex: 'ok',
      adir: 'error',
      dangling: 'error',
      pipe: 'error',
      empty: 'error',
    });
  }, 30_000);
});

describe('--tenant', () => {
  it('gives a clear error for a glob that is not well formed', async () => {
    const repo = await exampleRepo();
    const r = await runCli(['plan', '--tenant', 'acme['], { cwd: repo });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `--tenant 'acme[' is not a valid glob: '[' at position 5 is never closed`,
    );
  }, 30_000);
});

describe('apply --out', () => {
  it('prints the per-change results before failing on an unwritable path', async () => {
    const repo = await exampleRepo();
    const r = await runCli(['apply', '--out', 'no/such/dir/report.txt'], { cwd: repo });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Apply: 47 applied, 0 failed, 0 skipped\.$/m);
    expect(r.stderr).toMatch(
      /could not write --out no\/such\/dir\/report\.txt: .*the results are above/,
    );
  }, 30_000);
});
