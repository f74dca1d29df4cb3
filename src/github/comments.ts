import type { GithubClient } from './client.js';
import type { RepoRef } from './context.js';
import { MAX_BODY_CHARS } from './fit-body.js';
import { hasMarker, parseMarker } from './markers.js';

export interface IssueTarget extends RepoRef {
  /** Pull request or issue number (PR comments are issue comments). */
  issueNumber: number;
}

export interface StoredComment {
  id: number;
  body: string;
  url: string;
}

export interface UpsertResult {
  action: 'created' | 'updated' | 'unchanged';
  comment: StoredComment;
  /** Duplicate marked comments removed (left behind by concurrent runs). */
  deleted: number[];
}

function assertBodyFits(body: string): void {
  if (body.length > MAX_BODY_CHARS) {
    throw new Error(
      `comment body has ${body.length} characters; GitHub accepts at most ${MAX_BODY_CHARS + 1}`,
    );
  }
}

/** The account mxpolicy comments as by default: the workflow's `GITHUB_TOKEN`. */
export const DEFAULT_COMMENT_AUTHOR = 'github-actions[bot]';

/**
 * Every comment of the issue/PR written by mxpolicy's own account (`author`, by default
 * `github-actions[bot]`; an app's `<slug>[bot]` when configured) whose body matches, oldest
 * first (all pages). Comments by anyone else — a person, another bot or app — are never
 * taken for mxpolicy's, even when they carry its marker: the reviewed checksum must come
 * from the plan workflow, not from whoever can comment on the PR.
 */
export async function findComments(
  client: GithubClient,
  target: IssueTarget,
  matches: (body: string) => boolean,
  author: string = DEFAULT_COMMENT_AUTHOR,
): Promise<StoredComment[]> {
  const login = author.toLowerCase();
  const all = await client.paginate(client.rest.issues.listComments, {
    owner: target.owner,
    repo: target.repo,
    issue_number: target.issueNumber,
    per_page: 100,
  });
  return all
    .filter(
      (c) =>
        c.user?.type === 'Bot' && c.user.login.toLowerCase() === login && matches(c.body ?? ''),
    )
    .map((c) => ({ id: c.id, body: c.body ?? '', url: c.html_url }));
}

/**
 * Exactly one comment matching `matches` on the issue/PR, with `body`: the first match is
 * updated in place (or left alone when unchanged), later matches are deleted, and a
 * comment is created when there is none.
 */
export async function upsertComment(
  client: GithubClient,
  target: IssueTarget,
  body: string,
  matches: (body: string) => boolean,
  author: string = DEFAULT_COMMENT_AUTHOR,
): Promise<UpsertResult> {
  assertBodyFits(body);
  const ref = { owner: target.owner, repo: target.repo };
  const [first, ...duplicates] = await findComments(client, target, matches, author);
  const deleted: number[] = [];
  for (const d of duplicates) {
    await client.rest.issues.deleteComment({ ...ref, comment_id: d.id });
    deleted.push(d.id);
  }
  if (!first) {
    const { data } = await client.rest.issues.createComment({
      ...ref,
      issue_number: target.issueNumber,
      body,
    });
    return { action: 'created', comment: { id: data.id, body, url: data.html_url }, deleted };
  }
  if (first.body === body) return { action: 'unchanged', comment: first, deleted };
  const { data } = await client.rest.issues.updateComment({ ...ref, comment_id: first.id, body });
  return { action: 'updated', comment: { id: data.id, body, url: data.html_url }, deleted };
}

/** Post a new comment (for one-off notes such as "drift resolved"). */
export async function addComment(
  client: GithubClient,
  target: IssueTarget,
  body: string,
): Promise<StoredComment> {
  assertBodyFits(body);
  const { data } = await client.rest.issues.createComment({
    owner: target.owner,
    repo: target.repo,
    issue_number: target.issueNumber,
    body,
  });
  return { id: data.id, body, url: data.html_url };
}

/** The sticky plan comment: exactly one per PR, found by its hidden `mxpolicy:plan` marker. */
export async function upsertPlanComment(
  client: GithubClient,
  target: IssueTarget,
  body: string,
  author: string = DEFAULT_COMMENT_AUTHOR,
): Promise<UpsertResult> {
  if (!hasMarker(body, 'plan')) throw new Error('a plan comment body must carry the plan marker');
  return upsertComment(client, target, body, (b) => hasMarker(b, 'plan'), author);
}

/** The apply report for one commit: re-running the merge workflow updates it in place. */
export async function upsertApplyComment(
  client: GithubClient,
  target: IssueTarget,
  body: string,
  sha: string,
): Promise<UpsertResult> {
  const marker = parseMarker(body);
  if (marker?.kind !== 'apply' || marker.attrs['sha'] !== sha) {
    throw new Error('an apply comment body must carry the apply marker of its commit');
  }
  return upsertComment(client, target, body, (b) => {
    const m = parseMarker(b);
    return m?.kind === 'apply' && m.attrs['sha'] === sha;
  });
}
