import { createRequire } from 'node:module';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FakeGithub } from '../fakes/github/server.js';
import { scratchDir } from './helpers.js';

interface Definition {
  name: string;
  examples: Record<string, unknown>[];
}

const definitions = createRequire(import.meta.url)('@octokit/webhooks-examples') as Definition[];

/** A real webhook payload from @octokit/webhooks-examples (e.g. pull_request "opened"). */
export function examplePayload(name: string, action?: string): Record<string, unknown> {
  const found = definitions
    .find((d) => d.name === name)
    ?.examples.find((e) => action === undefined || e['action'] === action);
  if (!found) throw new Error(`no ${name}${action ? `.${action}` : ''} example payload`);
  return structuredClone(found);
}

export interface ActionsRun {
  env: Record<string, string>;
  summaryFile: string;
  summary(): Promise<string>;
}

/**
 * The environment a GitHub Actions runner gives a step, pointed at the fake: the event
 * payload written to a file (GITHUB_EVENT_PATH), a job summary file, the token and API URL.
 */
export async function actionsRun(
  gh: FakeGithub,
  event: { name: string; payload: Record<string, unknown>; sha: string },
): Promise<ActionsRun> {
  const dir = await scratchDir('mxpolicy-runner-');
  await mkdir(dir, { recursive: true });
  const eventFile = path.join(dir, 'event.json');
  const summaryFile = path.join(dir, 'step-summary.md');
  await writeFile(eventFile, JSON.stringify(event.payload));
  await writeFile(summaryFile, '');
  return {
    env: {
      GITHUB_ACTIONS: 'true',
      GITHUB_REPOSITORY: `${gh.owner}/${gh.repo}`,
      GITHUB_TOKEN: gh.token,
      GITHUB_API_URL: gh.baseUrl,
      GITHUB_SERVER_URL: 'https://github.invalid',
      GITHUB_EVENT_NAME: event.name,
      GITHUB_EVENT_PATH: eventFile,
      GITHUB_SHA: event.sha,
      GITHUB_RUN_ID: '4242',
      GITHUB_STEP_SUMMARY: summaryFile,
      MXPOLICY_GITHUB_PACING_MS: '0',
    },
    summaryFile,
    summary: () => readFile(summaryFile, 'utf8'),
  };
}
