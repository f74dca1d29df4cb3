import { RequestError } from 'octokit';
import type { GithubClient } from './client.js';
import type { RepoRef } from './context.js';
import {
  DRIFT_LABEL,
  planDriftIssueActions,
  type DriftIssueAction,
  type DriftRunInfo,
  type ExistingDriftIssue,
  type TenantDrift,
} from './drift-issues.js';

export interface DriftSyncResult {
  action: DriftIssueAction['type'];
  tenant: string;
  number: number;
  url: string;
}

/** Create the drift label when the repository does not have it yet. */
export async function ensureDriftLabel(client: GithubClient, repo: RepoRef): Promise<void> {
  const labels = await client.paginate(client.rest.issues.listLabelsForRepo, {
    owner: repo.owner,
    repo: repo.repo,
    per_page: 100,
  });
  if (labels.some((l) => l.name.toLowerCase() === DRIFT_LABEL)) return;
  try {
    await client.rest.issues.createLabel({
      owner: repo.owner,
      repo: repo.repo,
      name: DRIFT_LABEL,
      color: 'd93f0b',
      description: 'Live configuration differs from main (opened and closed by mxpolicy drift)',
    });
  } catch (err) {
    // Another run created it in between: fine.
    if (!(err instanceof RequestError && err.status === 422)) throw err;
  }
}

/** Issues with the drift label, open and closed (pull requests excluded). */
export async function listDriftIssues(
  client: GithubClient,
  repo: RepoRef,
): Promise<ExistingDriftIssue[]> {
  const issues = await client.paginate(client.rest.issues.listForRepo, {
    owner: repo.owner,
    repo: repo.repo,
    labels: DRIFT_LABEL,
    state: 'all',
    per_page: 100,
  });
  return issues
    .filter((i) => i.pull_request === undefined)
    .map((i) => ({
      number: i.number,
      title: i.title,
      body: i.body ?? null,
      state: i.state === 'closed' ? 'closed' : 'open',
    }));
}

/** Bring the drift issues in line with the drift just computed; returns what was done. */
export async function syncDriftIssues(
  client: GithubClient,
  repo: RepoRef,
  tenants: readonly TenantDrift[],
  run: DriftRunInfo,
  opts: { complete?: boolean } = {},
): Promise<DriftSyncResult[]> {
  await ensureDriftLabel(client, repo);
  const existing = await listDriftIssues(client, repo);
  const actions = planDriftIssueActions(existing, tenants, run, opts);
  const ref = { owner: repo.owner, repo: repo.repo };
  const results: DriftSyncResult[] = [];
  for (const a of actions) {
    switch (a.type) {
      case 'create': {
        const { data } = await client.rest.issues.create({
          ...ref,
          title: a.title,
          body: a.body,
          labels: [DRIFT_LABEL],
        });
        results.push({ action: a.type, tenant: a.tenant, number: data.number, url: data.html_url });
        break;
      }
      case 'update': {
        const { data } = await client.rest.issues.update({
          ...ref,
          issue_number: a.number,
          title: a.title,
          body: a.body,
        });
        if (a.comment !== undefined) {
          await client.rest.issues.createComment({
            ...ref,
            issue_number: a.number,
            body: a.comment,
          });
        }
        results.push({ action: a.type, tenant: a.tenant, number: a.number, url: data.html_url });
        break;
      }
      case 'reopen': {
        const { data } = await client.rest.issues.update({
          ...ref,
          issue_number: a.number,
          title: a.title,
          body: a.body,
          state: 'open',
          state_reason: 'reopened',
        });
        await client.rest.issues.createComment({ ...ref, issue_number: a.number, body: a.comment });
        results.push({ action: a.type, tenant: a.tenant, number: a.number, url: data.html_url });
        break;
      }
      case 'close': {
        await client.rest.issues.createComment({ ...ref, issue_number: a.number, body: a.comment });
        const { data } = await client.rest.issues.update({
          ...ref,
          issue_number: a.number,
          state: 'closed',
          state_reason: a.reason,
        });
        results.push({ action: a.type, tenant: a.tenant, number: a.number, url: data.html_url });
        break;
      }
    }
  }
  return results;
}
