import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startCloudflareEmulator,
  type CloudflareEmulator,
} from '../emulators/cloudflare/emulator.js';
import { runCli, tempDir } from '../support/cli.js';

const ACCOUNT = '023e105f4ecef8ad9ca31a8372d0c353';
const TOKEN = 'cf-import-token-0001';

describe('import of a Cloudflare allow policy that bypasses nothing', () => {
  let emu: CloudflareEmulator;
  beforeAll(async () => {
    emu = await startCloudflareEmulator();
  });
  afterAll(async () => {
    await emu.close();
  });

  it('leaves it unmanaged, naming why, and imports the others', async () => {
    const acct = emu.addAccount(ACCOUNT, TOKEN);
    const policy = (pattern: string, acceptable: boolean) => ({
      pattern,
      pattern_type: 'DOMAIN',
      is_regex: false,
      comments: 'set up in the dashboard',
      is_acceptable_sender: acceptable,
      is_trusted_sender: false,
      is_exempt_recipient: false,
      verify_sender: true,
    });
    acct.seed('allow_policies', [
      policy('unticked.example', false),
      policy('partner.example', true),
    ]);
    const repo = await tempDir('mxpolicy-cf-import-');
    await mkdir(path.join(repo, 'policies/tenants'), { recursive: true });
    await writeFile(
      path.join(repo, 'policies/tenants/acme.yaml'),
      `tenant: acme\nproviders:\n  gateway:\n    type: cloudflare\n    account: '${ACCOUNT}'\n    tokenEnv: CF_TOKEN\n    baseUrl: ${emu.url}\n    kinds: [exemptions]\ndomains: [acme.example]\n`,
    );
    const imp = await runCli(['import'], { cwd: repo, env: { CF_TOKEN: TOKEN } });
    expect(imp.stderr).toBe('');
    expect(imp.code).toBe(0);
    expect(imp.stdout).toMatch(/exemption sender:unticked\.example: .*bypass/);
    const yaml = await readFile(path.join(repo, 'policies/tenants/acme.yaml'), 'utf8');
    expect(yaml).toContain('sender: partner.example');
    expect(yaml).not.toMatch(/bypass: none/);
    const plan = await runCli(['plan', '--detailed-exitcode'], {
      cwd: repo,
      env: { CF_TOKEN: TOKEN },
    });
    expect(plan.code).toBe(0);
    expect(emu.violations).toEqual([]);
  });
});
