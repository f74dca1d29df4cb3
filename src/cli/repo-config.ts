import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  DEFAULT_REPO_CONFIG,
  parseRepoConfig,
  REPO_CONFIG_FILE,
  type RepoConfig,
} from '../config/repo-config.js';
import type { CliContext } from './context.js';

/**
 * The repository configuration (`mxpolicy.config.yaml` at the root, or the file named by
 * `MXPOLICY_CONFIG`, which a workflow sets from outside the pull request). Missing: the
 * defaults, the strictest. A file with errors stops the command: a typo must never widen
 * or silently drop what is allowed.
 */
export async function readRepoConfig(ctx: CliContext): Promise<RepoConfig> {
  const override = ctx.env['MXPOLICY_CONFIG'];
  const file =
    override !== undefined && override !== ''
      ? path.resolve(ctx.cwd, override)
      : path.join(ctx.cwd, REPO_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && override === undefined)
      return DEFAULT_REPO_CONFIG;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  const shown = path.relative(ctx.cwd, file) || file;
  const { config, diagnostics } = parseRepoConfig(shown, text);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0)
    throw new Error(
      `${shown} is invalid; nothing was run:\n${errors.map((d) => `${d.file}:${d.line}:${d.column}: error ${d.code}: ${d.message}`).join('\n')}`,
    );
  return config;
}
