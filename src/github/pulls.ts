import type { GithubClient } from './client.js';
import {
  DEFAULT_COMMENT_AUTHOR,
  findComments,
  type IssueTarget,
  type StoredComment,
} from './comments.js';
import type { RepoRef } from './context.js';
import { hasMarker, parsePlanChecksum, parseTenantChecksums } from './markers.js';

export interface MergedPull {
  number: number;
  title: string;
  url: string;
  mergeCommitSha: string | null;
  headSha: string;
  baseRef: string;
}

/**
 * The pull request merged as (or containing) `sha`, from
 * `GET /repos/{owner}/{repo}/commits/{sha}/pulls`. Prefers the PR whose merge commit is
 * `sha`; undefined for a direct push that no merged PR contains.
 */
export async function findMergedPullRequest(
  client: GithubClient,
  repo: RepoRef,
  sha: string,
): Promise<MergedPull | undefined> {
  const { data } = await client.rest.repos.listPullRequestsAssociatedWithCommit({
    owner: repo.owner,
    repo: repo.repo,
    commit_sha: sha,
    per_page: 100,
  });
  const merged = data.filter((p) => p.merged_at !== null);
  const pick = merged.find((p) => p.merge_commit_sha === sha) ?? merged[0];
  if (!pick) return undefined;
  return {
    number: pick.number,
    title: pick.title,
    url: pick.html_url,
    mergeCommitSha: pick.merge_commit_sha,
    headSha: pick.head.sha,
    baseRef: pick.base.ref,
  };
}

export interface ReviewedPlan {
  checksum: string;
  /** Each tenant's part (first 16 hex digits), when the comment carries them. */
  tenants?: Map<string, string>;
  comment: StoredComment;
}

/**
 * The checksum of the plan reviewed on the PR, from its sticky plan comment: only a comment
 * by `author` (the plan workflow's account) counts, never a copy of the marker by anyone else.
 */
export async function readReviewedPlan(
  client: GithubClient,
  target: IssueTarget,
  author: string = DEFAULT_COMMENT_AUTHOR,
): Promise<ReviewedPlan | undefined> {
  const [comment] = await findComments(client, target, (b) => hasMarker(b, 'plan'), author);
  if (!comment) return undefined;
  const checksum = parsePlanChecksum(comment.body);
  if (!checksum) return undefined;
  const tenants = parseTenantChecksums(comment.body);
  return { checksum, ...(tenants !== undefined ? { tenants } : {}), comment };
}
