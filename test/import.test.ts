import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './support/cli.js';

const minimal = (tenant: string, extra = ''): string =>
  `# ${tenant}: acquired 2026-11
tenant: ${tenant}
providers:
  gateway: { type: sandbox }   # rehearsal
domains: [${tenant}.example]
${extra}`;

async function repoWith(
  tenants: Record<string, { yaml?: string; live: Record<string, unknown[]> }>,
): Promise<string> {
  const repo = await tempDir('mxpolicy-import-');
  await mkdir(path.join(repo, 'policies/tenants'), { recursive: true });
  await mkdir(path.join(repo, '.mxpolicy/sandbox'), { recursive: true });
  for (const [t, { yaml, live }] of Object.entries(tenants)) {
    await writeFile(path.join(repo, `policies/tenants/${t}.yaml`), yaml ?? minimal(t));
    await writeFile(path.join(repo, `.mxpolicy/sandbox/${t}.json`), JSON.stringify(live));
  }
  return repo;
}

const read = (repo: string, p: string): Promise<string> => readFile(path.join(repo, p), 'utf8');

describe('import on the sandbox', () => {
  it('writes live entries into a minimal tenant file, keeps its comments, and the first plan is empty', async () => {
    const repo = await repoWith({
      acme: {
        live: {
          blockedSenders: [
            { sender: 'Evil.Example', reason: 'phish wave' },
            { sender: 'x@spam.example', reason: 'ours', managedBy: 'mxpolicy', ticket: 'INC-1' },
            { sender: '185.220.101.0/24', reason: '' },
            { sender: 'acme.example', reason: 'someone blocked our own domain' },
          ],
          exemptions: [{ sender: 'news@partner.example', bypass: 'spam', reason: 'partner' }],
          holds: [
            {
              id: 'LH-1',
              matter: 'Doe v. Acme',
              custodians: ['b@acme.example', 'a@acme.example', 'c@elsewhere.example'],
              since: '2026-01-02',
            },
          ],
          routes: [
            { domain: 'acme.example', deliverTo: 'mx1.acme.example', requireTls: true },
            { domain: 'other.example', deliverTo: 'mx.other.example' },
          ],
        },
      },
    });
    const before = await read(repo, 'policies/tenants/acme.yaml');
    const dry = await runCli(['import', '--dry-run'], { cwd: repo });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('--- policies/tenants/acme.yaml');
    expect(dry.stdout).toContain('dry run: nothing written');
    expect(await read(repo, 'policies/tenants/acme.yaml')).toBe(before);

    const imp = await runCli(['import'], { cwd: repo });
    expect(imp.stderr).toBe('');
    expect(imp.code).toBe(0);
    expect(imp.stdout).toMatch(
      /^acme: 6 entries written to policies\/tenants\/acme.yaml, 2 left unmanaged:$/m,
    );
    expect(imp.stdout).toContain("route other.example: not one of the tenant's domains");
    expect(imp.stdout).toContain('blocked sender acme.example: BLOCKS_OWN_DOMAIN');
    expect(imp.stdout).toMatch(/adopted 5 of 5 imported entries/);
    const after = await read(repo, 'policies/tenants/acme.yaml');
    // The file the person wrote is untouched, line by line, at the top.
    expect(after.startsWith(before)).toBe(true);
    expect(after).toContain('reason: imported from sandbox on 2026-11-23');
    expect(after).toContain('ticket: INC-1');
    expect(after).toContain('custodians:');
    expect(after).toContain('c@elsewhere.example');
    expect(after).toContain('# mxpolicy import: live entries left unmanaged');
    expect(after).toContain('# - route other.example');

    expect((await runCli(['validate'], { cwd: repo })).code).toBe(0);
    const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: repo });
    expect(plan.stdout).toContain('No changes');
    expect(plan.code).toBe(0);

    // Imported entries are managed: one removed from the YAML is planned for deletion.
    const without = after.replace(/ {2}- sender: evil\.example\n {4}reason: phish wave\n/, '');
    expect(without).not.toBe(after);
    await writeFile(path.join(repo, 'policies/tenants/acme.yaml'), without);
    const del = await runCli(['plan', '--detailed-exitcode'], { cwd: repo });
    expect(del.code).toBe(2);
    expect(del.stdout).toMatch(/- blocked sender evil\.example/);

    // Importing again adds nothing and keeps one comment block.
    await writeFile(path.join(repo, 'policies/tenants/acme.yaml'), after);
    const again = await runCli(['import'], { cwd: repo });
    expect(again.code).toBe(0);
    expect(await read(repo, 'policies/tenants/acme.yaml')).toBe(after);
  });

  it('--no-adopt writes the files only: the first plan adopts, apply marks, then empty', async () => {
    const repo = await repoWith({
      t1: { live: { blockedSenders: [{ sender: 'evil.example', reason: 'r' }] } },
    });
    const imp = await runCli(['import', '--no-adopt'], { cwd: repo });
    expect(imp.code).toBe(0);
    const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: repo });
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/adopt/);
    expect((await runCli(['apply'], { cwd: repo })).code).toBe(0);
    expect((await runCli(['plan', '--detailed-exitcode'], { cwd: repo })).code).toBe(0);
  });

  it('--bundle factors out entries shared by enough tenants; differing reasons stay out; plan empty', async () => {
    const shared = [
      { sender: 'a.example', reason: 'baseline' },
      { sender: 'b.example', reason: 'baseline' },
    ];
    const repo = await repoWith({
      t1: { live: { blockedSenders: [...shared, { sender: 'c.example', reason: 'one' }] } },
      t2: { live: { blockedSenders: [...shared, { sender: 'c.example', reason: 'two' }] } },
      t3: { live: { blockedSenders: [...shared, { sender: 'c.example', reason: 'one' }] } },
      t4: { live: { blockedSenders: [shared[0]] } },
    });
    const imp = await runCli(['import', '--bundle', 'group', '--min-share', '0.75'], {
      cwd: repo,
    });
    expect(imp.stderr).toBe('');
    expect(imp.code).toBe(0);
    expect(imp.stdout).toContain(
      'bundle group: 2 shared entries, included by 3 tenants (not by t4',
    );
    const bundle = await read(repo, 'policies/bundles/group.yaml');
    expect(bundle).toContain('sender: a.example');
    expect(bundle).toContain('sender: b.example');
    expect(bundle).not.toContain('c.example'); // reasons differ between tenants
    const t1 = await read(repo, 'policies/tenants/t1.yaml');
    expect(t1).toContain('include:\n  - group');
    expect(t1).not.toContain('a.example');
    expect(t1).toContain('c.example');
    const t4 = await read(repo, 'policies/tenants/t4.yaml');
    expect(t4).not.toContain('include');
    expect(t4).toContain('a.example');
    const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: repo });
    expect(plan.stdout).toContain('No changes');
    expect(plan.code).toBe(0);
  });

  it('a tenant whose live state cannot be read is reported and the others are imported', async () => {
    const repo = await repoWith({
      good: { live: { blockedSenders: [{ sender: 'evil.example', reason: 'r' }] } },
      bad: { live: {} },
    });
    await writeFile(path.join(repo, '.mxpolicy/sandbox/bad.json'), '{ not json');
    const imp = await runCli(['import'], { cwd: repo });
    expect(imp.code).toBe(1);
    expect(imp.stderr).toMatch(/^bad: not imported: /m);
    expect(await read(repo, 'policies/tenants/good.yaml')).toContain('evil.example');
  });
});
