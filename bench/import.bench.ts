import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { accountOf, shapeFromEnv, tenantId, tokenEnvOf, tokensEnv } from './cloudflare-data.js';
import type { Command } from './cloudflare-emulator-process.js';
import { forkEmulator } from './emulator-harness.js';
import { envNumber, median } from './measure.js';

/**
 * npm run bench:import — onboarding at scale: 125 acquired tenants x 2,500 live entries
 * (2,000 blocked senders + 500 exemptions, none with mxpolicy's marker, 75% of the senders
 * shared by every tenant) plus a few regex patterns each, on the Cloudflare emulator at 20 ms
 * per request (in its own process). Each run: `mxpolicy import --bundle baseline` (read,
 * write 125 files and the bundle, adopt every entry live), then `mxpolicy plan
 * --detailed-exitcode`, which must exit 0. Fresh emulator per run. Target: import < 30 s.
 */

const BIN = fileURLToPath(new URL('../bin/mxpolicy.js', import.meta.url));

const env = process.env;
const num = (name: string, dflt: number): number => envNumber(name, dflt, env);
const shape = shapeFromEnv(env);
const latencyMs = num('LATENCY_MS', 20);
const runs = num('RUNS', 3);
const regexPerTenant = num('REGEX', 3);
const concurrency = String(num('CONCURRENCY', 16));

const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function startEmulator(): Promise<{
  url: string;
  stats: () => Promise<{ requests: number; byOperation: Record<string, number>; cpuMs: number }>;
  stop: () => Promise<void>;
}> {
  const emu = await forkEmulator<Command>(
    'cloudflare-emulator-process.ts',
    { type: 'start', shape, latencyMs, unmanaged: { regexPerTenant } },
    { validateResponses: false },
  );
  return {
    url: emu.started.url,
    stats: async () => {
      const r = await emu.stats<{ requests: number; byOperation: Record<string, number> }>();
      return { ...r.stats, cpuMs: r.cpuMs };
    },
    stop: emu.close,
  };
}

/**
 * CPU time (user + system) of this process's children that have exited, from
 * /proc/self/stat (cutime, cstime; Linux, 100 ticks a second); NaN elsewhere. The CLI runs
 * in a child: the difference around one run is that run's CPU, whatever the machine's load.
 */
function exitedChildrenCpuMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return Number.NaN;
  }
}

async function cli(
  args: string[],
  cwd: string,
  tokens: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string; ms: number; cpuMs: number }> {
  // Timed here, in the parent, from spawning the built CLI to its exit: what a user waits
  // for, Node's start-up and imports included.
  let stdout = '';
  let stderr = '';
  const t0 = performance.now();
  const c0 = exitedChildrenCpuMs();
  const code = await new Promise<number>((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: env['PATH'] ?? '', ...tokens },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (c) => {
      resolve(c ?? 1);
    });
  });
  const ms = performance.now() - t0;
  return { code, stdout, stderr, ms, cpuMs: exitedChildrenCpuMs() - c0 };
}

const tokens = tokensEnv(shape.tenants);
const imports: number[] = [];
const importCpu: number[] = [];
const plans: number[] = [];
const loads: number[] = [];
console.log(
  `import bench: ${shape.tenants} tenants x ${shape.senders + shape.exemptions} live entries (+${regexPerTenant} regex), ${latencyMs} ms per request, concurrency ${concurrency}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${loadavg()[0]?.toFixed(2) ?? '?'}`,
);
for (let run = 1; run <= runs; run++) {
  const emu = await startEmulator();
  const repo = await mkdtemp(path.join(tmpdir(), 'mxpolicy-import-bench-'));
  try {
    await mkdir(path.join(repo, 'policies/tenants'), { recursive: true });
    for (let t = 0; t < shape.tenants; t++)
      await writeFile(
        path.join(repo, `policies/tenants/${tenantId(t)}.yaml`),
        `# acquired tenant ${t}\ntenant: ${tenantId(t)}\nproviders:\n  gateway:\n    type: cloudflare\n    account: '${accountOf(t)}'\n    tokenEnv: ${tokenEnvOf(t)}\n    baseUrl: ${emu.url}\n    kinds: [blockedSenders, exemptions]\ndomains: [${tenantId(t)}.mail.example]\n`,
      );
    const beforeImport = await emu.stats();
    const imp = await cli(
      ['import', '--bundle', 'baseline', '--min-share', '0.8', '--concurrency', concurrency],
      repo,
      tokens,
    );
    if (imp.code !== 0) throw new Error(`import exited ${imp.code}: ${imp.stderr.slice(0, 2000)}`);
    const afterImport = await emu.stats();
    const plan = await cli(
      ['plan', '--detailed-exitcode', '--concurrency', concurrency],
      repo,
      tokens,
    );
    if (plan.code !== 0)
      throw new Error(
        `plan after import exited ${plan.code}: ${(plan.stderr + plan.stdout).slice(0, 2000)}`,
      );
    imports.push(imp.ms);
    importCpu.push(imp.cpuMs);
    plans.push(plan.ms);
    loads.push(loadavg()[0] ?? 0);
    const bundle = await readFile(path.join(repo, 'policies/bundles/baseline.yaml'), 'utf8');
    const last = imp.stdout.trim().split('\n').slice(-2).join(' | ');
    console.log(
      `run ${run}: import ${sec(imp.ms)} wall, ${sec(imp.cpuMs)} CPU of the CLI + ${sec(afterImport.cpuMs - beforeImport.cpuMs)} CPU of the emulator (load ${(loadavg()[0] ?? 0).toFixed(1)}; ${afterImport.requests} requests: ${JSON.stringify(afterImport.byOperation)}), then plan ${sec(plan.ms)} (exit 0, no changes); bundle ${bundle.split('\n').length} lines; ${last}`,
    );
  } finally {
    await rm(repo, { recursive: true, force: true });
    await emu.stop();
  }
}
console.log(
  `median of ${runs}: import ${sec(median(imports))} wall (target < 30 s), ${sec(median(importCpu))} CPU of the CLI; plan after import ${sec(median(plans))}; load average ${median(loads).toFixed(1)} on ${cpus().length} CPUs (wall time stretches with load, CPU time much less)`,
);
if (median(imports) >= 30_000) process.exitCode = 1;
