import { readdir, readFile, stat } from 'node:fs/promises';
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
    names.sort();
    const files = names
      .map((n) => classifyPolicyPath(path.join(rel, folder, n), rel))
      .filter((f): f is Omit<PolicySource, 'text'> => f !== undefined);
    out.push(...(await Promise.all(files.map((f) => readPolicyFile(root, f)))));
    // `ACME.YAML`, `acme.Yml`: almost certainly meant as policy files, never silently ignored.
    for (const n of names) {
      const m = /^(.+)\.(ya?ml)$/i.exec(n);
      if (m?.[1] === undefined || YAML_FILE.test(n)) continue;
      const posix = [rel, folder, n].join('/').replace(/^\.\//, '');
      out.push({
        path: posix,
        kind: folder === 'tenants' ? 'tenant' : 'bundle',
        name: m[1],
        text: '',
        unreadable: {
          code: 'FILE_EXTENSION',
          message: `policy files end in .yaml or .yml (lower case); rename it to ${m[1]}.yaml`,
        },
      });
    }
  }
  return out;
}

/**
 * Read one policy file. Anything that is not a regular file (a directory, a FIFO, which
 * would block a plain read forever, a dangling symlink) or cannot be read becomes a
 * per-file problem instead of aborting the whole run.
 */
async function readPolicyFile(root: string, f: Omit<PolicySource, 'text'>): Promise<PolicySource> {
  const full = path.join(root, f.path);
  const unreadable = (message: string): PolicySource => ({
    ...f,
    text: '',
    unreadable: { code: 'FILE_UNREADABLE', message },
  });
  try {
    const info = await stat(full);
    if (info.isDirectory()) return unreadable('is a directory, not a policy file');
    if (!info.isFile())
      return unreadable(
        'is not a regular file (a FIFO, socket or device); policy files are plain files',
      );
    return { ...f, text: await readFile(full, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return unreadable('is a symbolic link to a file that does not exist');
    if (code === 'ELOOP') return unreadable('is a symbolic link loop');
    if (code === 'EACCES') return unreadable('cannot be read (permission denied)');
    return unreadable(`cannot be read (${code ?? String(err)})`);
  }
}
