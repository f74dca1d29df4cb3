/**
 * The GitHub Actions run we are in, read from the variables the runner sets
 * (https://docs.github.com/actions/reference/variables-reference). Pure: takes the env
 * and the event payload's text; the CLI does the reading.
 */
export interface RepoRef {
  owner: string;
  repo: string;
}

export interface ActionsContext extends RepoRef {
  token: string;
  apiUrl: string;
  serverUrl: string;
  eventName: string | undefined;
  /** The event payload (GITHUB_EVENT_PATH), parsed; {} when absent. */
  event: Record<string, unknown>;
  sha: string | undefined;
  /** The pull request or issue the event is about, if any. */
  issueNumber: number | undefined;
  stepSummaryPath: string | undefined;
  /** Link to this workflow run (where the artifacts are), when known. */
  runUrl: string | undefined;
}

export class ActionsContextError extends Error {
  override name = 'ActionsContextError';
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new ActionsContextError(`${name} is not set: run this inside GitHub Actions or set it`);
  }
  return value.trim();
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The pull request (or issue) number of an event payload, if it has one. */
export function issueNumberOfEvent(event: Record<string, unknown>): number | undefined {
  for (const key of ['pull_request', 'issue']) {
    const n = asRecord(event[key])?.['number'];
    if (typeof n === 'number' && Number.isInteger(n) && n > 0) return n;
  }
  const n = event['number'];
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Parse the Actions environment. `eventText` is the content of GITHUB_EVENT_PATH (undefined
 * when the variable is unset). Throws ActionsContextError naming what is missing; the token's
 * value never appears in a message.
 */
export function parseActionsContext(env: Env, eventText: string | undefined): ActionsContext {
  const repository = required(env, 'GITHUB_REPOSITORY');
  const [owner, repo, ...rest] = repository.split('/');
  if (!owner || !repo || rest.length > 0) {
    throw new ActionsContextError(`GITHUB_REPOSITORY must be owner/repo, got "${repository}"`);
  }
  const token = required(env, 'GITHUB_TOKEN');
  let event: Record<string, unknown> = {};
  if (eventText !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(eventText);
    } catch {
      throw new ActionsContextError('GITHUB_EVENT_PATH does not contain JSON');
    }
    event = asRecord(parsed) ?? {};
  }
  const serverUrl = (env['GITHUB_SERVER_URL'] ?? 'https://github.com').replace(/\/+$/, '');
  const runId = env['GITHUB_RUN_ID'];
  return {
    owner,
    repo,
    token,
    apiUrl: (env['GITHUB_API_URL'] ?? 'https://api.github.com').replace(/\/+$/, ''),
    serverUrl,
    eventName: env['GITHUB_EVENT_NAME'],
    event,
    sha: env['GITHUB_SHA'],
    issueNumber: issueNumberOfEvent(event),
    stepSummaryPath: env['GITHUB_STEP_SUMMARY'] || undefined,
    runUrl: runId ? `${serverUrl}/${owner}/${repo}/actions/runs/${runId}` : undefined,
  };
}
