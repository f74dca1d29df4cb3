import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderNdjson, type EventContext, type MxpolicyEvent } from '../plan/events.js';
import type { CliContext } from './context.js';

/**
 * Who, when and on which commit, for the events of one run: the user from `--user`, else
 * GITHUB_ACTOR (Actions), else USER; the commit from GITHUB_SHA, else HEAD of the repository
 * around the working directory. Only these names are read from the environment.
 */
export async function eventContext(
  ctx: CliContext,
  extra: { user?: string; pr?: number; commit?: string } = {},
): Promise<EventContext> {
  const user = extra.user ?? ctx.env['GITHUB_ACTOR'] ?? ctx.env['USER'];
  let commit = extra.commit ?? ctx.env['GITHUB_SHA'];
  if (commit === undefined || commit === '') {
    // simple-git is loaded only when the commit must be asked of git.
    const repo = await (await import('./git-repo.js')).findRepository(ctx);
    commit = repo !== undefined ? (await repo.git.revparse(['HEAD']).catch(() => '')).trim() : '';
  }
  return {
    timestamp: ctx.now().toISOString(),
    ...(user !== undefined && user !== '' ? { user } : {}),
    ...(commit !== '' ? { commit } : {}),
    ...(extra.pr !== undefined ? { pr: extra.pr } : {}),
  };
}

/** `--events FILE` (relative to cwd) or `-` for stdout: NDJSON, one event per line. */
export async function writeEvents(
  ctx: CliContext,
  target: string | undefined,
  events: readonly MxpolicyEvent[],
): Promise<void> {
  if (target === undefined) return;
  const text = renderNdjson(events);
  if (target === '-') {
    ctx.stdout.write(text);
    return;
  }
  await writeFile(path.resolve(ctx.cwd, target), text);
}
