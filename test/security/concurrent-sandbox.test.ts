import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, tempDir } from '../support/cli.js';

const TSX = path.join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs');
const RUNNER = path.join(REPO_ROOT, 'test/security/run-cli.ts');

/** The CLI in its own process. */
function mxpolicy(
  cwd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, RUNNER, ...args], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const tenant = (hold: string, sender: string): string =>
  `tenant: acme\nproviders:\n  sandbox: { type: sandbox }\ndomains: [acme.eu]\nblockedSenders:\n  - sender: ${sender}\n    reason: r\nholds:\n  - id: ${hold}\n    matter: m\n    custodians: [a@acme.eu]\n`;

const FILLER = 20_000;

describe('two applies at the same instant on the sandbox', () => {
  it('lose nothing: each re-reads the state under the lock file', async () => {
    const root = await tempDir('mxpolicy-race-');
    for (const [name, hold, sender] of [
      ['one', 'LH-1', 'one.example'],
      ['two', 'LH-2', 'two.example'],
    ] as const) {
      await mkdir(path.join(root, name, 'tenants'), { recursive: true });
      await writeFile(path.join(root, name, 'tenants/acme.yaml'), tenant(hold, sender));
    }
    let bothApplied = 0;
    const ROUNDS = 2;
    for (let round = 0; round < ROUNDS; round++) {
      const state = path.join(root, `state-${round}`);
      const env = { MXPOLICY_SANDBOX_DIR: state };
      // Hold the tenant's lock while both runs start and plan (an empty tenant each), then
      // let go: both reach the write at the same instant, the race the lock exists for.
      await mkdir(state, { recursive: true });
      // Entries someone added by hand (unmanaged, never touched): a state this size takes
      // each run a while to read, change and write, so the two writes overlap unless the
      // lock makes them take turns (without it, this test loses a hold).
      await writeFile(
        path.join(state, 'acme.json'),
        JSON.stringify({
          blockedSenders: Array.from({ length: FILLER }, (_, i) => ({
            sender: `by-hand-${i}.example`,
            reason: 'added in the console',
          })),
        }),
      );
      await writeFile(path.join(state, 'acme.json.lock'), 'test');
      const started = Promise.all(
        ['one', 'two'].map((p) =>
          mxpolicy(root, ['apply', '--policies', p, '--format', 'json'], env),
        ),
      );
      // Long enough for two cold starts on a busy 2-core runner.
      await new Promise((r) => setTimeout(r, 12_000));
      await rm(path.join(state, 'acme.json.lock'));
      const runs = await started;
      // A run that planned after the other wrote sees a hold it does not declare: the hold
      // guard blocks it (exit 3) and it writes nothing. Either way nothing may be lost.
      const applied: string[] = [];
      for (const r of runs) {
        expect([0, 3], r.stderr).toContain(r.code);
        const report = JSON.parse(r.stdout) as {
          tenants: { results: { key: string; status: string }[] }[];
        };
        for (const t of report.tenants)
          for (const x of t.results) if (x.status === 'applied') applied.push(x.key);
      }
      if (runs.every((r) => r.code === 0)) bothApplied++;
      const live = JSON.parse(await readFile(path.join(state, 'acme.json'), 'utf8')) as {
        holds: { id: string }[];
        blockedSenders: { sender: string }[];
      };
      const keys = [...live.holds.map((h) => h.id), ...live.blockedSenders.map((s) => s.sender)];
      expect(new Set(keys).size).toBe(keys.length); // no duplicate
      for (const k of applied) expect(keys, `${k} was reported applied`).toContain(k);
    }
    expect(bothApplied).toBe(ROUNDS);
  }, 180_000);
});

describe('the sandbox stays inside the repository', () => {
  const repo = async (dir: string): Promise<string> => {
    const root = await tempDir('mxpolicy-confine-');
    await mkdir(path.join(root, 'policies/tenants'), { recursive: true });
    await writeFile(
      path.join(root, 'policies/tenants/package.yaml'),
      `tenant: package\nproviders:\n  sandbox: { type: sandbox, dir: '${dir}' }\ndomains: [acme.eu]\nblockedSenders:\n  - sender: evil.example\n    reason: r\n`,
    );
    await writeFile(path.join(root, 'package.json'), '{ "name": "victim" }\n');
    return root;
  };

  it.each(['.', '..', '../elsewhere', '/tmp', 'state/../..', './'])(
    "validate refuses dir '%s' with file:line:col",
    async (dir) => {
      const cwd = await repo(dir);
      const r = await runCli(['validate'], { cwd });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(
        /policies\/tenants\/package\.yaml:3:\d+: error PATH_OUTSIDE_REPOSITORY/,
      );
      const apply = await runCli(['apply'], { cwd });
      expect(apply.code).toBe(1);
      expect(await readFile(path.join(cwd, 'package.json'), 'utf8')).toBe('{ "name": "victim" }\n');
    },
  );

  it('never rewrites a file that is not a sandbox state file', async () => {
    const cwd = await repo('conf');
    await mkdir(path.join(cwd, 'conf'));
    await writeFile(path.join(cwd, 'conf/package.json'), '{ "name": "victim" }\n');
    const r = await runCli(['apply'], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('is not a sandbox state file');
    expect(await readFile(path.join(cwd, 'conf/package.json'), 'utf8')).toBe(
      '{ "name": "victim" }\n',
    );
  });

  it('refuses a state folder that a symbolic link takes outside the repository', async () => {
    const cwd = await repo('state');
    const outside = await tempDir('mxpolicy-outside-');
    await symlink(outside, path.join(cwd, 'state'));
    const r = await runCli(['apply'], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('through a symbolic link');
    await expect(readFile(path.join(outside, 'package.json'), 'utf8')).rejects.toThrow(/ENOENT/);
  });
});
