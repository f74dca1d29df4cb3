import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../src/plan/types.js';
import { loadContract } from './emulators/cloudflare/contract.js';
import {
  startCloudflareEmulator,
  type CloudflareEmulator,
} from './emulators/cloudflare/emulator.js';
import { runCli } from './support/cli.js';
import { createTempRepo, type TempRepo } from './support/temp-repo.js';

/**
 * `--changed-since` and `propose` end to end on the Cloudflare emulator: plans limited to
 * the keys that changed read only those keys (one filtered request per tenant), say so in
 * every format, and apply with the same selection matches the reviewed checksum; drift and
 * an unlimited apply still read everything.
 */

const TOKEN = 'cf-targeted-test-token-0000';
const accountOf = (i: number): string => `${i}`.padStart(32, 'c');
const TENANTS = ['a', 'b', 'c'];
const BASELINE = Array.from({ length: 1200 }, (_, i) => `base${i}.example`);

let emu: CloudflareEmulator;
let repo: TempRepo;
const env = { CF_TOKEN: TOKEN };
const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env });
const marked = (pattern: string): Record<string, unknown> => ({
  pattern,
  pattern_type: 'DOMAIN',
  is_regex: false,
  comments: '[mxpolicy] baseline',
});

beforeAll(async () => {
  emu = await startCloudflareEmulator({ contract: loadContract(), recordRequests: true });
  repo = createTempRepo('mxpolicy-targeted-');
  repo.write('.gitignore', '.mxpolicy/\n');
  repo.write(
    'policies/bundles/baseline.yaml',
    `bundle: baseline\nblockedSenders:\n${BASELINE.map((s) => `  - sender: ${s}\n    reason: baseline\n`).join('')}`,
  );
  TENANTS.forEach((t, i) => {
    const account = emu.addAccount(accountOf(i), TOKEN);
    // a and b include the baseline and have it live already; c has one sender of its own.
    account.seed(
      'block_senders',
      t === 'c' ? [marked('own.example')] : BASELINE.map((s) => marked(s)),
    );
    repo.write(
      `policies/tenants/${t}.yaml`,
      [
        `tenant: ${t}`,
        'providers:',
        `  gateway: { type: cloudflare, account: ${accountOf(i)}, tokenEnv: CF_TOKEN, baseUrl: '${emu.url}' }`,
        `domains: [${t}.example]`,
        t === 'c'
          ? 'blockedSenders:\n  - sender: own.example\n    reason: baseline'
          : 'include: [baseline]',
        '',
      ].join('\n'),
    );
  });
  repo.commit('Initial policies');
});
afterAll(async () => {
  expect(emu.violations).toEqual([]);
  await emu.close();
  repo.cleanup();
});

const gets = (): string[] =>
  emu.log
    .filter((r) => r.method === 'GET')
    .map((r) => `${r.path.split('/settings/')[1]}?${r.query}`);

