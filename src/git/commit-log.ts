import type { SimpleGit } from 'simple-git';
import { normalizePoliciesDir } from './git-objects.js';

export interface Person {
  name: string;
  email: string;
}

/** One file change of a commit against its (first) parent, from `git log --raw -M`. */
export interface FileChange {
  status: 'A' | 'M' | 'D' | 'R' | 'C' | 'T';
  path: string;
  /** The path before a rename or copy. */
  oldPath?: string;
  /** Blob before the change; absent for additions. */
  oldBlob?: string;
  /** Blob after the change; absent for deletions. */
  newBlob?: string;
}

export interface CommitInfo {
  sha: string;
  parents: string[];
  author: Person & { date: string };
  committer: Person & { date: string };
  subject: string;
  body: string;
  changes: FileChange[];
}

const RS = '\x1e';
const US = '\x1f';
const FORMAT = `${RS}%H${US}%P${US}%an${US}%ae${US}%aI${US}%cn${US}%ce${US}%cI${US}%s${US}%b${US}`;
const ZERO = /^0+$/;

/** Parse `git log --raw --no-abbrev --format=FORMAT` output. */
export function parseCommitLog(output: string): CommitInfo[] {
  const commits: CommitInfo[] = [];
  for (const chunk of output.split(RS)) {
    if (chunk.trim() === '') continue;
    const f = chunk.split(US);
    const [sha, parents, an, ae, ad, cn, ce, cd, subject, body] = f;
    if (sha === undefined || cd === undefined) continue;
    const raw = f.slice(10).join(US);
    commits.push({
      sha,
      parents: parents === undefined || parents === '' ? [] : parents.split(' '),
      author: { name: an ?? '', email: ae ?? '', date: ad ?? '' },
      committer: { name: cn ?? '', email: ce ?? '', date: cd },
      subject: subject ?? '',
      body: (body ?? '').trim(),
      changes: parseRawChanges(raw),
    });
  }
  return commits;
}

function parseRawChanges(raw: string): FileChange[] {
  const changes: FileChange[] = [];
  for (const line of raw.split('\n')) {
    if (!line.startsWith(':')) continue;
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const [, , oldBlob, newBlob, statusField] = line.slice(1, tab).split(' ');
    const paths = line.slice(tab + 1).split('\t');
    const status = statusField?.[0];
    if (status === undefined || !'AMDRCT'.includes(status)) continue;
    const change: FileChange = {
      status: status as FileChange['status'],
      path: (status === 'R' || status === 'C' ? paths[1] : paths[0]) ?? '',
    };
    if (status === 'R' || status === 'C') change.oldPath = paths[0] ?? '';
    if (oldBlob !== undefined && !ZERO.test(oldBlob)) change.oldBlob = oldBlob;
    if (newBlob !== undefined && !ZERO.test(newBlob)) change.newBlob = newBlob;
    changes.push(change);
  }
  return changes;
}

function pathspec(policiesDir: string): string[] {
  const dir = normalizePoliciesDir(policiesDir);
  return dir === '.' ? [] : ['--', dir];
}

/** `git log` of the commits that changed the policies folder, with their raw file changes. */
async function logPolicyCommits(
  git: SimpleGit,
  rev: string,
  policiesDir: string,
  selection: readonly string[],
): Promise<CommitInfo[]> {
  const out = await git.raw([
    '-c',
    'core.quotePath=false',
    'log',
    ...selection,
    '--raw',
    '--no-abbrev',
    '-M',
    `--format=${FORMAT}`,
    rev,
    ...pathspec(policiesDir),
  ]);
  return parseCommitLog(out);
}

/**
 * The commits of `rev`'s first-parent chain (the main line) that changed the policies folder,
 * oldest first, each with its file changes against its first parent, renames detected.
 */
export async function readMainlinePolicyCommits(
  git: SimpleGit,
  rev: string,
  policiesDir: string,
): Promise<CommitInfo[]> {
  return logPolicyCommits(git, rev, policiesDir, ['--first-parent', '-m', '--reverse']);
}

/** Every non-merge commit reachable from `rev` that changed the policies folder. */
export async function readPolicyCommits(
  git: SimpleGit,
  rev: string,
  policiesDir: string,
): Promise<CommitInfo[]> {
  return logPolicyCommits(git, rev, policiesDir, ['--no-merges']);
}

/** Parents of every commit reachable from `rev`. */
export async function readCommitGraph(git: SimpleGit, rev: string): Promise<Map<string, string[]>> {
  const out = await git.raw(['rev-list', '--parents', rev]);
  const graph = new Map<string, string[]>();
  for (const line of out.split('\n')) {
    const [sha, ...parents] = line.trim().split(' ');
    if (sha !== undefined && sha !== '') graph.set(sha, parents);
  }
  return graph;
}

/** The first-parent chain of `rev`, oldest first (every commit, not only policy changes). */
export async function readFirstParentChain(git: SimpleGit, rev: string): Promise<string[]> {
  const out = await git.raw(['rev-list', '--first-parent', '--reverse', rev]);
  return out.split('\n').filter((l) => l.trim() !== '');
}

/**
 * The pull request a main-line commit came from: GitHub merge commits say
 * "Merge pull request #123 from owner/branch", squash merges end their title with "(#123)".
 */
export function parsePullRequestNumber(subject: string): number | undefined {
  const merge = /^Merge pull request #(\d+) from /.exec(subject);
  if (merge?.[1] !== undefined) return Number(merge[1]);
  const squash = /\(#(\d+)\)\s*$/.exec(subject);
  if (squash?.[1] !== undefined) return Number(squash[1]);
  return undefined;
}
