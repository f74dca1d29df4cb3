/** Everything a command touches of the process, injected so tests run commands in-process. */
export interface CliContext {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  stdout: { write(chunk: string): unknown; isTTY?: boolean };
  stderr: { write(chunk: string): unknown; isTTY?: boolean };
  now: () => Date;
}

export function processContext(): CliContext {
  return {
    cwd: process.cwd(),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    now: () => new Date(),
  };
}

/** Exit codes (DESIGN §8). */
export const EXIT = { ok: 0, error: 1, changes: 2, blocked: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Colour only on a TTY, and never with NO_COLOR set (https://no-color.org). */
export function useColour(ctx: CliContext): boolean {
  return (
    ctx.stdout.isTTY === true && (ctx.env['NO_COLOR'] ?? '') === '' && ctx.env['TERM'] !== 'dumb'
  );
}

export function today(ctx: CliContext): string {
  return ctx.now().toISOString().slice(0, 10);
}
