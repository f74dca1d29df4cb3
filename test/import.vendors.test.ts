import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMimecastContract } from './emulators/mimecast/contract.js';
import { startMimecastEmulator, type MimecastEmulator } from './emulators/mimecast/emulator.js';
import { M365_CASE, setupMsGraph, type MsGraphSetup } from './providers/msgraph-harness.js';
import { runCli, tempDir } from './support/cli.js';

/**
 * `import` through the real CLI on the Mimecast and Microsoft Graph emulators: what the
 * vendor can say in a policy file comes across, what it cannot (a policy scoped to a group,
 * a hold on sites or a query) is listed in the file and the output and stays unmanaged, and
 * `plan --detailed-exitcode` exits 0 afterwards.
 */

async function repoWithTenant(yaml: string): Promise<string> {
  const repo = await tempDir('mxpolicy-import-vendor-');
  await mkdir(path.join(repo, 'policies/tenants'), { recursive: true });
  await writeFile(path.join(repo, 'policies/tenants/acme.yaml'), yaml);
  return repo;
}
const tenantFile = (repo: string): Promise<string> =>
  readFile(path.join(repo, 'policies/tenants/acme.yaml'), 'utf8');

describe('import on the Mimecast emulator', () => {
  const SECRET = 'mc-import-secret-4b1d9e';
  let emu: MimecastEmulator;
  beforeAll(async () => {
    emu = await startMimecastEmulator({ contract: loadMimecastContract() });
  });
  afterAll(async () => {
    expect(emu.violations).toEqual([]);
    await emu.close();
  });

  it('imports blocked senders and spoofing bypasses; a policy scoped to a group stays unmanaged; plan is empty', async () => {
    const acct = emu.addAccount('import-client-1', SECRET);
    acct.seed('blockedsenders', [
      {
        option: 'block_sender',
        policy: {
          description: 'Blocked in the console',
          from: { type: 'email_domain', emailDomain: 'Spam-Console.example' },
          to: { type: 'everyone' },
          fromPart: 'both',
        },
      },
      {
        option: 'block_sender',
        policy: {
          description: '',
          from: { type: 'individual_email_address', emailAddress: 'ceo@lookalike.example' },
          to: { type: 'everyone' },
          toEternal: false,
          toDate: '2027-01-31T23:59:59+0000',
        },
      },
      {
        option: 'block_sender',
        policy: {
          description: 'botnet',
          from: { type: 'everyone' },
          to: { type: 'everyone' },
          conditions: { sourceIPs: ['45.155.205.0/24'] },
        },
      },
      {
        option: 'block_sender',
        policy: {
          description: 'only for the finance group',
          from: { type: 'email_domain', emailDomain: 'invoices.example' },
          to: { type: 'profile_group', groupId: 'finance-group-id' },
        },
      },
    ]);
    acct.seed('antispoofing-bypass', [
      {
        option: 'enable_bypass',
        policy: {
          description: 'newsletter service',
          from: { type: 'email_domain', emailDomain: 'news.acme-mailer.example' },
          to: { type: 'everyone' },
          conditions: { spfDomains: ['news.acme-mailer.example'] },
          enabled: true,
        },
      },
      {
        option: 'enable_bypass',
        policy: {
          description: 'switched off',
          from: { type: 'email_domain', emailDomain: 'old.example' },
          to: { type: 'everyone' },
          enabled: false,
        },
      },
    ]);
    const repo = await repoWithTenant(
      `tenant: acme\nproviders:\n  gateway: { type: mimecast, clientId: import-client-1, secretEnv: MC_SECRET, baseUrl: '${emu.url}' }\ndomains: [acme.example]\n`,
    );
    const env = { MC_SECRET: SECRET };
    const imp = await runCli(['import'], { cwd: repo, env });
    expect(imp.stderr).toBe('');
    expect(imp.code).toBe(0);
    expect(imp.stdout).toMatch(/^acme: 4 entries written to .*, 2 left unmanaged:$/m);
    expect(imp.stdout).toMatch(/blocked sender email_domain invoices\.example .*profile_group/);
    expect(imp.stdout).toMatch(/exemption .*old\.example.*disabled/);
    const text = await tenantFile(repo);
    expect(text).toContain('# mxpolicy import: live entries left unmanaged');
    expect(text).toMatch(/^# - blocked sender email_domain invoices\.example .*profile_group/m);
    expect(text).toContain('sender: spam-console.example');
    expect(text).toContain('expires: 2027-01-31');
    expect(text).toContain('reason: imported from mimecast on 2026-11-23');
    expect(text).toContain('bypass: spoof');
    expect(text).toContain('verifySender: true');

    const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: repo, env });
    expect(plan.stdout).toContain('No changes');
    expect(plan.code).toBe(0);
    // The group-scoped and the disabled policy are still live, untouched.
    const live = acct.list('blockedsenders');
    expect(live.some((p) => JSON.stringify(p).includes('finance-group-id'))).toBe(true);
    expect(acct.list('antispoofing-bypass').some((p) => p.policy['enabled'] === false)).toBe(true);
  });
});

