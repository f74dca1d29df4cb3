import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';

export interface Identity {
  name: string;
  email: string;
}

export interface CommitOptions {
  author?: Identity;
  /** Defaults to the author. */
  committer?: Identity;
  /** ISO date for both author and committer; defaults to the repository clock. */
  date?: string;
}

/**
 * A real git repository in the OS temp folder, with identities and a clock that advances one
 * hour per commit or merge (the first commit is at 2026-01-05T10:00:00Z).
 */
export interface TempRepo {
  dir: string;
  git: SimpleGit;
  write(file: string, text: string): void;
  remove(file: string): void;
  /** Run git and return stdout (trimmed). */
  run(args: string[], opts?: CommitOptions): string;
  commit(message: string, opts?: CommitOptions): string;
  /** `git merge --no-ff` with a GitHub-style message, made by `opts.committer`. */
  merge(branch: string, message: string, opts?: CommitOptions): string;
  cleanup(): void;
}

export const ALICE: Identity = { name: 'Alice Admin', email: 'alice@example.com' };

export function createTempRepo(prefix = 'mxpolicy-git-'): TempRepo {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  let clock = Date.parse('2026-01-05T09:00:00Z');
  const env = (opts: CommitOptions = {}): NodeJS.ProcessEnv => {
    const author = opts.author ?? ALICE;
    const committer = opts.committer ?? author;
    const date = opts.date ?? new Date(clock).toISOString();
    return {
      ...process.env,
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: committer.name,
      GIT_COMMITTER_EMAIL: committer.email,
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
      GIT_CONFIG_NOSYSTEM: '1',
    };
  };
  const run = (args: string[], opts?: CommitOptions): string =>
    execFileSync('git', args, { cwd: dir, env: env(opts), encoding: 'utf8' }).trim();
  run(['init', '-q', '-b', 'main']);
  run(['config', 'user.name', ALICE.name]);
  run(['config', 'user.email', ALICE.email]);
  run(['config', 'commit.gpgsign', 'false']);
  return {
    dir,
    git: simpleGit(dir),
    write(file, text) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    },
    remove(file) {
      rmSync(path.join(dir, file));
    },
    run,
    commit(message, opts) {
      clock += 3_600_000;
      run(['add', '-A']);
      run(['commit', '-q', '--allow-empty', '-m', message], opts);
      return run(['rev-parse', 'HEAD']);
    },
    merge(branch, message, opts) {
      clock += 3_600_000;
      run(['merge', '-q', '--no-ff', '-m', message, branch], opts);
      return run(['rev-parse', 'HEAD']);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TenantFixture {
  tenant: string;
  include?: string[];
  blockedSenders?: { sender: string; reason: string }[];
  holds?: {
    id: string;
    matter: string;
    custodians: string[];
    released?: { by: string; reason: string; date: string };
  }[];
}

/** A minimal valid tenant file on the sandbox provider. */
export function tenantYaml(t: TenantFixture): string {
  const lines = [
    `tenant: ${t.tenant}`,
    'providers:',
    '  sandbox: { type: sandbox }',
    `domains: [${t.tenant}.example]`,
  ];
  if (t.include !== undefined) lines.push(`include: [${t.include.join(', ')}]`);
  if (t.blockedSenders !== undefined) {
    lines.push('blockedSenders:');
    for (const b of t.blockedSenders)
      lines.push(`  - sender: ${b.sender}`, `    reason: ${JSON.stringify(b.reason)}`);
  }
  if (t.holds !== undefined) {
    lines.push('holds:');
    for (const h of t.holds) {
      lines.push(
        `  - id: ${h.id}`,
        `    matter: ${JSON.stringify(h.matter)}`,
        `    custodians: [${h.custodians.join(', ')}]`,
      );
      if (h.released !== undefined)
        lines.push(
          '    released:',
          `      by: ${h.released.by}`,
          `      reason: ${JSON.stringify(h.released.reason)}`,
          `      date: ${h.released.date}`,
        );
    }
  }
  return lines.join('\n') + '\n';
}

export function bundleYaml(name: string, blocked: { sender: string; reason: string }[]): string {
  return (
    [
      `bundle: ${name}`,
      'blockedSenders:',
      ...blocked.flatMap((b) => [
        `  - sender: ${b.sender}`,
        `    reason: ${JSON.stringify(b.reason)}`,
      ]),
    ].join('\n') + '\n'
  );
}
