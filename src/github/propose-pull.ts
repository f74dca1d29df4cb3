import type { GithubClient } from './client.js';
import type { RepoRef } from './context.js';

export const PROPOSE_LABEL = 'mxpolicy-propose';
export const NEEDS_REVIEW_LABEL = 'needs-review';

export interface ProposalPull {
  number: number;
  url: string;
  nodeId: string;
  /** True when an open pull request for the branch existed and was updated. */
  updated: boolean;
}

/**
 * Open the proposal's pull request, or update the open one of the same branch (the same
 * intent proposed again): `GET /pulls?head=owner:branch&state=open`, then `POST /pulls` or
 * `PATCH /issues/{n}` (title and body; the issues endpoint edits a pull request's too).
 */
export async function upsertProposalPull(
  client: GithubClient,
  repo: RepoRef,
  pull: { branch: string; base: string; title: string; body: string; labels: string[] },
): Promise<ProposalPull> {
  const { data: open } = await client.rest.pulls.list({
    owner: repo.owner,
    repo: repo.repo,
    head: `${repo.owner}:${pull.branch}`,
    state: 'open',
    per_page: 10,
  });
  const existing = open.find((p) => p.head.ref === pull.branch);
  let result: ProposalPull;
  if (existing !== undefined) {
    await client.rest.issues.update({
      owner: repo.owner,
      repo: repo.repo,
      issue_number: existing.number,
      title: pull.title,
      body: pull.body,
    });
    result = {
      number: existing.number,
      url: existing.html_url,
      nodeId: existing.node_id,
      updated: true,
    };
  } else {
    const { data } = await client.rest.pulls.create({
      owner: repo.owner,
      repo: repo.repo,
      head: pull.branch,
      base: pull.base,
      title: pull.title,
      body: pull.body,
    });
    result = { number: data.number, url: data.html_url, nodeId: data.node_id, updated: false };
  }
  if (pull.labels.length > 0)
    await client.rest.issues.addLabels({
      owner: repo.owner,
      repo: repo.repo,
      issue_number: result.number,
      labels: pull.labels,
    });
  return result;
}

const ENABLE_AUTO_MERGE = `mutation mxpolicyEnableAutoMerge($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod}) {
    pullRequest { number autoMergeRequest { enabledAt mergeMethod } }
  }
}`;

/**
 * Ask GitHub to merge the pull request once its required checks and reviews pass. GitHub
 * offers this only through GraphQL (`enablePullRequestAutoMerge`); it needs "Allow
 * auto-merge" in the repository settings and branch protection on the base branch.
 * Returns undefined on success, else GitHub's reason.
 */
export async function enableAutoMerge(
  client: GithubClient,
  pullNodeId: string,
  mergeMethod: 'MERGE' | 'SQUASH' | 'REBASE' = 'SQUASH',
): Promise<string | undefined> {
  try {
    await client.graphql(ENABLE_AUTO_MERGE, { pullRequestId: pullNodeId, mergeMethod });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