describe('import on the Graph emulator (holds)', () => {
  const CASE = M365_CASE;
  let g: MsGraphSetup;
  beforeAll(async () => {
    g = await setupMsGraph();
  });
  afterAll(async () => {
    expect(g.emu.violations).toEqual([]);
    await g.close();
  });

  it('imports holds with custodians and matter; an all-hold stays all; plan is empty', async () => {
    const caseId = CASE;
    g.tenant.seedHold(caseId, {
      displayName: 'LH-1',
      description: 'Doe v. Acme (2026)',
      emails: ['Ann@acme.example', 'bob@acme.example'],
    });
    g.tenant.seedHold(caseId, {
      displayName: 'LH-ALL#1',
      description: '[mxpolicy since=2026-02-01 custodians=all] Everyone, SEC inquiry',
      emails: [
        'ann@acme.example',
        'bob@acme.example',
        'carol@acme.example',
        'dave@acme.example',
        'erin@acme.example',
      ],
    });
    const repo = await repoWithTenant(
      `tenant: acme\nproviders:\n${g.providersYaml()}\ndomains: [acme.example]\n`,
    );
    const imp = await runCli(['import'], { cwd: repo, env: g.env });
    expect(imp.stderr).toBe('');
    expect(imp.code).toBe(0);
    const text = await tenantFile(repo);
    expect(text).toContain('custodians: all');
    expect(text).toMatch(
      /- id: LH-1\n {4}matter: Doe v\. Acme \(2026\)\n {4}custodians:\n {6}- ann@acme\.example\n {6}- bob@acme\.example\n/,
    );
    expect(text).toMatch(
      /- id: LH-ALL\n {4}matter: Everyone, SEC inquiry\n {4}custodians: all\n {4}since: 2026-02-01\n/,
    );
    const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: repo, env: g.env });
    expect(plan.stdout).toContain('No changes');
    expect(plan.code).toBe(0);
    // Adopted: LH-1 now carries the marker, its matter unchanged.
    const lh1 = g.tenant.holds(CASE).find((h) => h.displayName === 'LH-1');
    expect(lh1?.description).toBe('[mxpolicy] Doe v. Acme (2026)');
  });

  it('an all-hold that misses a mailbox that joined the directory is imported as all; the first plan adds the newcomer', async () => {
    g.tenant.clearHolds(CASE);
    g.tenant.seedHold(CASE, {
      displayName: 'LH-ALL#1',
      description: '[mxpolicy custodians=all] Everyone, SEC inquiry',
      emails: [
        'ann@acme.example',
        'bob@acme.example',
        'carol@acme.example',
        'dave@acme.example',
        'erin@acme.example',
      ],
    });
    g.tenant.addUsers([{ mail: 'newhire@acme.example' }]);
    const repo = await repoWithTenant(
      `tenant: acme\nproviders:\n${g.providersYaml()}\ndomains: [acme.example]\n`,
    );
    const imp = await runCli(['import'], { cwd: repo, env: g.env });
    expect(imp.stderr).toBe('');
    expect(imp.code).toBe(0);
    expect(imp.stdout).toContain(
      '! hold LH-ALL is imported but not in place live (custodians: "all" is not yet complete live)',
    );
    expect(await tenantFile(repo)).toMatch(
      /- id: LH-ALL\n {4}matter: Everyone, SEC inquiry\n {4}custodians: all\n/,
    );
    const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: repo, env: g.env });
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/acme: 0 to create, 1 to update, 0 to delete/);
    expect(plan.stdout).toMatch(
      /~ hold LH-ALL in acme\n\s+custodians: \[.*"erin@acme\.example"\] -> "all"/,
    );
    const apply = await runCli(['apply', '--no-receipt'], { cwd: repo, env: g.env });
    expect(apply.code).toBe(0);
    g.tenant.settleAll();
    const again = await runCli(['plan', '--detailed-exitcode'], { cwd: repo, env: g.env });
    expect(again.stdout).toContain('No changes');
    expect(again.code).toBe(0);
    g.tenant.removeUser('newhire@acme.example');
  });

  it('a hold on more mailboxes than the directory has comes across whole; query, disabled and failed holds of others stay unmanaged; ours in error is imported for apply to repair', async () => {
    g.tenant.clearHolds(CASE);
    const five = ['ann', 'bob', 'carol', 'dave', 'erin'].map((u) => `${u}@acme.example`);
    g.tenant.seedHold(CASE, {
      displayName: 'LH-WIDE',
      description: 'Departures 2025',
      emails: five,
    });
    g.tenant.seedHold(CASE, {
      displayName: 'LH-QUERY',
      description: 'Project X only',
      emails: ['ann@acme.example'],
      contentQuery: 'subject:"Project X"',
    });
    g.tenant.seedHold(CASE, {
      displayName: 'LH-OFF',
      description: 'switched off',
      emails: ['bob@acme.example'],
      isEnabled: false,
    });
    g.tenant.seedHold(CASE, {
      displayName: 'LH-BROKEN',
      description: 'placed by hand, failed',
      emails: ['carol@acme.example'],
      status: 'error',
    });
    g.tenant.seedHold(CASE, {
      displayName: 'LH-OURS',
      description: '[mxpolicy since=2026-03-01] Roe v. Acme',
      emails: ['dave@acme.example'],
      status: 'error',
    });
    // Three of the five custodians have left the directory since: they stay held.
    for (const gone of ['carol', 'dave', 'erin']) g.tenant.removeUser(`${gone}@acme.example`);
    const repo = await repoWithTenant(
      `tenant: acme\nproviders:\n${g.providersYaml()}\ndomains: [acme.example]\n`,
    );
    const imp = await runCli(['import'], { cwd: repo, env: g.env });
    expect(imp.stderr).toBe('');
    expect(imp.code).toBe(0);
    expect(imp.stdout).toMatch(/^acme: 2 entries written to .*, 3 left unmanaged:$/m);
    expect(imp.stdout).toMatch(
      /hold LH-QUERY \(hold policy [^)]+\): msgraph cannot express it in a policy file: .*Project X/,
    );
    expect(imp.stdout).toMatch(/hold LH-OFF \(hold policy [^)]+\): .*disabled/);
    expect(imp.stdout).toMatch(
      /hold LH-BROKEN: it is not in place live \(hold policy LH-BROKEN in error/,
    );
    expect(imp.stdout).toMatch(
      /! hold LH-OURS is imported but not in place live .*the next apply repairs it/,
    );
    const text = await tenantFile(repo);
    expect(text).toMatch(
      /- id: LH-WIDE\n {4}matter: Departures 2025\n {4}custodians:\n(?: {6}- \w+@acme\.example\n){5}/,
    );
    expect(text).toMatch(
      /- id: LH-OURS\n {4}matter: Roe v\. Acme\n {4}custodians:\n {6}- dave@acme\.example\n {4}since: 2026-03-01\n/,
    );
    expect(text).toMatch(/^# - hold LH-QUERY \(hold policy /m);
    expect(text).toMatch(/^# - hold LH-BROKEN: /m);
    // The first plan repairs our hold in error (a retry), and only that.
    const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: repo, env: g.env });
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/acme: 0 to create, 1 to update, 0 to delete/);
    expect(plan.stdout).toMatch(/~ hold LH-OURS/);
    // Query, disabled and failed holds of others are untouched by import.
    const live = g.tenant.holds(CASE);
    for (const name of ['LH-QUERY', 'LH-OFF', 'LH-BROKEN'])
      expect(live.find((h) => h.displayName === name)?.description).not.toMatch(/mxpolicy/);
  });
});