describe('plans limited to the keys that changed', () => {
  it('plan --changed-since reads one filtered key per affected tenant and says so; apply matches it', async () => {
    repo.run(['checkout', '-q', '-b', 'block-evil']);
    repo.write(
      'policies/bundles/baseline.yaml',
      `${repo.run(['show', 'HEAD:policies/bundles/baseline.yaml'])}\n  - sender: evil.example\n    reason: campaign INC-1\n`,
    );
    repo.commit('Block evil.example everywhere');

    emu.resetStats();
    const json = await cli(['plan', '--changed-since', 'main', '--format', 'json']);
    expect(json.code).toBe(0);
    const plan = JSON.parse(json.stdout) as Plan;
    expect(plan.read).toEqual({ mode: 'targeted', keys: 2, tenants: 2, fullTenants: 0 });
    expect(plan.tenants.map((t) => [t.tenant, t.read, t.changes.map((c) => c.key)])).toEqual([
      ['a', { mode: 'targeted', keys: 1 }, ['evil.example']],
      ['b', { mode: 'targeted', keys: 1 }, ['evil.example']],
    ]);
    // One request per tenant, instead of 2 pages of senders + exemptions + domains.
    expect(gets()).toEqual([
      'block_senders?pattern=evil.example&page=1&per_page=1000',
      'block_senders?pattern=evil.example&page=1&per_page=1000',
    ]);

    const text = await cli(['plan', '--changed-since', 'main']);
    expect(text.stdout).toContain('read: targeted (2 keys in 2 tenants)');
    const markdown = await cli(['plan', '--changed-since', 'main', '--format', 'markdown']);
    expect(markdown.stdout).toContain('read: targeted (2 keys in 2 tenants): only the entries');

    // The reviewed checksum holds for an apply that selects the same way.
    emu.resetStats();
    const applied = await cli([
      'apply',
      '--no-receipt',
      '--changed-since',
      'main',
      '--checksum',
      plan.checksum,
    ]);
    expect(applied.stderr).toBe(
      '--changed-since main (merge base ' +
        repo.run(['rev-parse', 'main']).slice(0, 10) +
        '): 2 of 3 tenant(s) changed: a, b\n',
    );
    expect(applied.code).toBe(0);
    // 2 filtered reads + 2 creates + 2 filtered re-reads that look for a concurrent run's copy
    expect(emu.stats.requests).toBe(6);
    expect(emu.log.filter((r) => r.method === 'POST').map((r) => r.path)).toHaveLength(2);
  });

  it('--full-read plans the selected tenants whole', async () => {
    emu.resetStats();
    const full = await cli(['plan', '--changed-since', 'main', '--full-read', '--format', 'json']);
    const plan = JSON.parse(full.stdout) as Plan;
    expect(plan.read).toEqual({ mode: 'full' });
    expect(plan.tenants.map((t) => t.tenant)).toEqual(['a', 'b']);
    // Every listing of the declared kinds; never domains: no tenant declares a route.
    expect(gets().filter((g) => g.startsWith('domains'))).toEqual([]);
    expect(emu.stats.requests).toBe(2 * (2 + 1));
  });

  it('drift and an unlimited apply read every declared kind in full', async () => {
    // A hand edit in c's gateway: drift finds it although no policy changed there.
    emu.account(accountOf(2)).seed('block_senders', [
      {
        pattern: 'by-hand.example',
        pattern_type: 'DOMAIN',
        is_regex: false,
        comments: '[mxpolicy] hand',
      },
    ]);
    emu.resetStats();
    const drift = await cli(['drift', '--format', 'json']);
    expect(drift.code).toBe(2);
    const plan = JSON.parse(drift.stdout) as Plan;
    expect(plan.read).toEqual({ mode: 'full' });
    expect(plan.tenants.find((t) => t.tenant === 'c')?.changes.map((c) => c.key)).toEqual([
      'by-hand.example',
    ]);
    // a, b: 2 pages of senders + 1 of exemptions; c: 1 + 1; no domains anywhere.
    expect(emu.stats.requests).toBe(3 + 3 + 2);
    expect(gets().filter((g) => g.startsWith('domains'))).toEqual([]);

    // apply without a limit repairs it, after the same full reads.
    emu.resetStats();
    const applied = await cli(['apply', '--no-receipt', '--format', 'json']);
    expect(applied.code).toBe(0);
    expect(gets()).toHaveLength(8);
    expect(emu.log.filter((r) => r.method === 'DELETE')).toHaveLength(1);
  });

  it('propose plans only the entry it adds, as the pull request and the merge will', async () => {
    emu.resetStats();
    const run = await cli([
      'propose',
      'block',
      'worse.example',
      '--bundle',
      'baseline',
      '--reason',
      'campaign INC-2',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Plan for 2 affected tenant(s): 2 to create');
    expect(run.stdout).toContain('read: targeted (2 keys in 2 tenants)');
    expect(gets()).toEqual([
      'block_senders?pattern=worse.example&page=1&per_page=1000',
      'block_senders?pattern=worse.example&page=1&per_page=1000',
    ]);
    // The pull request's plan sees the same keys, so the same checksum.
    repo.commit('Propose worse.example');
    const pr = JSON.parse(
      (await cli(['plan', '--changed-since', 'HEAD~1', '--format', 'json'])).stdout,
    ) as Plan;
    expect(pr.tenants.flatMap((t) => t.changes.map((c) => `${t.tenant} ${c.key}`))).toEqual([
      'a worse.example',
      'b worse.example',
    ]);
  });
});
