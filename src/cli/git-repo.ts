import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { CliContext } from './context.js';

export interface Repository {
  /** Works in the top level: paths given to git are repository-relative. */
  git: SimpleGit;
  /** Absolute path of the work tree's top level. */
  root: string;
}

/** The git repository around the working directory, or undefined outside of one. */
export async function findRepository(ctx: CliContext): Promise<Repository | undefined> {
  const here = simpleGit({ baseDir: ctx.cwd });
  try {
    if (!(await here.checkIsRepo())) return undefined;
    const root = (await here.revparse(['--show-toplevel'])).trim();
    return { git: simpleGit({ baseDir: root }), root };
  } catch {
    return undefined;
  }
}

export async function openRepository(ctx: CliContext, command: string): Promise<Repository> {
  const repo = await findRepository(ctx);
  if (repo === undefined)
    throw new Error(
      `${command} reads the policies' history from git: run it inside the policy repository`,
    );
  return repo;
}

/** `--policies DIR` (relative to the working directory) as a path inside the repository. */
export async function policiesInRepository(
  repo: Repository,
  ctx: CliContext,
  policies: string,
): Promise<string> {
  const root = await realpath(repo.root);
  const abs = path.resolve(await realpath(ctx.cwd), policies);
  const rel = path.relative(root, abs);
  if (rel.startsWith('..') || path.isAbsolute(rel))
    throw new Error(`--policies ${policies} is outside the git repository at ${repo.root}`);
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}
