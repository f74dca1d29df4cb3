import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { REPO_ROOT, runCli, tempDir } from './support/cli.js';

/** One folder per broken case: `policies/` plus `expected.json` with the exact places. */
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/validate');

interface Expected {
  exitCode: number;
  problems: string[];
}

interface Report {
  ok: boolean;
  errors: {
    file: string;
    line: number;
    column: number;
    pointer: string;
    code: string;
    message: string;
    severity: string;
  }[];
}

describe('validate fixtures', () => {
  const cases = readdirSync(FIXTURES).sort();

  it('covers every rule of the foundation issue', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)('%s', async (name) => {
    const dir = path.join(FIXTURES, name);
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    const { code, stdout } = await runCli(['validate', '--format', 'json'], { cwd: dir });
    const report = JSON.parse(stdout) as Report;
    expect(
      report.errors.map((e) => `${e.file}:${e.line}:${e.column} ${e.severity} ${e.code}`),
    ).toEqual(expected.problems);
    expect(code).toBe(expected.exitCode);
    expect(report.ok).toBe(expected.exitCode === 0);
    for (const e of report.errors) {
      expect(e.message.length).toBeGreaterThan(10);
      expect(e.pointer).toMatch(/^(\/[^/]+)*$/);
    }
  });

  it('prints path:line:col: severity CODE: message in text mode', async () => {
    const { code, stdout } = await runCli(['validate'], {
      cwd: path.join(FIXTURES, 'unknown-key-suggests-closest'),
    });
    expect(code).toBe(1);
    expect(stdout).toContain(
      "policies/tenants/acme.yaml:8:5: error SCHEMA_UNKNOWN_KEY: unknown key 'expirs' in 'blockedSenders[0]' (did you mean 'expires'?)",
    );
    expect(stdout).toMatch(/^1 error\(s\) in 1 file\(s\); nothing was changed$/m);
  });

  it('names both places of a duplicate between a tenant and its bundle', async () => {
    const { stdout } = await runCli(['validate', '--format', 'json'], {
      cwd: path.join(FIXTURES, 'duplicate-tenant-and-bundle'),
    });
    const [error] = (
      JSON.parse(stdout) as {
        errors: { message: string; related?: { file: string; line: number } }[];
      }
    ).errors;
    expect(error?.message).toContain("bundle 'baseline' (policies/bundles/baseline.yaml:5)");
    expect(error?.related).toEqual({ file: 'policies/bundles/baseline.yaml', line: 5, column: 5 });
  });

  it('emits GitHub annotations when GITHUB_ACTIONS=true', async () => {
    const { stdout } = await runCli(['validate'], {
      cwd: path.join(FIXTURES, 'missing-reason'),
      env: { GITHUB_ACTIONS: 'true' },
    });
    expect(stdout).toContain(
      '::error file=policies/tenants/acme.yaml,line=6,col=5,title=SCHEMA_REQUIRED::',
    );
  });

  it('does not annotate outside GitHub Actions', async () => {
    const { stdout } = await runCli(['validate'], { cwd: path.join(FIXTURES, 'missing-reason') });
    expect(stdout).not.toContain('::error');
  });
});

describe('validate on the examples', () => {
  it('passes with per-tenant entry counts after bundles', async () => {
    const { code, stdout } = await runCli(['validate', '--format', 'json'], { cwd: REPO_ROOT });
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      ok: boolean;
      tenants: { tenant: string; entries: Record<string, number> }[];
    };
    expect(report.ok).toBe(true);
    expect(report.tenants.map((t) => t.tenant)).toEqual(['acme-americas', 'acme-emea', 'globex']);
    // acme-emea: 2 own + 10 baseline blocks, 2 own + 1 baseline exemptions, 1 hold, 2 routes
    expect(report.tenants.find((t) => t.tenant === 'acme-emea')?.entries).toEqual({
      blockedSenders: 12,
      exemptions: 3,
      holds: 1,
      routes: 2,
    });
  });

  it('selects tenants with --tenant globs', async () => {
    const { code, stdout } = await runCli(['validate', '--format', 'json', '--tenant', 'acme-*'], {
      cwd: REPO_ROOT,
    });
    expect(code).toBe(0);
    expect(
      (JSON.parse(stdout) as { tenants: { tenant: string }[] }).tenants.map((t) => t.tenant),
    ).toEqual(['acme-americas', 'acme-emea']);
  });

  it('reports only the problems of the selected tenants', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'policies/tenants'), { recursive: true });
    const head = 'providers:\n  sandbox: { type: sandbox }\ndomains: [acme.eu]\n';
    await writeFile(path.join(dir, 'policies/tenants/good.yaml'), `tenant: good\n${head}`);
    await writeFile(
      path.join(dir, 'policies/tenants/bad.yaml'),
      `tenant: bad\n${head}blockedSenders:\n  - sender: x.example\n`,
    );
    expect((await runCli(['validate', '--tenant', 'good'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['validate', '--tenant', 'bad'], { cwd: dir })).code).toBe(1);
  });

  it('refuses a --tenant glob that matches no tenant, and a folder without policies', async () => {
    const typo = await runCli(['plan', '--tenant', 'acme-emae'], { cwd: REPO_ROOT });
    expect(typo.code).toBe(1);
    expect(typo.stderr).toBe(
      "mxpolicy: --tenant 'acme-emae' matches no tenant (tenants: acme-americas, acme-emea, globex)\n",
    );
    const empty = await runCli(['validate'], { cwd: await tempDir() });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('no policy files in policies/tenants/ or policies/bundles/');
  });
});
