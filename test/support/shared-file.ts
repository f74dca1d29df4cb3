import { existsSync } from 'node:fs';
import path from 'node:path';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * A file of the project's `shared/` folder (vendor contracts, GitHub's OpenAPI): CI lays it
 * out beside the clone (`../shared`); a git worktree nested deeper finds it in the nearest
 * ancestor that has it. Throws when it is missing: a test without its contract must fail.
 */
export function sharedFile(relative: string): string {
  for (let dir = path.dirname(REPO_ROOT); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared', relative);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`shared/${relative} not found beside ${REPO_ROOT} or in any folder above it`);
}
