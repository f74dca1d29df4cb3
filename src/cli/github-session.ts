import { readFile } from 'node:fs/promises';
import { appendJobSummary } from '../github/job-summary.js';
import { createGithubClient, type GithubClient } from '../github/client.js';
import { parseActionsContext, type ActionsContext } from '../github/context.js';
import type { CliContext } from './context.js';

/** What the GitHub-facing commands need: the run's context and an API client for it. */
export interface GithubSession {
  actions: ActionsContext;
  client: GithubClient;
  /** https://github.com/owner/repo, for commit links. */
  repoUrl: string;
  summary(markdown: string): Promise<boolean>;
}

/**
 * Read the Actions context through the CLI context (never process.env) and build the client.
 * `MXPOLICY_GITHUB_PACING_MS` overrides the spacing of writes (GitHub asks ~1 s; a GitHub
 * Enterprise Server without secondary limits, or a test fake, can use 0).
 */
export async function openGithubSession(ctx: CliContext): Promise<GithubSession> {
  const eventPath = ctx.env['GITHUB_EVENT_PATH'];
  const eventText = eventPath ? await readFile(eventPath, 'utf8') : undefined;
  const actions = parseActionsContext(ctx.env, eventText);
  const pacingMs = Number(ctx.env['MXPOLICY_GITHUB_PACING_MS'] ?? '');
  const client = createGithubClient({
    token: actions.token,
    baseUrl: actions.apiUrl,
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (message) => ctx.stderr.write(`warning: ${message}\n`),
    },
    ...(Number.isFinite(pacingMs) && ctx.env['MXPOLICY_GITHUB_PACING_MS'] !== undefined
      ? { pacing: { writeMs: pacingMs, notificationMs: pacingMs * 3 } }
      : {}),
  });
  return {
    actions,
    client,
    repoUrl: `${actions.serverUrl}/${actions.owner}/${actions.repo}`,
    summary: (markdown) => appendJobSummary(actions.stepSummaryPath, markdown),
  };
}
