import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SimpleGit } from 'simple-git';
import type { ApplyReport, TenantApplyResult } from '../plan/types.js';
import { readBlobs } from './git-objects.js';

/** Where receipts live: one git note per applied commit, one JSON receipt per line. */
export const RECEIPTS_REF = 'refs/notes/mxpolicy';
const REMOTE_TRACKING_REF = 'refs/notes/mxpolicy-remote';

/** Who ran `apply`: the GitHub Actions run when there is one, else the local user. */
export interface RunnerInfo {
  kind: 'github-actions' | 'local';
  runId?: string;
  runAttempt?: string;
  runUrl?: string;
  workflow?: string;
  actor?: string;
  runnerName?: string;
  user?: string;
}

/** What `apply` did for one commit (a note may hold several: re-runs append). */
export interface ApplyReceipt {
  formatVersion: 1;
  /** The commit whose desired state was applied. */
  commit: string;
  /** Checksum of the plan that was applied. */
  checksum: string;
  startedAt: string;
  finishedAt: string;
  runner: RunnerInfo;
  /**
   * True when the applied policies were not exactly the commit's: uncommitted edits in
   * the working tree (a local run). CI applies a clean checkout and never sets it.
   */
  uncommittedChanges?: true;
  tenants: TenantApplyResult[];
  summary: ApplyReport['summary'];
}

/** Runner details from the environment (only the non-secret GITHUB_* / RUNNER_* variables). */
export function runnerFromEnv(env: Readonly<Record<string, string | undefined>>): RunnerInfo {
  const set = (key: string): string | undefined => {
    const v = env[key];
    return v !== undefined && v !== '' ? v : undefined;
  };
  const info: RunnerInfo = { kind: set('GITHUB_ACTIONS') === 'true' ? 'github-actions' : 'local' };
  const put = (field: Exclude<keyof RunnerInfo, 'kind'>, value: string | undefined): void => {
    if (value !== undefined) info[field] = value;
  };
  put('runId', set('GITHUB_RUN_ID'));
  put('runAttempt', set('GITHUB_RUN_ATTEMPT'));
  put('workflow', set('GITHUB_WORKFLOW'));
  put('actor', set('GITHUB_ACTOR'));
  put('runnerName', set('RUNNER_NAME'));
  const server = set('GITHUB_SERVER_URL');
  const repo = set('GITHUB_REPOSITORY');
  if (server !== undefined && repo !== undefined && info.runId !== undefined)
    info.runUrl = `${server}/${repo}/actions/runs/${info.runId}`;
  if (info.kind === 'local') put('user', set('USER') ?? set('USERNAME'));
  return info;
}

export function buildApplyReceipt(
  commit: string,
  report: ApplyReport,
  runner: RunnerInfo,
  opts: { uncommittedChanges?: boolean } = {},
): ApplyReceipt {
  return {
    formatVersion: 1,
    commit,
    checksum: report.checksum,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    runner,
    ...(opts.uncommittedChanges === true ? { uncommittedChanges: true as const } : {}),
    tenants: report.tenants,
    summary: report.summary,
  };
}

/** Parse one note: JSON lines; blank lines (from `git notes append`) and junk are skipped. */
export function parseReceiptNote(
  text: string,
  commit: string,
): { receipts: ApplyReceipt[]; problems: string[] } {
  const receipts: ApplyReceipt[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push(`note on ${commit.slice(0, 12)}, line ${i + 1}: not JSON`);
      return;
    }
    if (isReceipt(value)) receipts.push({ ...value, commit });
    else problems.push(`note on ${commit.slice(0, 12)}, line ${i + 1}: not an mxpolicy receipt`);
  });
  return { receipts, problems };
}

function isReceipt(value: unknown): value is ApplyReceipt {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    v['formatVersion'] === 1 &&
    typeof v['checksum'] === 'string' &&
    typeof v['startedAt'] === 'string' &&
    typeof v['finishedAt'] === 'string' &&
    Array.isArray(v['tenants']) &&
    (v['tenants'] as unknown[]).every(
      (t) =>
        t !== null &&
        typeof t === 'object' &&
        typeof (t as Record<string, unknown>)['tenant'] === 'string' &&
        Array.isArray((t as Record<string, unknown>)['results']),
    )
  );
}

