import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { main } from '../../src/cli/main.js';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const FIXED_NOW = new Date('2026-11-23T12:00:00Z');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in-process with an injected context (cwd, env, clock), capturing output. */
export async function runCli(
  args: string[],
  opts: {
    cwd: string;
    env?: Record<string, string | undefined>;
    now?: Date;
    tty?: boolean;
    /** stderr is a terminal (progress is drawn in place). */
    stderrTty?: boolean;
    /** A clock that moves (progress intervals); default: always `now`. */
    clock?: () => Date;
  },
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'mxpolicy', ...args], {
    cwd: opts.cwd,
    env: opts.env ?? {},
    stdout: { write: (s: string) => (stdout += s), isTTY: opts.tty ?? false },
    stderr: { write: (s: string) => (stderr += s), isTTY: opts.stderrTty ?? false },
    now: opts.clock ?? (() => opts.now ?? FIXED_NOW),
  });
  return { code, stdout, stderr };
}

/** A temp folder removed after the test file; optionally seeded with a copy of `from`. */
export async function tempDir(prefix = 'mxpolicy-', from?: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  if (from !== undefined) await cp(from, dir, { recursive: true });
  return dir;
}

/** A temp repository holding a copy of the example `policies/`. */
export async function exampleRepo(): Promise<string> {
  const dir = await tempDir();
  await cp(path.join(REPO_ROOT, 'policies'), path.join(dir, 'policies'), { recursive: true });
  return dir;
}

/** `runCli` with positional arguments, as the git/audit tests call it. */
export function runCliAt(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
  now = new Date('2026-03-01T12:00:00Z'),
): Promise<CliResult> {
  return runCli(args, { cwd, env, now });
}
