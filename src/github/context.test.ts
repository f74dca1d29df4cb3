import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ActionsContextError, issueNumberOfEvent, parseActionsContext } from './context.js';

interface Definition {
  name: string;
  examples: Record<string, unknown>[];
}
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Definition[];
const payload = (name: string): Record<string, unknown> => {
  const found = examples.find((d) => d.name === name)?.examples[0];
  if (!found) throw new Error(`no ${name} example`);
  return found;
};

const env = {
  GITHUB_REPOSITORY: 'Codertocat/Hello-World',
  GITHUB_TOKEN: 'ghs_secret_value',
  GITHUB_EVENT_NAME: 'pull_request',
  GITHUB_SHA: 'f'.repeat(40),
  GITHUB_STEP_SUMMARY: '/tmp/summary.md',
  GITHUB_SERVER_URL: 'https://github.example.com/',
  GITHUB_API_URL: 'https://github.example.com/api/v3/',
  GITHUB_RUN_ID: '42',
};

describe('parseActionsContext', () => {
  it('reads repository, API URL, event and run link', () => {
    const ctx = parseActionsContext(env, JSON.stringify(payload('pull_request')));
    expect(ctx).toMatchObject({
      owner: 'Codertocat',
      repo: 'Hello-World',
      token: 'ghs_secret_value',
      apiUrl: 'https://github.example.com/api/v3',
      eventName: 'pull_request',
      issueNumber: 2,
      sha: 'f'.repeat(40),
      stepSummaryPath: '/tmp/summary.md',
      runUrl: 'https://github.example.com/Codertocat/Hello-World/actions/runs/42',
    });
  });

  it('defaults to github.com and has no PR for a push', () => {
    const ctx = parseActionsContext(
      { GITHUB_REPOSITORY: 'o/r', GITHUB_TOKEN: 't' },
      JSON.stringify(payload('push')),
    );
    expect(ctx.apiUrl).toBe('https://api.github.com');
    expect(ctx.issueNumber).toBeUndefined();
    expect(ctx.runUrl).toBeUndefined();
    expect(ctx.stepSummaryPath).toBeUndefined();
  });

  it('names what is missing without ever echoing the token', () => {
    expect(() => parseActionsContext({ GITHUB_TOKEN: 'ghs_secret_value' }, undefined)).toThrow(
      /GITHUB_REPOSITORY is not set/,
    );
    expect(() => parseActionsContext({ GITHUB_REPOSITORY: 'o/r' }, undefined)).toThrow(
      /GITHUB_TOKEN/,
    );
    try {
      parseActionsContext({ ...env, GITHUB_REPOSITORY: 'bad' }, undefined);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ActionsContextError);
      expect(String(err)).not.toContain('ghs_secret_value');
    }
    expect(() => parseActionsContext(env, '{not json')).toThrow(/does not contain JSON/);
  });
});

describe('issueNumberOfEvent', () => {
  it('finds the number of pull_request, issue and issue_comment payloads', () => {
    expect(issueNumberOfEvent(payload('pull_request'))).toBe(2);
    expect(issueNumberOfEvent(payload('issue_comment'))).toBeTypeOf('number');
    expect(issueNumberOfEvent({ number: 7 })).toBe(7);
    expect(issueNumberOfEvent(payload('workflow_dispatch'))).toBeUndefined();
  });
});
