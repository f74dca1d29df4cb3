import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/repo-file.js';

/** Every file git tracks (and any new file not yet committed), relative to the root. */
function projectFiles(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => f !== '');
}

// Places a program could read from outside the clone: the steering folder beside it, or a
// path climbing out of the repository.
const OUTSIDE = [
  /\.\.\/shared\b/,
  /['"`]shared\/(vendor-apis|contracts)/,
  /path\.(join|resolve)\([^)]*['"]\.\.['"][^)]*['"]shared['"]/,
];
const CODE = /\.(ts|js|mjs|cjs|json|ya?ml|sh)$|^\.ci\/run$|^package\.json$/;
const SELF = 'test/self-contained.test.ts';

describe('the repository stands alone', () => {
  it('no program, test, benchmark, script or workflow names a path outside the clone', () => {
    const offenders: string[] = [];
    for (const file of projectFiles()) {
      if (file === SELF || !CODE.test(file) || file.startsWith('contracts/')) continue;
      const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
      text.split('\n').forEach((line, i) => {
        if (OUTSIDE.some((re) => re.test(line))) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('catches a test that would read ../shared', () => {
    const sample = "const c = readFileSync('../shared/vendor-apis/cloudflare/x.json');";
    expect(OUTSIDE.some((re) => re.test(sample))).toBe(true);
  });

  describe('in a copy with nothing beside it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mxpolicy-alone-'));
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('the contract-driven tests pass and the emulator starts', async () => {
      const copy = path.join(dir, 'p');
      mkdirSync(copy);
      for (const file of projectFiles()) {
        if (file.startsWith('node_modules/')) continue;
        cpSync(path.join(REPO_ROOT, file), path.join(copy, file), { recursive: true });
      }
      symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
      execFileSync(
        process.execPath,
        [
          'node_modules/vitest/vitest.mjs',
          'run',
          'test/emulators/cloudflare/emulator.test.ts',
          'test/github/github-api.test.ts',
        ],
        { cwd: copy, stdio: 'pipe', env: { ...process.env, CI: 'true' } },
      );

      // `npm run emulator` starts and prints the binding to paste, then is stopped.
      const child = spawn(
        process.execPath,
        ['node_modules/tsx/dist/cli.mjs', 'test/emulators/cloudflare/serve.ts'],
        { cwd: copy, env: { ...process.env, PORT: '0' } },
      );
      const out = await new Promise<string>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => {
          reject(new Error(`emulator did not start: ${text}`));
        }, 20_000);
        child.stdout.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('baseUrl')) {
            clearTimeout(timer);
            resolve(text);
          }
        });
        child.on('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`emulator exited with ${String(code)}: ${text}`));
        });
      }).finally(() => child.kill());
      expect(out).toMatch(/http:\/\/127\.0\.0\.1:\d+/);
    }, 120_000);
  });
});
