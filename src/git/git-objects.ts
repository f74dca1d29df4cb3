import { spawn } from 'node:child_process';
import type { SimpleGit } from 'simple-git';
import type { PolicySource } from '../config/policy-set.js';
import { classifyPolicyPath } from '../sources/policy-files.js';

/** A file of the policies folder at one revision: where it is and which blob holds it. */
export interface PolicyTreeEntry extends Omit<PolicySource, 'text'> {
  blob: string;
}

/** Repository-relative POSIX form of the policies folder (`policies`, `infra/policies`). */
export function normalizePoliciesDir(policiesDir: string): string {
  const p = policiesDir.replaceAll('\\', '/').replace(/^\.\//, '').replace(/\/+$/, '');
  return p === '' ? '.' : p;
}

/** `git ls-tree` of the policies folder at `rev`: the tenant and bundle files and their blobs. */
export async function listPolicyFiles(
  git: SimpleGit,
  rev: string,
  policiesDir: string,
): Promise<PolicyTreeEntry[]> {
  const dir = normalizePoliciesDir(policiesDir);
  const out = await git.raw([
    'ls-tree',
    '-r',
    '-z',
    '--full-tree',
    rev,
    '--',
    ...(dir === '.' ? [] : [dir]),
  ]);
  const files: PolicyTreeEntry[] = [];
  for (const record of out.split('\0')) {
    const tab = record.indexOf('\t');
    if (tab < 0) continue;
    const [, type, blob] = record.slice(0, tab).split(' ');
    if (type !== 'blob' || blob === undefined) continue;
    const classified = classifyPolicyPath(record.slice(tab + 1), dir);
    if (classified !== undefined) files.push({ ...classified, blob });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Read many blobs with one `git cat-file --batch` process. simple-git cannot feed stdin,
 * so this spawns git itself, in the repository the injected SimpleGit works on.
 */
export async function readBlobs(
  git: SimpleGit,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  const result = new Map<string, string>();
  if (unique.length === 0) return result;
  const gitDir = (await git.revparse(['--absolute-git-dir'])).trim();
  const output = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    const errors: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => errors.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(chunks));
      else
        reject(
          new Error(
            `git cat-file --batch exited with ${String(code)}: ${Buffer.concat(errors).toString()}`,
          ),
        );
    });
    child.stdin.on('error', reject);
    child.stdin.end(unique.join('\n') + '\n');
  });
  let at = 0;
  while (at < output.length) {
    const eol = output.indexOf(0x0a, at);
    if (eol < 0) break;
    const header = output.toString('utf8', at, eol).split(' ');
    at = eol + 1;
    const [id, type, size] = header;
    if (id === undefined || type === 'missing' || size === undefined) continue;
    const length = Number(size);
    result.set(id, output.toString('utf8', at, at + length));
    at += length + 1;
  }
  for (const id of unique)
    if (!result.has(id)) throw new Error(`git object ${id} is missing from the repository`);
  return result;
}

/** The tenant and bundle files of the policies folder as they were at `rev`. */
export async function readPolicySourcesAt(
  git: SimpleGit,
  rev: string,
  policiesDir: string,
): Promise<PolicySource[]> {
  const files = await listPolicyFiles(git, rev, policiesDir);
  const blobs = await readBlobs(
    git,
    files.map((f) => f.blob),
  );
  return files.map(({ blob, ...f }) => ({ ...f, text: blobs.get(blob) ?? '' }));
}
