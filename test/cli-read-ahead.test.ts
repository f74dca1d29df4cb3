import { access, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { loadSelectedPolicies } from '../src/cli/load.js';
import type { ApplyReport } from '../src/plan/types.js';
import { exampleRepo, FIXED_NOW, runCli } from './support/cli.js';

describe('reads start while the other policy files are still loading', () => {
  it('hands each tenant over as its file loads, with the event loop running between files', async () => {
    const repo = await exampleRepo();
    const handed: string[] = [];
    const ranBetween: string[] = [];
    const loaded = await loadSelectedPolicies(
      {
        cwd: repo,
        env: {},
        stdout: { write: () => true },
        stderr: { write: () => true },
        now: () => FIXED_NOW,
      },
      { policies: 'policies', tenant: [] },
      (t) => {
        handed.push(t.tenant.tenant);
        // Work started for this tenant (its live read) gets to run before the next file loads.
        void nextTurn().then(() => ranBetween.push(t.tenant.tenant));
      },
    );
    expect(handed).toEqual(loaded.selected.map((t) => t.tenant));
    expect(handed.length).toBeGreaterThan(1);
    expect(ranBetween).toEqual(handed);
  });

  it('hands over only the tenants --tenant selects', async () => {
    const repo = await exampleRepo();
    const handed: string[] = [];
    await loadSelectedPolicies(
      {
        cwd: repo,
        env: {},
        stdout: { write: () => true },
        stderr: { write: () => true },
        now: () => FIXED_NOW,
      },
      { policies: 'policies', tenant: ['glob*'] },
      (t) => handed.push(t.tenant.tenant),
    );
    expect(handed).toEqual(['globex']);
  });

  it('a tenant read early but claimed again by a later file is neither planned nor applied', async () => {
    const repo = await exampleRepo();
    const tenants = path.join(repo, 'policies', 'tenants');
    const text = await readFile(path.join(tenants, 'globex.yaml'), 'utf8');
    // Sorted after globex.yaml: globex is handed over (and read) before this file is parsed.
    await writeFile(path.join(tenants, 'zz-copy.yaml'), text);

    const apply = await runCli(['apply', '--format', 'json'], { cwd: repo });
    expect(apply.code).toBe(1);
    const report = JSON.parse(apply.stdout) as ApplyReport;
    const globex = report.tenants.find((t) => t.tenant === 'globex');
    expect(globex?.status).toBe('skipped');
    expect(globex?.results.every((r) => r.status === 'skipped')).toBe(true);
    await expect(access(path.join(repo, '.mxpolicy/sandbox/globex.json'))).rejects.toThrow();
    expect(report.tenants.some((t) => t.tenant !== 'globex' && t.status === 'applied')).toBe(true);
  });
});
