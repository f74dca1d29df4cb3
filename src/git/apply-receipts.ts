import { execFile } from 'node:child_process';
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

/** Where receipts are pushed to and fetched from. */
export interface ReceiptRemote {
  /** Remote name; default `origin`. */
  name?: string;
  /**
   * A token for an https remote whose credentials the checkout did not keep
   * (`actions/checkout` with `persist-credentials: false`): GitHub Actions' GITHUB_TOKEN.
   * Given to git as actions/checkout does (an `http.<server>/.extraheader`), but through
   * git's environment, never its arguments, and only when git has no extraheader already.
   */
  token?: string;
  /** Where the token is valid; default https://github.com. */
  serverUrl?: string;
}

/**
 * Environment that makes git send `token` to `serverUrl` (GIT_CONFIG_COUNT/KEY/VALUE, git
 * 2.31+), added after any configuration the environment already carries.
 */
export function tokenAuthEnv(
  token: string,
  serverUrl: string,
  base: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const n = Number(base['GIT_CONFIG_COUNT'] ?? 0) || 0;
  const server = serverUrl.replace(/\/+$/, '');
  return {
    GIT_CONFIG_COUNT: String(n + 1),
    [`GIT_CONFIG_KEY_${n}`]: `http.${server}/.extraheader`,
    [`GIT_CONFIG_VALUE_${n}`]: `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`,
    GIT_TERMINAL_PROMPT: '0',
  };
}

/** Runs git commands that talk to the remote, with the token when one is needed. */
async function remoteRunner(
  git: SimpleGit,
  remote: ReceiptRemote,
): Promise<(args: string[]) => Promise<string>> {
  const plain = (args: string[]): Promise<string> => git.raw(args);
  if (remote.token === undefined || remote.token === '') return plain;
  let configured = '';
  try {
    configured = await git.raw(['config', '--get-regexp', '^http\\..*\\.extraheader$']);
  } catch {
    // exit status 1: nothing configured
  }
  if (configured.trim() !== '') return plain;
  const cwd = (await git.revparse(['--show-toplevel'])).trim();
  const env = {
    ...process.env,
    ...tokenAuthEnv(remote.token, remote.serverUrl ?? 'https://github.com', process.env),
  };
  return (args) =>
    new Promise((resolve, reject) => {
      execFile('git', args, { cwd, env, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
        if (err === null) resolve(stdout);
        else reject(new Error(`git ${args[0] ?? ''} failed: ${stderr.trim() || err.message}`));
      });
    });
}

/** Fetch the remote's receipts and union them into ours (each note's lines, sorted, deduplicated). */
export async function fetchApplyReceipts(
  git: SimpleGit,
  remote: ReceiptRemote = {},
): Promise<boolean> {
  const run = await remoteRunner(git, remote);
  try {
    await run([
      'fetch',
      '--quiet',
      remote.name ?? 'origin',
      `+${RECEIPTS_REF}:${REMOTE_TRACKING_REF}`,
    ]);
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
  remote: ReceiptRemote = {},
  attempts = 3,
): Promise<void> {
  const run = await remoteRunner(git, remote);
  for (let attempt = 1; ; attempt++) {
    await fetchApplyReceipts(git, remote);
    try {
      await run(['push', '--quiet', remote.name ?? 'origin', `${RECEIPTS_REF}:${RECEIPTS_REF}`]);
      return;
    } catch (err) {
      if (attempt >= attempts) throw err;
    }
  }
}
