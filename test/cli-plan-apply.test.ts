import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ApplyReport, Plan } from '../src/plan/types.js';
import { exampleRepo, runCli } from './support/cli.js';

const sandboxFile = (repo: string, tenant: string): string =>
  path.join(repo, '.mxpolicy/sandbox', `${tenant}.json`);
const readJson = async <T>(file: string): Promise<T> =>
  JSON.parse(await readFile(file, 'utf8')) as T;

interface SandboxState {
  blockedSenders: { sender: string; reason: string; managedBy?: string }[];
  holds?: unknown[];
}

describe('plan -> apply -> plan on the sandbox (README loop)', () => {
  it('lists creates, applies them, then has no changes', async () => {
    const repo = await exampleRepo();
    const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: repo });
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/^acme-emea: 18 to create, 0 to update, 0 to delete$/m);
    expect(plan.stdout).toContain('  + blocked sender mailinator.com [bundle baseline]');
    expect(plan.stdout).toMatch(/^Plan: 47 to create, 0 to update, 0 to delete in 3 tenants\./m);

    const apply = await runCli(['apply'], { cwd: repo });
    expect(apply.code).toBe(0);
    expect(apply.stdout).toMatch(/^Apply: 47 applied, 0 failed, 0 skipped\.$/m);
    const state = await readJson<SandboxState>(sandboxFile(repo, 'globex'));
    expect(state.blockedSenders.every((e) => e.managedBy === 'mxpolicy')).toBe(true);

    const again = await runCli(['plan', '--detailed-exitcode'], { cwd: repo });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      'No changes. Live state matches the policies of 3 tenants.\nread: full\n',
    );

    const reapply = await runCli(['apply'], { cwd: repo });
    expect(reapply.code).toBe(0);
    expect(reapply.stdout).toBe('No changes. Nothing to apply.\n');
  });

  it('shows a hand edit of a sandbox file as exactly that drift', async () => {
    const repo = await exampleRepo();
    expect((await runCli(['apply'], { cwd: repo })).code).toBe(0);
    const file = sandboxFile(repo, 'globex');
    const state = await readJson<SandboxState>(file);
    const edited = state.blockedSenders.find((e) => e.sender === 'yopmail.com');
    if (edited === undefined) throw new Error('yopmail.com not applied');
    edited.reason = 'edited in the console';
    state.blockedSenders = state.blockedSenders.filter((e) => e.sender !== 'mailinator.com');
    state.blockedSenders.push({ sender: 'someone@partner.example', reason: 'added by hand' });
    await writeFile(file, JSON.stringify(state));

    const plan = await runCli(['plan', '--format', 'json'], { cwd: repo });
    const value = JSON.parse(plan.stdout) as Plan;
    const globex = value.tenants.find((t) => t.tenant === 'globex');
    expect(globex?.changes.map((c) => `${c.action} ${c.key}`)).toEqual([
      'create mailinator.com',
      'update yopmail.com',
    ]);
    expect(globex?.changes[1]?.patch).toEqual([
      {
        op: 'replace',
        path: '/reason',
        value: 'disposable mailbox provider; no business mail expected',
      },
    ]);
    expect(globex?.unmanaged).toEqual([{ kind: 'blockedSenders', key: 'someone@partner.example' }]);
    expect(
      value.tenants.filter((t) => t.tenant !== 'globex').every((t) => t.changes.length === 0),
    ).toBe(true);

    const drift = await runCli(['drift'], { cwd: repo });
    expect(drift.code).toBe(2);
    expect(drift.stdout).toContain('globex: 1 to create, 1 to update, 0 to delete');

    expect((await runCli(['apply'], { cwd: repo })).code).toBe(0);
    const healed = await runCli(['drift'], { cwd: repo });
    expect(healed.code).toBe(0);
    expect(healed.stdout).toMatch(/^No drift\./);
    // The entry added by hand was never mxpolicy's: still there, untouched.
    expect((await readJson<SandboxState>(file)).blockedSenders).toContainEqual({
      sender: 'someone@partner.example',
      reason: 'added by hand',
    });
  });

  it('applies the other tenants when one sandbox file is corrupt, exits 1 and names it', async () => {
    const repo = await exampleRepo();
    await mkdir(path.dirname(sandboxFile(repo, 'acme-emea')), { recursive: true });
    await writeFile(sandboxFile(repo, 'acme-emea'), '{ "blockedSenders": [ oops');
    const apply = await runCli(['apply', '--format', 'json'], { cwd: repo });
    expect(apply.code).toBe(1);
    const report = JSON.parse(apply.stdout) as ApplyReport;
    expect(report.tenants.map((t) => [t.tenant, t.status])).toEqual([
      ['acme-americas', 'applied'],
      ['acme-emea', 'skipped'],
      ['globex', 'applied'],
    ]);
    expect(report.tenants[1]?.reason).toContain('is not valid JSON');
    expect(await readFile(sandboxFile(repo, 'acme-emea'), 'utf8')).toBe(
      '{ "blockedSenders": [ oops',
    );
    const text = await runCli(['plan'], { cwd: repo });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^acme-emea: ERROR \(nothing planned for this tenant\)$/m);
    expect(text.stdout).toContain('LIVE_READ_FAILED');
    expect(text.stdout).toContain('is not valid JSON');
  });

  it('reads the state folder from MXPOLICY_SANDBOX_DIR, then the binding dir', async () => {
    const repo = await exampleRepo();
    const env = { MXPOLICY_SANDBOX_DIR: 'elsewhere' };
    expect((await runCli(['apply', '--tenant', 'globex'], { cwd: repo, env })).code).toBe(0);
    expect(
      (await readJson<SandboxState>(path.join(repo, 'elsewhere/globex.json'))).blockedSenders
        .length,
    ).toBe(11);

    const tenantFile = path.join(repo, 'policies/tenants/globex.yaml');
    await writeFile(
      tenantFile,
      (await readFile(tenantFile, 'utf8')).replace(
        '  sandbox:\n    type: sandbox\n',
        '  sandbox:\n    type: sandbox\n    dir: state/live\n',
      ),
    );
    expect((await runCli(['apply', '--tenant', 'globex'], { cwd: repo })).code).toBe(0);
    expect(
      (await readJson<SandboxState>(path.join(repo, 'state/live/globex.json'))).blockedSenders
        .length,
    ).toBe(11);
  });
});

