import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { REPO_ROOT } from './cli.js';

/**
 * Compare with `test/golden/<name>`. `UPDATE_GOLDEN=1 npx vitest run` rewrites the files;
 * review the diff before committing. A missing golden file fails (never silently passes).
 */
export function expectGolden(name: string, actual: string): void {
  const file = path.join(REPO_ROOT, 'test/golden', name);
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(file, actual);
  expect(existsSync(file), `golden file ${name} is missing (run with UPDATE_GOLDEN=1)`).toBe(true);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}
