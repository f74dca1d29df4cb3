import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { stringify } from 'yaml';
import type { PolicySource } from '../src/config/policy-set.js';
import type { ReconcileDeps } from '../src/reconcile/reconcile.js';
import type { MimecastStats } from '../test/emulators/mimecast/emulator.js';
import { forkEmulator } from './emulator-harness.js';
import { DOMAINS } from './generate.js';
import { machine, median, envNumber } from './measure.js';
import {
  clientIdOf,
  mimecastBenchData,
  secretEnvOf,
  secretOf,
  tenantId,
  type MimecastBenchShape,
} from './mimecast-data.js';
import type { Command } from './mimecast-emulator-process.js';
import {
  applyPlan,
  createHttpDispatcher,
  createMimecastProviderFactory,
  planTenants,
  policyLoader,
  processCpuMs,
  silentLogger,
} from './product.js';

/**
 * npm run bench:mimecast — issue 10 scope 8: 125 Mimecast client accounts x (2,000 blocked
 * senders + 200 spoof exemptions) on the emulator with 20 ms per request:
 *   1. full apply from empty (plan + apply; creates in calls of 50),
 *   2. the plan after it (listing calls only, pages of 500),
 *   3. the emergency change: one sender added to the bundle all 125 include, planned and
 *      applied.
 * Bound = requests x latency / allowed concurrency. Mimecast publishes no concurrency or
 * rate numbers, so "allowed" is what this client lets out at once: its socket pool (one
 * origin, api.services.mimecast.com, for every account).
 */

const env = process.env;
const num = (name: string, dflt: number): number => envNumber(name, dflt, env);
const shape: MimecastBenchShape = {
  tenants: num('TENANTS', 125),
  senders: num('SENDERS', 2000),
  exemptions: num('EXEMPTIONS', 200),
};
const latencyMs = num('LATENCY_MS', 20);
const sockets = num('SOCKETS', 32);
const concurrency = num('CONCURRENCY', 16);
const runs = num('RUNS', 5);
const applyRuns = num('APPLY_RUNS', 3);
const TODAY = '2026-11-23';
const PAGE = 500;
const BATCH = 50;

const ms = (n: number): string => `${Math.round(n)} ms`;

