import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

export interface Run {
  code: number;
  /**
   * Wall time as a user waits for it, timed here in the parent from spawn to exit: Node's
   * start, module loading and imports included.
   */
  ms: number;
  /** Time inside `main()` only, as the child measures it (for comparison). */
  inProcessMs: number;
  /** CPU time (user + system) of the run: close to the wall time on an idle machine. */
  cpuMs: number;
  maxRssMB: number;
}

/** Run `mxpolicy <args>` (built dist) in `cwd` in a fresh process; return its measurements. */
export function measureCli(args: string[], cwd: string, env: Record<string, string> = {}): Run {
  const child = path.resolve(import.meta.dirname, 'child.mjs');
  const started = performance.now();
  const r = spawnSync(process.execPath, [child, ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const ms = performance.now() - started;
  const line = r.stderr.trim().split('\n').pop() ?? '';
  try {
    const reported = JSON.parse(line) as Omit<Run, 'inProcessMs'>;
    return { ...reported, inProcessMs: reported.ms, ms };
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

/**
 * How fast this machine is right now: ms to `JSON.parse` a fixed 8.6 MB text five times (a
 * CPU- and allocation-bound workload like the CLI's). Shared and virtual machines drift by a
 * third within minutes; a figure is comparable with another only beside its calibration.
 */
export function calibrate(): number {
  const text = JSON.stringify(
    Array.from({ length: 200_000 }, (_, i) => ({
      id: `id${i}`,
      pattern: `x${i}.example.com`,
      comments: `[mxpolicy] reason ${i}`,
      n: i,
    })),
  );
  const started = performance.now();
  for (let r = 0; r < 5; r++) JSON.parse(text);
  return Math.round(performance.now() - started);
}

/** `measureCli` without blocking this process (a benchmark that talks to an emulator meanwhile). */
export function measureCliAsync(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Run> {
  const child = path.resolve(import.meta.dirname, 'child.mjs');
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', () => {
      const ms = performance.now() - started;
      const line = stderr.trim().split('\n').pop() ?? '';
      try {
        const reported = JSON.parse(line) as Omit<Run, 'inProcessMs'>;
        resolve({ ...reported, inProcessMs: reported.ms, ms });
      } catch {
        reject(new Error(`benchmark child failed: ${stderr.slice(0, 2000)}`));
      }
    });
  });
}

/** A number from the environment (`RUNS=5`), or `dflt` when unset or empty. */
export function envNumber(
  name: string,
  dflt: number,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const v = env[name];
  return v === undefined || v === '' ? dflt : Number(v);
}

/** Asks a forked emulator process for something (`askChild`), typed by its commands. */
export type Asker<C> = <T>(cmd: C, expect: string) => Promise<T>;

/**
 * Ask a forked emulator process (`bench/*-emulator-process.ts`) something: send `cmd`, resolve
 * with its first answer of type `expect`, reject on its `error` answer.
 */
export function askChild(child: ChildProcess): Asker<object> {
  return <T>(cmd: object, expect: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: { type: string; message?: string }): void => {
        if (m.type === 'error') reject(new Error(m.message));
        else if (m.type === expect) resolve(m as T);
        else return;
        child.off('message', onMessage);
      };
      child.on('message', onMessage);
      child.send(cmd);
    });
}
