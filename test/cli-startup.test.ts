import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../src/plan/types.js';
import { loadContract } from './emulators/cloudflare/contract.js';
import {
  startCloudflareEmulator,
  type CloudflareEmulator,
} from './emulators/cloudflare/emulator.js';
import { REPO_ROOT } from './support/cli.js';

/**
 * What the CLI loads before it talks to a vendor: a plan, an apply or a drift check loads
 * neither git (simple-git), nor GitHub (octokit), nor the `yaml` library (needed only to
 * place an error precisely), nor undici's whole index (fetch, WebSocket, mocks): each one
 * delays the first request. Run in a process of its own against the Cloudflare emulator:
 * the modules of dist/cli/ with a preload that lists the CommonJS packages the process
 * loaded (the bundle bin/mxpolicy.js runs splits where these modules import dynamically),
 * and the bundle itself, as a user runs it.
 */

const run = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin/mxpolicy.js');
const TOKEN = 'cf-startup-test-token-00000';
const ACCOUNT = 'd'.repeat(32);

let emu: CloudflareEmulator;
let dir: string;
let preload: string;
let modulesEntry: string;

beforeAll(async () => {
  emu = await startCloudflareEmulator({ contract: loadContract(), recordRequests: true });
  emu.addAccount(ACCOUNT, TOKEN);
  dir = await mkdtemp(path.join(tmpdir(), 'mxpolicy-startup-'));
  await mkdir(path.join(dir, 'policies', 'tenants'), { recursive: true });
  await writeFile(
    path.join(dir, 'policies', 'tenants', 'acme.yaml'),
    [
      'tenant: acme',
      'providers:',
      `  gateway: { type: cloudflare, account: ${ACCOUNT}, tokenEnv: CF_TOKEN, baseUrl: '${emu.url}' }`,
      'domains: [acme.example]',
      'blockedSenders:',
      '  - sender: evil.example',
      '    reason: campaign INC-7',
      '',
    ].join('\n'),
  );
  modulesEntry = path.join(dir, 'modules-entry.mjs');
  await writeFile(
    modulesEntry,
    `import { main } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'dist/cli/main.js')).href)};\nprocess.exitCode = await main(process.argv);\n`,
  );
  preload = path.join(dir, 'list-loaded.cjs');
  await writeFile(
    preload,
    `process.on('exit', () => { require('node:fs').writeFileSync(process.env.LOADED_LIST, JSON.stringify(Object.keys(require.cache))); });\n`,
  );
});
afterAll(async () => {
  expect(emu.violations).toEqual([]);
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Run the CLI from the modules of dist/cli/ (`loaded`: the package files below node_modules/
 * the process loaded), or with `bin`, the binary (the bundle) as a user runs it.
 */
async function mxpolicy(
  args: string[],
  cwd = dir,
  bin = false,
): Promise<{ code: number; stdout: string; stderr: string; loaded: string[] }> {
  const list = path.join(dir, `loaded-${args[0] ?? ''}.json`);
  const env = {
    PATH: process.env['PATH'] ?? '',
    CF_TOKEN: TOKEN,
    MXPOLICY_BUDGET_STATE: 'off',
    LOADED_LIST: list,
  };
  let out: { code: number; stdout: string; stderr: string };
  try {
    const entry = bin ? BIN : modulesEntry;
    const { stdout, stderr } = await run(process.execPath, ['--require', preload, entry, ...args], {
      cwd,
      env,
    });
    out = { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    out = { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
  const files = JSON.parse(await readFile(list, 'utf8')) as string[];
  const loaded = files
    .filter((f) => f.includes(`${path.sep}node_modules${path.sep}`))
    .map((f) => f.slice(f.lastIndexOf(`node_modules${path.sep}`) + 'node_modules/'.length))
    .map((f) => f.split(path.sep).join('/'));
  return { ...out, loaded };
}

const packagesOf = (loaded: string[]): Set<string> =>
  new Set(
    loaded.map((f) => {
      const [scope, name] = f.split('/');
      return scope?.startsWith('@') === true ? `${scope}/${name ?? ''}` : (scope ?? '');
    }),
  );

describe('start-up: a command loads only what it uses before its first request', () => {
  it('plan reads live state through undici without its index, git, GitHub or yaml', async () => {
    emu.resetStats();
    const r = await mxpolicy(['plan', '--format', 'json']);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.tenants.map((t) => [t.tenant, t.status, t.changes.map((c) => c.key)])).toEqual([
      ['acme', 'ok', ['evil.example']],
    ]);
    expect(emu.log.filter((q) => q.method === 'GET').length).toBeGreaterThan(0);
    // The requests went through undici's Agent, loaded by itself.
    expect(r.loaded).toContain('undici/lib/dispatcher/agent.js');
    expect(r.loaded).not.toContain('undici/index.js');
    const packages = packagesOf(r.loaded);
    for (const unused of ['yaml', 'simple-git', '@simple-git/args-pathspec', 'octokit'])
      expect(packages).not.toContain(unused);
  });

  it('apply writes through the same Agent, and drift loads no more than plan', async () => {
    const apply = await mxpolicy(['apply', '--format', 'json']);
    expect(apply.code).toBe(0);
    expect(emu.log.some((q) => q.method === 'POST')).toBe(true);
    expect(apply.loaded).not.toContain('undici/index.js');
    expect(packagesOf(apply.loaded)).not.toContain('yaml');
    expect(packagesOf(apply.loaded)).not.toContain('simple-git');

    const drift = await mxpolicy(['drift', '--format', 'json']);
    expect(drift.code).toBe(0);
    expect(drift.loaded).not.toContain('undici/index.js');
    for (const unused of ['yaml', 'simple-git', 'octokit', 'bottleneck'])
      expect(packagesOf(drift.loaded)).not.toContain(unused);
  });

  it('validate of correct files never loads yaml; a broken file does, and is placed exactly', async () => {
    const ok = await mxpolicy(['validate']);
    expect(ok.code).toBe(0);
    expect(packagesOf(ok.loaded)).not.toContain('yaml');

    const broken = await mkdtemp(path.join(dir, 'broken-'));
    await mkdir(path.join(broken, 'policies', 'tenants'), { recursive: true });
    await writeFile(
      path.join(broken, 'policies', 'tenants', 'acme.yaml'),
      'tenant: acme\ndomains: [acme.example]\ndomains: [other.example]\n',
    );
    const bad = await mxpolicy(['validate'], broken);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('policies/tenants/acme.yaml:3:1: error YAML_DUPLICATE_KEY');
    expect(packagesOf(bad.loaded)).toContain('yaml');
    // The bundle loads the same library lazily, from itself (no node_modules needed).
    const bundled = await mxpolicy(['validate'], broken, true);
    expect(bundled.code).toBe(1);
    expect(bundled.stdout).toBe(bad.stdout);
    expect(packagesOf(bundled.loaded)).not.toContain('yaml');
  });

  it('the binary (the bundle) plans through the same HTTP client as the modules', async () => {
    emu.resetStats();
    const bundled = await mxpolicy(['plan', '--format', 'json'], dir, true);
    expect(bundled.code).toBe(0);
    const requests = emu.log.length;
    expect(requests).toBeGreaterThan(0);
    emu.resetStats();
    const modules = await mxpolicy(['plan', '--format', 'json']);
    expect(modules.code).toBe(0);
    expect(emu.log.length).toBe(requests);
    const strip = (text: string): unknown => ({ ...(JSON.parse(text) as Plan), generatedAt: '' });
    expect(strip(bundled.stdout)).toEqual(strip(modules.stdout));
    // Nothing of the bundle comes from node_modules: it stands alone.
    expect(bundled.loaded).toEqual([]);
  });
});