const emu = await forkEmulator<Command>('mimecast-emulator-process.ts', {
  type: 'start',
  tenants: shape.tenants,
  latencyMs,
});
const { url } = emu.started;
try {
  const data = mimecastBenchData(shape, DOMAINS);

  // ---- policies --------------------------------------------------------------------------
  const tenantSources: PolicySource[] = Array.from({ length: shape.tenants }, (_, t) => {
    const mine = data.tenant(t);
    const doc = {
      tenant: tenantId(t),
      providers: {
        gateway: {
          type: 'mimecast',
          clientId: clientIdOf(t),
          secretEnv: secretEnvOf(t),
          baseUrl: url,
        },
      },
      domains: [`${tenantId(t)}.mail.example`],
      include: ['baseline'],
      blockedSenders: mine.blockedSenders,
      exemptions: mine.exemptions,
    };
    return {
      path: `policies/tenants/${tenantId(t)}.yaml`,
      kind: 'tenant',
      name: tenantId(t),
      text: stringify(doc),
    };
  });
  const bundleSource = (extra: string[]): PolicySource => ({
    path: 'policies/bundles/baseline.yaml',
    kind: 'bundle',
    name: 'baseline',
    text: stringify({
      bundle: 'baseline',
      blockedSenders: [
        ...data.baseline.blockedSenders,
        ...extra.map((sender) => ({
          sender,
          reason: 'CEO impersonation INC-9001, block everywhere',
        })),
      ],
      exemptions: data.baseline.exemptions,
    }),
  });
  const loadSet = policyLoader(TODAY);
  const load = (extra: string[]): ReturnType<typeof loadSet> =>
    loadSet([bundleSource(extra), ...tenantSources]);

  // ---- client ----------------------------------------------------------------------------
  const dispatcher = createHttpDispatcher({ connections: sockets });
  const deps: ReconcileDeps = {
    registry: { mimecast: createMimecastProviderFactory() },
    rootDir: '.',
    env: Object.fromEntries(
      Array.from({ length: shape.tenants }, (_, t) => [secretEnvOf(t), secretOf(t)]),
    ),
    dispatcher,
    logger: silentLogger,
    now: () => new Date(`${TODAY}T12:00:00Z`),
    concurrency,
  };
  const planOpts = { today: TODAY, allowLargeChanges: true, validationErrors: new Map() };
  const stats = async (): Promise<MimecastStats> => (await emu.stats<MimecastStats>()).stats;
  const reset = emu.reset;
  const bound = (requests: number): number => (requests * latencyMs) / sockets;
  const pages = (n: number): number => Math.max(1, Math.ceil(n / PAGE));
  const senders = shape.senders;
  const listingCalls = (extraSenders: number): number =>
    shape.tenants * (pages(senders + extraSenders) + pages(shape.exemptions));

  // ---- warm-up (untimed): JIT both processes, and check every response against the
  // contract on a few tenants; timed runs then skip the emulator's response validation
  // (it would be measuring the emulator, not the client).
  let set = load([]);
  {
    const few = set.tenants.slice(0, Math.min(5, set.tenants.length));
    const run = await planTenants(few, deps, planOpts);
    await applyPlan(run.plan, run.sessions, deps);
    await planTenants(few, deps, planOpts);
    await emu.validateResponses(false);
  }
  const cpu = async (): Promise<{ client: number; emulator: number }> => {
    const client = processCpuMs();
    return { client, emulator: (await emu.stats()).cpuMs };
  };
  const cpuSince = async (from: {
    client: number;
    emulator: number;
  }): Promise<{ client: number; emulator: number }> => {
    const to = await cpu();
    return { client: to.client - from.client, emulator: to.emulator - from.emulator };
  };

  // ---- 1. full apply from empty --------------------------------------------------------
  const full: {
    plan: number;
    apply: number;
    total: number;
    requests: number;
    writes: number;
    cpu: { client: number; emulator: number };
  }[] = [];
  for (let r = 0; r < applyRuns; r++) {
    await emu.ask({ type: 'clear' }, 'clear');
    await reset();
    const cpu0 = await cpu();
    const start = performance.now();
    const run = await planTenants(set.tenants, deps, planOpts);
    const planned = performance.now();
    const report = await applyPlan(run.plan, run.sessions, deps);
    const end = performance.now();
    const used = await cpuSince(cpu0);
    const s = await stats();
    const expected = shape.tenants * (senders + shape.exemptions);
    if (report.summary.applied !== expected || report.summary.failed !== 0)
      throw new Error(
        `full apply: ${JSON.stringify(report.summary)}, expected ${expected} applied`,
      );
    full.push({
      plan: planned - start,
      apply: end - planned,
      total: end - start,
      requests: s.requests,
      writes: s.requests - 2 * shape.tenants,
      cpu: used,
    });
    if (s.maxItemsPerCall > BATCH) throw new Error(`a call carried ${s.maxItemsPerCall} items`);
  }
  const expectedWrites =
    shape.tenants * (Math.ceil(senders / BATCH) + Math.ceil(shape.exemptions / BATCH));

  // ---- 2. the plan after it --------------------------------------------------------------
  const planTimes: number[] = [];
  const planCpu: { client: number; emulator: number }[] = [];
  let planRequests = 0;
  for (let r = 0; r < runs; r++) {
    await reset();
    const cpu0 = await cpu();
    const start = performance.now();
    const run = await planTenants(set.tenants, deps, planOpts);
    planTimes.push(performance.now() - start);
    planCpu.push(await cpuSince(cpu0));
    const s = await stats();
    planRequests = s.requests;
    const changes = run.plan.summary.create + run.plan.summary.update + run.plan.summary.delete;
    const writes = Object.entries(s.byOperation)
      .filter(([op]) => !op.endsWith('get-policy'))
      .reduce((a, [, n]) => a + n, 0);
    if (changes !== 0 || writes !== 0 || s.requests !== listingCalls(0))
      throw new Error(
        `plan after apply: ${changes} changes, ${writes} writes, ${s.requests} requests (expected ${listingCalls(0)} listing calls)`,
      );
  }

  // ---- 3. emergency change ---------------------------------------------------------------
  const emergency: { plan: number; apply: number; total: number; requests: number }[] = [];
  const added: string[] = [];
  for (let r = 0; r < runs; r++) {
    added.push(`ceo-${r}@lookalike-payroll.example`);
    await reset();
    const start = performance.now();
    set = load(added);
    const run = await planTenants(set.tenants, deps, planOpts);
    const planned = performance.now();
    const report = await applyPlan(run.plan, run.sessions, deps);
    const end = performance.now();
    const s = await stats();
    if (report.summary.applied !== shape.tenants || report.summary.failed !== 0)
      throw new Error(`emergency change: ${JSON.stringify(report.summary)}`);
    const writes = s.requests - listingCalls(added.length - 1);
    if (writes !== shape.tenants)
      throw new Error(`emergency change made ${writes} writes, expected ${shape.tenants}`);
    emergency.push({
      plan: planned - start,
      apply: end - planned,
      total: end - start,
      requests: s.requests,
    });
  }
  const { violations, firstViolations } = await emu.stats();
  const firstViolation = firstViolations[0];
  await dispatcher.close();

  // ---- report ----------------------------------------------------------------------------
  const f = {
    plan: median(full.map((x) => x.plan)),
    apply: median(full.map((x) => x.apply)),
    total: median(full.map((x) => x.total)),
    requests: median(full.map((x) => x.requests)),
  };
  const planMedian = median(planTimes);
  const e = {
    plan: median(emergency.map((x) => x.plan)),
    apply: median(emergency.map((x) => x.apply)),
    total: median(emergency.map((x) => x.total)),
    requests: median(emergency.map((x) => x.requests)),
  };
  const result = {
    machine: machine(),
    shape,
    latencyMs,
    sockets,
    concurrency,
    runs: { fullApply: applyRuns, other: runs },
    fullApply: {
      medianMs: Math.round(f.total),
      planMs: Math.round(f.plan),
      applyMs: Math.round(f.apply),
      runsMs: full.map((x) => Math.round(x.total)),
      clientCpuMs: Math.round(median(full.map((x) => x.cpu.client))),
      emulatorCpuMs: Math.round(median(full.map((x) => x.cpu.emulator))),
      requests: f.requests,
      expectedWrites,
      lowerBoundMs: bound(f.requests),
      ratio: +(f.total / bound(f.requests)).toFixed(2),
    },
    planAfterApply: {
      medianMs: Math.round(planMedian),
      runsMs: planTimes.map(Math.round),
      clientCpuMs: Math.round(median(planCpu.map((c) => c.client))),
      emulatorCpuMs: Math.round(median(planCpu.map((c) => c.emulator))),
      requests: planRequests,
      listingCallsOnly: true,
      lowerBoundMs: bound(planRequests),
      ratio: +(planMedian / bound(planRequests)).toFixed(2),
    },
    emergency: {
      medianMs: Math.round(e.total),
      planMs: Math.round(e.plan),
      applyMs: Math.round(e.apply),
      runsMs: emergency.map((x) => Math.round(x.total)),
      requests: e.requests,
      writes: shape.tenants,
      lowerBoundMs: bound(e.requests),
      ratio: +(e.total / bound(e.requests)).toFixed(2),
    },
    loadAverage: loadavg().map((x) => +x.toFixed(2)),
    contractViolations: violations,
  };
  console.log(`machine: ${result.machine}`);
  console.log(
    `${shape.tenants} accounts x (${senders} blocked senders + ${shape.exemptions} spoof exemptions); latency ${latencyMs} ms; ${sockets} sockets, ${concurrency} tenants at once; bound = requests x ${latencyMs} ms / ${sockets}`,
  );
  console.log(
    `full apply from empty:  ${ms(f.total)} (plan ${ms(f.plan)} + apply ${ms(f.apply)})  requests ${f.requests} (${2 * shape.tenants} listings + ${expectedWrites} writes of <= ${BATCH})  bound ${ms(bound(f.requests))}  ratio ${result.fullApply.ratio}   [median of ${applyRuns}]`,
  );
  console.log(
    `plan after apply:       ${ms(planMedian)}  requests ${planRequests} (listing calls only)  bound ${ms(bound(planRequests))}  ratio ${result.planAfterApply.ratio}   [median of ${runs}]`,
  );
  console.log(
    `emergency change:       ${ms(e.total)} (plan ${ms(e.plan)} + apply ${ms(e.apply)})  requests ${e.requests} (${shape.tenants} writes)  bound ${ms(bound(e.requests))}  ratio ${result.emergency.ratio}   [median of ${runs}]`,
  );
  console.log(
    `contract violations: ${violations}${firstViolation !== undefined ? ` (first: ${firstViolation})` : ''}`,
  );
  await mkdir('bench/out', { recursive: true });
  await writeFile('bench/out/mimecast.json', JSON.stringify(result, null, 2) + '\n');
  const met = f.total < 60_000 && e.total < 10_000;
  console.log(
    met
      ? 'targets met (full apply < 60 s; emergency change < 10 s; plan after apply lists only)'
      : 'targets MISSED (full apply < 60 s; emergency change < 10 s)',
  );
  if (violations > 0 || (!met && env['BENCH_STRICT'] === '1')) process.exitCode = 1;
} finally {
  await emu.close();
}