describe('apply --checksum / --plan', () => {
  it('applies when the fresh plan matches the reviewed checksum', async () => {
    const repo = await exampleRepo();
    const plan = JSON.parse(
      (await runCli(['plan', '--format', 'json'], { cwd: repo })).stdout,
    ) as Plan;
    const apply = await runCli(['apply', '--checksum', plan.checksum], { cwd: repo });
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('Apply: 47 applied');
  });

  it('refuses what changed after review: the whole plan with --checksum, one tenant with --plan', async () => {
    const repo = await exampleRepo();
    const out = await runCli(['plan', '--format', 'json', '--out', 'reviewed.json'], { cwd: repo });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(
      /^Plan: 47 to create, 0 to update, 0 to delete \(checksum [0-9a-f]{64}\)\.$/m,
    );
    // Someone blocks a sender by hand in globex after the review.
    await mkdir(path.join(repo, '.mxpolicy/sandbox'), { recursive: true });
    await writeFile(
      sandboxFile(repo, 'globex'),
      JSON.stringify({
        blockedSenders: [{ sender: 'yopmail.com', reason: 'by hand', managedBy: 'mxpolicy' }],
      }),
    );

    // The whole reviewed checksum: every tenant is planned first, and nothing is written.
    const reviewedChecksum = (
      JSON.parse(await readFile(path.join(repo, 'reviewed.json'), 'utf8')) as { checksum: string }
    ).checksum;
    const whole = await runCli(['apply', '--checksum', reviewedChecksum], { cwd: repo });
    expect(whole.code).toBe(1);
    expect(whole.stderr).toMatch(
      /The plan changed since it was reviewed: reviewed checksum [0-9a-f]{64}, fresh plan [0-9a-f]{64}\. Nothing was applied\./,
    );
    expect(whole.stderr).toContain('Re-run plan, review it, and apply with the new checksum.');
    await expect(readFile(sandboxFile(repo, 'acme-emea'))).rejects.toThrow(/ENOENT/);

    // The reviewed plan itself: each tenant is checked on its own; only globex is refused.
    const apply = await runCli(['apply', '--plan', 'reviewed.json'], { cwd: repo });
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain(
      'Not applied to globex: the plan of this tenant changed since it was reviewed; the other tenants were applied.',
    );
    expect(apply.stderr).toContain('- no longer planned: globex create blockedSenders yopmail.com');
    expect(apply.stderr).toContain('+ newly planned: globex update blockedSenders yopmail.com');
    expect(apply.stdout).toMatch(/globex: skipped/);
    await expect(readFile(sandboxFile(repo, 'acme-emea'), 'utf8')).resolves.toContain('managedBy');
    expect(JSON.parse(await readFile(sandboxFile(repo, 'globex'), 'utf8'))).toEqual({
      blockedSenders: [{ sender: 'yopmail.com', reason: 'by hand', managedBy: 'mxpolicy' }],
    });
  });
});

