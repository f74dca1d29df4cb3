import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE, buildActionBundle } from '../scripts/bundle-action.js';
import { exampleRepo } from './support/cli.js';

describe('the bundled action (action/dist/mxpolicy.mjs)', () => {
  it('is up to date with the sources (run `npm run bundle:action` and commit)', async () => {
    const built = await buildActionBundle();
    const committed = readFileSync(BUNDLE, 'utf8');
    expect(committed.length).toBe(built.length);
    expect(committed === built).toBe(true);
  });

  it('runs on its own: validate and plan the example policies', async () => {
    const dir = await exampleRepo();
    const out = execFileSync(process.execPath, [BUNDLE, 'validate'], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '' },
    });
    expect(out).toMatch(/^ok: 3 tenant\(s\), 1 bundle\(s\)/);
    const plan = JSON.parse(
      execFileSync(process.execPath, [BUNDLE, 'plan', '--format', 'json'], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env['PATH'] ?? '' },
      }),
    ) as { summary: { create: number } };
    expect(plan.summary.create).toBeGreaterThan(0);
    expect(path.relative(path.dirname(BUNDLE), path.resolve('schemas'))).toBe('../../schemas');
  });
});
