import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyReport } from '../src/plan/types.js';
import { parseDuration } from '../src/cli/deadline.js';
import { loadContract } from './emulators/cloudflare/contract.js';
import {
  startCloudflareEmulator,
  type CloudflareEmulator,
} from './emulators/cloudflare/emulator.js';
import { runCli, tempDir } from './support/cli.js';

const ACCOUNT = '0123456789abcdef0123456789abcdef';
const TOKEN = 'cf-timeout-test-token-0000';

let emu: CloudflareEmulator;
beforeAll(async () => {
  emu = await startCloudflareEmulator({ contract: loadContract() });
  emu.addAccount(ACCOUNT, TOKEN);
});
afterAll(async () => {
  await emu.close();
});

async function repo(): Promise<string> {
  const dir = await tempDir('mxpolicy-timeout-');
  await mkdir(path.join(dir, 'policies/tenants'), { recursive: true });
  await writeFile(
    path.join(dir, 'policies/tenants/slow.yaml'),
    [
      'tenant: slow',
      'providers:',
      `  gateway: { type: cloudflare, account: ${ACCOUNT}, tokenEnv: CF_TOKEN, baseUrl: '${emu.url}', kinds: [blockedSenders] }`,
      'domains: [slow.example]',
      'blockedSenders:',
      '  - sender: spam.example',
      '    reason: test',
      '',
    ].join('\n'),
  );
  return dir;
}

describe('--timeout', () => {
  it('reads durations as 90s, 15m, 1h30m or bare seconds; 0 means none', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('45')).toBe(45_000);
    expect(parseDuration('0')).toBe(0);
    expect(() => parseDuration('soon')).toThrow(
      "--timeout must look like 90s, 15m, 1h or 1h30m (got 'soon')",
    );
    expect(() => parseDuration('')).toThrow(/--timeout must look like/);
  });

  it('gives up on a slow vendor at the deadline: the tenant is an error, exit 1', async () => {
    const dir = await repo();
    emu.setLatency(4_000);
    const started = Date.now();
    const r = await runCli(['plan', '--timeout', '1s'], { cwd: dir, env: { CF_TOKEN: TOKEN } });
    const took = Date.now() - started;
    emu.setLatency(0);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('the --timeout of 1s passed');
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    expect(took).toBeLessThan(3_500);
    // Without the latency the same plan succeeds within the deadline.
    const ok = await runCli(['plan', '--timeout', '1m', '--detailed-exitcode'], {
      cwd: dir,
      env: { CF_TOKEN: TOKEN },
    });
    expect(ok.code).toBe(2);
    expect(ok.stdout).toMatch(/slow: 1 to create/);
  });

  it('refuses a malformed --timeout before reading anything, and documents it in --help', async () => {
    const dir = await repo();
    const before = emu.stats.requests;
    const r = await runCli(['apply', '--timeout', 'soon'], { cwd: dir, env: { CF_TOKEN: TOKEN } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--timeout must look like 90s, 15m, 1h or 1h30m (got 'soon')");
    expect(emu.stats.requests).toBe(before);
    for (const cmd of ['plan', 'apply', 'drift']) {
      const help = await runCli([cmd, '--help'], { cwd: dir });
      expect(help.stdout).toMatch(/--timeout <duration>\s+give up talking to vendors/);
      expect(help.stdout).toMatch(/\(default:\s+"30m"\)/);
    }
  });
});

describe('--tenant-timeout', () => {
  const HUNG = 'fedcba9876543210fedcba9876543210';
  const HUNG_TOKEN = 'cf-timeout-test-token-hung';

  it('fails a tenant whose API never answers at its own deadline, while the others are applied', async () => {
    const dir = await repo();
    emu.addAccount(HUNG, HUNG_TOKEN);
    await writeFile(
      path.join(dir, 'policies/tenants/hung.yaml'),
      [
        'tenant: hung',
        'providers:',
        `  gateway: { type: cloudflare, account: ${HUNG}, tokenEnv: CF_HUNG_TOKEN, baseUrl: '${emu.url}', kinds: [blockedSenders] }`,
        'domains: [hung.example]',
        'blockedSenders:',
        '  - sender: spam.example',
        '    reason: test',
        '',
      ].join('\n'),
    );
    // The hung account's API accepts the connection and never answers.
    emu.inject({ path: new RegExp(`^/accounts/${HUNG}/`), fault: 'timeout', times: 1_000 });
    // Collect garbage all along: the deadline must not depend on what is still referenced
    // (Node 20's AbortSignal.any holds its sources weakly).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collect = setInterval(gc, 10);
    const started = Date.now();
    try {
      const r = await runCli(['apply', '--tenant-timeout', '1s', '--format', 'json'], {
        cwd: dir,
        env: { CF_TOKEN: TOKEN, CF_HUNG_TOKEN: HUNG_TOKEN },
      });
      const took = Date.now() - started;
      expect(r.code).toBe(1);
      const report = JSON.parse(r.stdout) as ApplyReport;
      expect(report.tenants.map((t) => [t.tenant, t.status])).toEqual([
        ['hung', 'skipped'],
        ['slow', 'applied'],
      ]);
      expect(r.stdout + r.stderr).not.toContain(HUNG_TOKEN);
      // Not 5 attempts × the 30 s headers timeout.
      expect(took).toBeLessThan(6_000);
      expect(report.tenants[0]?.reason).toContain(
        "block_senders: the tenant's time limit (--tenant-timeout, 1 s) passed; nothing is planned for this tenant",
      );
    } finally {
      clearInterval(collect);
      emu.clearFaults();
    }
  }, 30_000);
});
