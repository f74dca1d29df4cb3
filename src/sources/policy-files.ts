import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { PolicySource } from '../config/policy-set.js';

const YAML_FILE = /^(.+)\.ya?ml$/;

/** Classify a repository path as a tenant or bundle file of the policies folder. */
export function classifyPolicyPath(
  relPath: string,
  policiesDir: string,
): Omit<PolicySource, 'text'> | undefined {
  const posix = relPath.split(path.sep).join('/');
  const prefix = policiesDir.split(path.sep).join('/').replace(/\/+$/, '').replace(/^\.\//, '');
  const rest =
    prefix === '' || prefix === '.'
      ? posix
      : posix.startsWith(prefix + '/')
        ? posix.slice(prefix.length + 1)
        : undefined;
  if (rest === undefined) return undefined;
  const [folder, file, ...more] = rest.split('/');
  if (more.length > 0 || file === undefined) return undefined;
  const m = YAML_FILE.exec(file);
  if (m?.[1] === undefined) return undefined;
  if (folder === 'tenants') return { path: posix, kind: 'tenant', name: m[1] };
  if (folder === 'bundles') return { path: posix, kind: 'bundle', name: m[1] };
  return undefined;
}

/**
 * Read every tenant and bundle file under `<root>/<policiesDir>` from the working tree.
 * Paths in the result are relative to `root`, as diagnostics print them.
 */
export async function readPolicySources(
  root: string,
  policiesDir: string,
): Promise<PolicySource[]> {
  const rel = path.relative(root, path.resolve(root, policiesDir)) || '.';
  const out: PolicySource[] = [];
  for (const folder of ['tenants', 'bundles']) {
    let names: string[];
    try {
      names = await readdir(path.join(root, rel, folder));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const files = names
      .sort()
      .map((n) => classifyPolicyPath(path.join(rel, folder, n), rel))
      .filter((f): f is Omit<PolicySource, 'text'> => f !== undefined);
    out.push(
      ...(await Promise.all(
        files.map(async (f) => ({ ...f, text: await readFile(path.join(root, f.path), 'utf8') })),
      )),
    );
  }
  return out;
}
