import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

export interface Run {
  code: number;
  ms: number;
  /** CPU time (user + system) of the run: close to the wall time on an idle machine. */
  cpuMs: number;
  maxRssMB: number;
}

/** Run `mxpolicy <args>` (built dist) in `cwd` in a fresh process; return its measurements. */
export function measureCli(args: string[], cwd: string, env: Record<string, string> = {}): Run {
  const child = path.resolve(import.meta.dirname, 'child.mjs');
  const r = spawnSync(process.execPath, [child, ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const line = r.stderr.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Run;
  } catch {
    throw new Error(`benchmark child failed: ${r.stderr.slice(0, 2000)}`);
  }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

export function machine(): string {
  return `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}
