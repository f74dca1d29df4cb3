import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, exampleRepo } from './support/cli.js';

const run = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin/mxpolicy.js');

async function mxpolicy(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the installed binary', () => {
  it('validates the examples (README quick start)', async () => {
    const r = await mxpolicy(['validate'], REPO_ROOT);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: 3 tenant\(s\), 1 bundle\(s\), 47 entries$/m);
  });

  it('runs plan, apply, plan --detailed-exitcode in a fresh folder', async () => {
    const repo = await exampleRepo();
    expect((await mxpolicy(['plan', '--detailed-exitcode'], repo)).code).toBe(2);
    expect((await mxpolicy(['apply'], repo)).code).toBe(0);
    const again = await mxpolicy(['plan', '--detailed-exitcode'], repo);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('No changes.');
  });

  it('documents every command and the exit codes in --help', async () => {
    const r = await mxpolicy(['--help'], REPO_ROOT);
    expect(r.code).toBe(0);
    for (const cmd of ['validate', 'plan', 'apply', 'drift', 'shards'])
      expect(r.stdout).toContain(cmd);
    expect(r.stdout).toContain('Exit codes: 0 ok or nothing to do; 1 error; 2 changes');
    expect(r.stdout).toContain('msgraph {tenantId, clientId, secretEnv, case');
    expect(r.stdout).toContain('Microsoft 365 litigation holds');
    expect(r.stdout).toContain('mimecast {clientId, secretEnv');
  });

  it('exits 1 with usage on an unknown command', async () => {
    const r = await mxpolicy(['plna'], REPO_ROOT);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown command 'plna'");
  });
});