/** `-c user.name/-c user.email` when the repository has no identity (CI checkouts): notes are commits. */
async function identityArgs(git: SimpleGit): Promise<string[]> {
  const email = await git.getConfig('user.email');
  if (email.value !== null && email.value !== '') return [];
  return [
    '-c',
    'user.name=mxpolicy',
    '-c',
    'user.email=41898282+github-actions[bot]@users.noreply.github.com',
  ];
}

/**
 * Record what `apply` did for `commit` as a line of the git note under refs/notes/mxpolicy.
 * Appends, so a re-run of apply on the same commit keeps the earlier receipt.
 */
export async function writeApplyReceipt(
  git: SimpleGit,
  commit: string,
  report: ApplyReport,
  runner: RunnerInfo,
  opts: { uncommittedChanges?: boolean } = {},
): Promise<ApplyReceipt> {
  const sha = (await git.revparse([`${commit}^{commit}`])).trim();
  const receipt = buildApplyReceipt(sha, report, runner, opts);
  const dir = await mkdtemp(path.join(tmpdir(), 'mxpolicy-receipt-'));
  try {
    const file = path.join(dir, 'receipt.jsonl');
    // One line per receipt: `git notes merge -s cat_sort_uniq` can then union two runners' notes.
    await writeFile(file, JSON.stringify(receipt) + '\n');
    await git.raw([
      ...(await identityArgs(git)),
      'notes',
      '--ref',
      RECEIPTS_REF,
      'append',
      '--allow-empty',
      '-F',
      file,
      sha,
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return receipt;
}

/** Every receipt in refs/notes/mxpolicy, oldest first. */
export async function readApplyReceipts(
  git: SimpleGit,
): Promise<{ receipts: ApplyReceipt[]; problems: string[] }> {
  let listing: string;
  try {
    listing = await git.raw(['notes', '--ref', RECEIPTS_REF, 'list']);
  } catch {
    return { receipts: [], problems: [] };
  }
  const notes = listing
    .split('\n')
    .map((l) => l.trim().split(' '))
    .filter((p): p is [string, string] => p.length === 2 && p[0] !== '' && p[1] !== undefined);
  const blobs = await readBlobs(
    git,
    notes.map(([blob]) => blob),
  );
  const receipts: ApplyReceipt[] = [];
  const problems: string[] = [];
  for (const [blob, commit] of notes) {
    const parsed = parseReceiptNote(blobs.get(blob) ?? '', commit);
    receipts.push(...parsed.receipts);
    problems.push(...parsed.problems);
  }
  receipts.sort((a, b) =>
    a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.commit < b.commit ? -1 : 1,
  );
  return { receipts, problems };
}

/** Fetch the remote's receipts and union them into ours (each note's lines, sorted, deduplicated). */
export async function fetchApplyReceipts(git: SimpleGit, remote = 'origin'): Promise<boolean> {
  try {
    await git.raw(['fetch', '--quiet', remote, `+${RECEIPTS_REF}:${REMOTE_TRACKING_REF}`]);
  } catch (err) {
    // No receipts pushed yet: nothing to merge.
    if (/couldn't find remote ref/i.test(err instanceof Error ? err.message : String(err)))
      return false;
    throw err;
  }
  await git.raw([
    ...(await identityArgs(git)),
    'notes',
    '--ref',
    RECEIPTS_REF,
    'merge',
    '--quiet',
    '-s',
    'cat_sort_uniq',
    REMOTE_TRACKING_REF,
  ]);
  return true;
}

/**
 * Push refs/notes/mxpolicy (GitHub Actions: the job needs `permissions: contents: write`).
 * Another apply may have pushed meanwhile: fetch, union and retry.
 */
export async function pushApplyReceipts(
  git: SimpleGit,
  remote = 'origin',
  attempts = 3,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await fetchApplyReceipts(git, remote);
    try {
      await git.raw(['push', '--quiet', remote, `${RECEIPTS_REF}:${RECEIPTS_REF}`]);
      return;
    } catch (err) {
      if (attempt >= attempts) throw err;
    }
  }
}
