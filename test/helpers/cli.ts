import { main } from '../../src/cli/main.js';
import type { CliContext } from '../../src/cli/context.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in-process in `cwd` with an injected environment and clock. */
export async function runCli(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
  now = new Date('2026-03-01T12:00:00Z'),
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const ctx: CliContext = {
    cwd,
    env,
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    now: () => now,
  };
  const code = await main(['node', 'mxpolicy', ...args], ctx);
  return { code, stdout, stderr };
}
