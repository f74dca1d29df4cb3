import { existsSync } from 'node:fs';
import path from 'node:path';

/** The root of this repository (two folders above this file). */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * A file kept in this repository, e.g. a vendor contract under `contracts/`. Throws when it
 * is missing: a test without its contract must fail, never pass on nothing.
 */
export function repoFile(relative: string): string {
  const file = path.join(REPO_ROOT, relative);
  if (!existsSync(file)) throw new Error(`${relative} is missing from the repository`);
  return file;
}
