import { loadavg } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import type { EmulatorStats } from '../test/emulators/cloudflare/emulator.js';
import {
  benchData,
  benchDomains,
  bundleSource,
  shapeFromEnv,
  tenantSources,
  tokensEnv,
} from './cloudflare-data.js';
import type { Command } from './cloudflare-emulator-process.js';
import { forkEmulator } from './emulator-harness.js';
import { envNumber, median } from './measure.js';
import {
  affectedKeys,
  applyPlan,
  cloudflareDeps,
  planTenants,
  policyLoader,
  readTenants,
} from './product.js';

/**
 * npm run bench:cloudflare-reads — what reading only what a change needs saves, in requests
 * and time: 125 tenants x (2,000 blocked senders + 500 exemptions + 1 live domain) on the
 * Cloudflare emulator at 20 ms per request, and the emergency change (one sender added to
 * the bundle every tenant includes), planned four ways:
 *
 *   every-kind   what plans read before: every kind the binding serves, in full
 *   full         a full plan of tenants that declare no route (domains are not read)
 *   full+routes  a full plan of tenants that declare their route
 *   targeted     the plan limited to the changed key (--changed-since, propose): one
 *                filtered request per tenant; then applied (one write per tenant)
 */

const env = process.env;
const num = (name: string, dflt: number): number => envNumber(name, dflt, env);
const shape = shapeFromEnv(env);
const latencyMs = num('LATENCY_MS', 20);
const perIpRate = num('PER_IP_RATE', 200);
const allowed = Math.max(1, (perIpRate * latencyMs) / 1000);
const sockets = num('SOCKETS', Math.ceil(2 * allowed));
const runs = num('RUNS', 3);
const TODAY = '2026-11-23';

const emu = await forkEmulator<Command>('cloudflare-emulator-process.ts', {
  type: 'start',
  shape,
  latencyMs,
});
const { url } = emu.started;
try {
  const data = benchData(shape, benchDomains());
  const loadSet = policyLoader(TODAY);
  const load = (extra: string[], routes: boolean): ReturnType<typeof loadSet> =>
    loadSet([
      bundleSource(data.baseline, extra, 'phishing campaign INC-9001'),
      ...tenantSources(shape, data, url, { routes }),
    ]);

  const deps = cloudflareDeps({ sockets, perIpRate, env: tokensEnv(shape.tenants), today: TODAY });
  const planOpts = { today: TODAY, allowLargeChanges: false, validationErrors: new Map() };
  const stats = async (): Promise<EmulatorStats> => (await emu.stats<EmulatorStats>()).stats;
  const reset = emu.reset;
  const domainReads = (s: EmulatorStats): number =>
    s.byOperation['email_security_list_domains'] ?? 0;

  // Warm-up (untimed), then skip response validation in timed runs (emulator CPU).
  await planTenants(load([], false).tenants, deps, planOpts).then((r) => r.close());
  await emu.validateResponses(false);

  type Row = { ms: number; requests: number; domainReads: number };
  const rows: Record<string, Row[]> = {
    'every-kind': [],
    full: [],
    'full+routes': [],
    targeted: [],
    'targeted apply': [],
  };
  const time = async (name: string, fn: () => Promise<void>): Promise<void> => {
    await reset();
    const start = performance.now();
    await fn();
    const ms = performance.now() - start;
    const s = await stats();
    rows[name]?.push({ ms, requests: s.requests, domainReads: domainReads(s) });
  };
  const added: string[] = [];
  for (let r = 0; r < runs; r++) {
    const before = load([...added], false);
    added.push(`login-verify-${r}.account-alerts.example`);
    const after = load([...added], false);
    const withRoutes = load([...added], true);
    await time('every-kind', async () => {
      const run = await readTenants(after.tenants, deps, new Map());
      if (run.reads.some((x) => x.status !== 'ok')) throw new Error('a read failed');
      await run.close();
    });
    await time('full', async () => {
      const run = await planTenants(after.tenants, deps, planOpts);
      await run.close();
      if (run.plan.summary.create !== shape.tenants) throw new Error('full: wrong plan');
    });
    await time('full+routes', async () => {
      const run = await planTenants(withRoutes.tenants, deps, planOpts);
      await run.close();
      if (run.plan.summary.create !== shape.tenants) throw new Error('full+routes: wrong plan');
    });
    const targets = affectedKeys(before.tenants, after.tenants);
    let planned: Awaited<ReturnType<typeof planTenants>> | undefined;
    await time('targeted', async () => {
      planned = await planTenants(after.tenants, deps, { ...planOpts, targets });
      if (planned.plan.summary.create !== shape.tenants || planned.plan.read?.mode !== 'targeted')
        throw new Error('targeted: wrong plan');
    });
    await time('targeted apply', async () => {
      if (planned === undefined) return;
      const report = await applyPlan(planned.plan, planned.sessions, deps);
      await planned.close();
      if (report.summary.applied !== shape.tenants) throw new Error('apply failed');
    });
  }
  await deps.dispatcher.close();
  const { violations } = await emu.stats();

  const summary = Object.fromEntries(
    Object.entries(rows).map(([k, v]) => [
      k,
      {
        medianMs: Math.round(median(v.map((x) => x.ms))),
        runsMs: v.map((x) => Math.round(x.ms)),
        requests: median(v.map((x) => x.requests)),
        domainReads: median(v.map((x) => x.domainReads)),
      },
    ]),
  );
  const result = {
    shape,
    latencyMs,
    runs,
    loadAverage: loadavg().map((x) => +x.toFixed(2)),
    summary,
    contractViolations: violations,
  };
  console.log(
    `${shape.tenants} tenants x (${shape.senders} senders + ${shape.exemptions} exemptions), ${latencyMs} ms per request, median of ${runs}:`,
  );
  for (const [k, v] of Object.entries(summary))
    console.log(
      `  ${k.padEnd(15)} ${String(v.requests).padStart(5)} requests (${v.domainReads} domain listings)  ${v.medianMs} ms`,
    );
  const base = summary['every-kind']?.requests ?? 0;
  const full = summary['full']?.requests ?? 0;
  const targeted = summary['targeted']?.requests ?? 0;
  console.log(
    `undeclared routes not read: ${base - full} requests saved (${(((base - full) / base) * 100).toFixed(1)}% of the plan's reads)`,
  );
  console.log(
    `targeted emergency plan: ${targeted} requests instead of ${base} (${(((base - targeted) / base) * 100).toFixed(1)}% fewer)`,
  );
  console.log(`contract violations: ${violations}; load average ${result.loadAverage.join(' ')}`);
  await mkdir('bench/out', { recursive: true });
  await writeFile('bench/out/cloudflare-reads.json', JSON.stringify(result, null, 2) + '\n');
  if (violations > 0) process.exitCode = 1;
} finally {
  await emu.close();
}