describe('safety gates and exit codes', () => {
  it('blocks a tenant whose hold was dropped from the YAML (exit 3) and still applies the others', async () => {
    const repo = await exampleRepo();
    expect((await runCli(['apply'], { cwd: repo })).code).toBe(0);
    const file = path.join(repo, 'policies/tenants/acme-emea.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(
      file,
      text
        .replace(/holds:\n(?: {2}.*\n| {4}.*\n)+/, '')
        .replace(
          'reason: CEO impersonation campaign',
          'reason: CEO impersonation campaign, wave 2',
        ),
    );
    const globex = path.join(repo, 'policies/tenants/globex.yaml');
    await writeFile(
      globex,
      (await readFile(globex, 'utf8')).replace(
        'blockedSenders:\n',
        'blockedSenders:\n  - sender: new-campaign.example\n    reason: brand new campaign\n',
      ),
    );

    const plan = await runCli(['plan'], { cwd: repo });
    expect(plan.code).toBe(3);
    expect(plan.stdout).toContain('acme-emea: BLOCKED by a safety gate');
    expect(plan.stdout).toContain(
      'HOLD_REMOVED: hold LH-2026-017 (Doe v. ACME GmbH) is live but no longer in policies/tenants/acme-emea.yaml',
    );

    const apply = await runCli(['apply'], { cwd: repo });
    expect(apply.code).toBe(3);
    expect(apply.stdout).toMatch(/Not applied \(error or blocked\): acme-emea\./);
    expect(apply.stdout).toMatch(/^globex: applied \(1 applied, 0 failed, 0 skipped\)$/m);
    const emea = await readJson<SandboxState>(sandboxFile(repo, 'acme-emea'));
    expect(emea.holds).toHaveLength(1);
    expect(emea.blockedSenders.find((e) => e.sender === 'ceo.acme@lookalike-acme.eu')?.reason).toBe(
      'CEO impersonation campaign',
    );
  });

  it('plans valid tenants and marks an invalid one as error (exit 1)', async () => {
    const repo = await exampleRepo();
    const file = path.join(repo, 'policies/tenants/globex.yaml');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace(
        'reason: marketing platform mail to the sales team',
        'reasn: typo',
      ),
    );
    const plan = await runCli(['plan', '--format', 'json'], { cwd: repo });
    expect(plan.code).toBe(1);
    const value = JSON.parse(plan.stdout) as Plan;
    expect(value.tenants.map((t) => [t.tenant, t.status])).toEqual([
      ['acme-americas', 'ok'],
      ['acme-emea', 'ok'],
      ['globex', 'error'],
    ]);
    expect(
      value.tenants[2]?.errors.map(
        (e) => `${e.file ?? ''}:${e.line ?? 0}:${e.column ?? 0} ${e.code}`,
      ),
    ).toEqual([
      'policies/tenants/globex.yaml:17:5 SCHEMA_REQUIRED',
      'policies/tenants/globex.yaml:19:5 SCHEMA_UNKNOWN_KEY',
    ]);
  });

  it('refuses bad flags with a clear message', async () => {
    const repo = await exampleRepo();
    const r = await runCli(['plan', '--format', 'yaml'], { cwd: repo });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("option '--format <format>' argument 'yaml' is invalid");
    const shard = await runCli(['plan', '--shard', '3/2'], { cwd: repo });
    expect(shard.code).toBe(1);
    expect(shard.stderr).toContain('--shard must look like k/n');
  });
});

