import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMimecastEmulator, type MimecastEmulator } from '../emulators/mimecast/emulator.js';
import { runCli, tempDir } from '../support/cli.js';

/** The README's "trying it on the emulator", end to end through the CLI. */

const SECRET = 'cli-test-secret-7f3a9b2c';
let emu: MimecastEmulator;
beforeAll(async () => {
  emu = await startMimecastEmulator();
  const acct = emu.addAccount('mxpolicy-demo-client', SECRET);
  acct.seed('blockedsenders', [
    {
      option: 'block_sender',
      policy: {
        description: 'Blocked by the mail team in the console',
        from: { type: 'email_domain', emailDomain: 'spam-console.example' },
        to: { type: 'everyone' },
      },
    },
  ]);
});
afterAll(async () => {
  expect(emu.violations).toEqual([]);
  await emu.close();
});

describe('mxpolicy against the Mimecast emulator', () => {
  it('plans, applies, and then has no changes; the console policy stays; the secret is never printed', async () => {
    const repo = await tempDir();
    await mkdir(path.join(repo, 'policies/tenants'), { recursive: true });
    await writeFile(
      path.join(repo, 'policies/tenants/acme.yaml'),
      `tenant: acme
providers:
  gateway: { type: mimecast, clientId: mxpolicy-demo-client, secretEnv: MIMECAST_SECRET, baseUrl: '${emu.url}' }
domains: [acme.example]
blockedSenders:
  - sender: ceo@lookalike.example
    reason: CEO impersonation
    ticket: INC-4411
  - sender: 198.51.100.7
    reason: botnet C2
exemptions:
  - sender: news.acme-mailer.example
    bypass: spoof
    reason: company-wide mail sent by our mailing service
`,
    );
    const env = { MIMECAST_SECRET: SECRET };
    const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: repo, env });
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/acme: 3 to create, 0 to update, 0 to delete/);
    const apply = await runCli(['apply', '--no-receipt'], { cwd: repo, env });
    expect(apply.stdout).toMatch(/Apply: 3 applied, 0 failed, 0 skipped\./);
    const again = await runCli(['plan', '--detailed-exitcode'], { cwd: repo, env });
    expect(again.code).toBe(0);
    expect(emu.account('mxpolicy-demo-client').list('blockedsenders')).toHaveLength(3);
    for (const out of [plan, apply, again]) expect(out.stdout + out.stderr).not.toContain(SECRET);

    const wrong = await runCli(['plan'], { cwd: repo, env: { MIMECAST_SECRET: 'wrong-secret' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout + wrong.stderr).toMatch(/Mimecast binding 'gateway'.*MIMECAST_SECRET/s);
    expect(wrong.stdout + wrong.stderr).not.toContain('wrong-secret');
  });
});
