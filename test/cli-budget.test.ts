import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContract } from './emulators/cloudflare/contract.js';
import {
  startCloudflareEmulator,
  type CloudflareEmulator,
} from './emulators/cloudflare/emulator.js';
import { runCli, tempDir } from './support/cli.js';

const ACCOUNT = '0123456789abcdef0123456789abcdef';
const BLOCKED_ACCOUNT = 'fedcba9876543210fedcba9876543210';
const TOKEN = 'cf-budget-cli-token-0000';
const BLOCKED_TOKEN = 'cf-budget-cli-blocked-0000';

let emu: CloudflareEmulator;
beforeAll(async () => {
  emu = await startCloudflareEmulator({ contract: loadContract() });
  emu.addAccount(ACCOUNT, TOKEN);
  // Cloudflare's rule, small: 2 requests a minute, then 5 minutes of 429.
  emu.addAccount(BLOCKED_ACCOUNT, BLOCKED_TOKEN, { rateLimit: { requests: 2, windowMs: 60_000 } });
});
afterAll(async () => {
  await emu.close();
});

async function repo(account: string): Promise<string> {
  const dir = await tempDir('mxpolicy-budget-');
  await mkdir(path.join(dir, 'policies/tenants'), { recursive: true });
  await writeFile(
    path.join(dir, 'policies/tenants/acme.yaml'),
    [
      'tenant: acme',
      'providers:',
      `  gateway: { type: cloudflare, account: ${account}, tokenEnv: CF_TOKEN, baseUrl: '${emu.url}', kinds: [blockedSenders] }`,
      'domains: [acme.example]',
      'blockedSenders:',
      '  - sender: spam.example',
      '    reason: test',
      '',
    ].join('\n'),
  );
  return dir;
}

describe('API budgets from the command line', () => {
  it('keeps what a command spent beside the repository cache, under a hash, never the token', async () => {
    const dir = await repo(ACCOUNT);
    const r = await runCli(['plan'], { cwd: dir, env: { CF_TOKEN: TOKEN } });
    expect(r.code).toBe(0);
    const keys = await readdir(path.join(dir, '.mxpolicy/budget'));
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^[0-9a-f]{40}$/);
    const [file] = await readdir(path.join(dir, '.mxpolicy/budget', keys[0] ?? ''));
    const text = await readFile(
      path.join(dir, '.mxpolicy/budget', keys[0] ?? '', file ?? ''),
      'utf8',
    );
    expect(JSON.parse(text)).toMatchObject({ version: 1, windowMs: 300_000 });
    expect(text).not.toContain(TOKEN);
  });

  it('warns that a wider MXPOLICY_CLOUDFLARE_BUDGET is not used', async () => {
    const dir = await repo(ACCOUNT);
    const r = await runCli(['plan'], {
      cwd: dir,
      env: { CF_TOKEN: TOKEN, MXPOLICY_CLOUDFLARE_BUDGET: '5000/300' },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      'warning: MXPOLICY_CLOUDFLARE_BUDGET=5000/300 asks for more than the vendor allows (1200/300); it can only narrow the budget, so 1200/300 is used',
    );
  });

  it('fails at once, naming the wait, when the token is blocked past the --timeout', async () => {
    const dir = await repo(BLOCKED_ACCOUNT);
    // Another tool exceeds the token's budget: Cloudflare blocks it for 5 minutes.
    for (let i = 0; i < 3; i++)
      await request(`${emu.url}/accounts/${BLOCKED_ACCOUNT}/email-security/settings/domains`, {
        headers: { authorization: `Bearer ${BLOCKED_TOKEN}` },
      }).then((res) => res.body.dump());
    const before = emu.stats.requests;
    const started = Date.now();
    const r = await runCli(['plan', '--timeout', '1m'], {
      cwd: dir,
      env: { CF_TOKEN: BLOCKED_TOKEN },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /blocks every request of the Cloudflare API token in CF_TOKEN for 300 s \(until [0-9T:-]+Z\), past the command's deadline; nothing more was sent with it: re-run after/,
    );
    expect(r.stdout + r.stderr).not.toContain(BLOCKED_TOKEN);
    // One request met the block; nothing was retried.
    expect(emu.stats.requests - before).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