describe('selection and sharding', () => {
  it('--tenant and --shard pick stable, disjoint subsets that cover every tenant', async () => {
    const repo = await exampleRepo();
    const tenantsOf = async (args: string[]) =>
      (
        JSON.parse(
          (await runCli(['plan', '--format', 'json', ...args], { cwd: repo })).stdout,
        ) as Plan
      ).tenants.map((t) => t.tenant);
    expect(await tenantsOf(['--tenant', 'acme-*'])).toEqual(['acme-americas', 'acme-emea']);
    expect(await tenantsOf(['--tenant', 'globex', '--tenant', 'acme-emea'])).toEqual([
      'acme-emea',
      'globex',
    ]);
    const shards = [await tenantsOf(['--shard', '1/2']), await tenantsOf(['--shard', '2/2'])];
    expect(shards.flat().sort()).toEqual(['acme-americas', 'acme-emea', 'globex']);
    expect(await tenantsOf(['--shard', '1/2'])).toEqual(shards[0]);
  });

  it('shards prints a GitHub Actions matrix', async () => {
    const r = await runCli(['shards', '3'], { cwd: '.' });
    expect(JSON.parse(r.stdout)).toEqual({
      shard: ['1/3', '2/3', '3/3'],
      // Each runner spends a third of every token's budget (MXPOLICY_BUDGET_SHARE).
      include: [
        { shard: '1/3', 'budget-share': '1/3' },
        { shard: '2/3', 'budget-share': '1/3' },
        { shard: '3/3', 'budget-share': '1/3' },
      ],
    });
  });
});

describe('output', () => {
  it('colours only on a TTY and never with NO_COLOR', async () => {
    const repo = await exampleRepo();
    expect((await runCli(['plan'], { cwd: repo, tty: true })).stdout).toContain('\x1b[32m');
    expect(
      (await runCli(['plan'], { cwd: repo, tty: true, env: { NO_COLOR: '1' } })).stdout,
    ).not.toContain('\x1b[');
    expect((await runCli(['plan'], { cwd: repo })).stdout).not.toContain('\x1b[');
  });

  it('markdown carries the hidden marker with the checksum', async () => {
    const repo = await exampleRepo();
    const json = JSON.parse(
      (await runCli(['plan', '--format', 'json'], { cwd: repo })).stdout,
    ) as Plan;
    const md = await runCli(['plan', '--format', 'markdown'], { cwd: repo });
    // The marker also carries each changed tenant's checksum (src/plan/plan-marker.ts).
    expect(md.stdout.split('\n')[0]).toMatch(
      new RegExp(`^<!-- mxpolicy:plan checksum=${json.checksum} tenants=\\S+ -->$`),
    );
    expect(md.stdout).toContain('- + block `mailinator.com` in 3 tenants');
  });
});
