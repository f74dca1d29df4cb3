import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { stringify } from 'yaml';
import type { ReconcileDeps } from '../src/reconcile/reconcile.js';
import type { EmulatorStats } from '../test/emulators/msgraph/emulator.js';
import { forkEmulator } from './emulator-harness.js';
import { machine, median, envNumber } from './measure.js';
import {
  BENCH_CASE,
  BENCH_CLIENT,
  BENCH_SECRET,
  BENCH_TENANT,
  type Command,
} from './msgraph-emulator-process.js';
import {
  applyPlan,
  createHttpDispatcher,
  createMsGraphProviderFactory,
  planTenants,
  policyLoader,
  processCpuMs,
  silentLogger,
} from './product.js';

/**
 * npm run bench:msgraph — one Microsoft 365 tenant whose directory has 50,000 mailboxes
 * (plus rooms without mail and disabled accounts), a hold with `custodians: all`, on the
 * Graph emulator at 20 ms per request (issue 11 scope 8):
 *
 * 1. plan + apply from an empty case until every source is added and the hold reported
 *    (apply polls the asynchronous status until `success`);
 * 2. the plan after it (reads the holds, their sources and the directory): must be empty.
 *
 * Bound: the least time the work takes at this latency with this client's parallelism —
 * the reads that must follow each other (token, case, the legal holds list, each page of
 * `/users`), then one round trip per `$batch` of 20 sources spread over the batches in
 * flight, plus the policy creates. Targets: apply < 60 s, the plan after it < 10 s.
 */

const env = process.env;
const num = (name: string, dflt: number): number => envNumber(name, dflt, env);
const mailboxes = num('MAILBOXES', 50_000);
const withoutMail = num('WITHOUT_MAIL', 400);
const disabled = num('DISABLED', 100);
const latencyMs = num('LATENCY_MS', 20);
const settleMs = num('SETTLE_MS', 500);
const sourceLimit = num('SOURCE_LIMIT', 1000);
const batchesInFlight = num('BATCHES_IN_FLIGHT', 12);
const runs = num('RUNS', 3);
const TODAY = '2026-12-01';

const ms = (n: number): string => `${(n / 1000).toFixed(2)} s`;

interface HoldsReply {
  policies: number;
  sources: number;
  distinct: number;
  largest: number;
  statuses: string[];
}

const t0 = performance.now();
const emu = await forkEmulator<Command, { graphUrl: string; authorityUrl: string }>(
  'msgraph-emulator-process.ts',
  { type: 'start', mailboxes, withoutMail, disabled, latencyMs, settleMs, sourceLimit },
);
const { ask } = emu;
const { graphUrl, authorityUrl } = emu.started;
try {
  console.log(
    `emulator ready: ${mailboxes} mailboxes + ${withoutMail} users without mail + ${disabled} disabled, ${latencyMs} ms per request (${ms(performance.now() - t0)})`,
  );

  const tenantText = stringify({
    tenant: 'contoso',
    providers: {
      m365: {
        type: 'msgraph',
        tenantId: BENCH_TENANT,
        clientId: BENCH_CLIENT,
        secretEnv: 'M365_BENCH_SECRET',
        case: BENCH_CASE,
        baseUrl: graphUrl,
        authorityUrl,
        maxSourcesPerPolicy: sourceLimit,
      },
    },
    domains: ['contoso-bench.example'],
    holds: [
      {
        id: 'LH-2026-017',
        matter: 'Smith v. Contoso (every mailbox)',
        custodians: 'all',
        since: '2026-11-30',
      },
    ],
  });
  const set = policyLoader(TODAY)([
    { path: 'policies/tenants/contoso.yaml', kind: 'tenant', name: 'contoso', text: tenantText },
  ]);

  const dispatcher = createHttpDispatcher({ connections: 16 });
  const deps: ReconcileDeps = {
    registry: { msgraph: createMsGraphProviderFactory({ batchesInFlight, maxConcurrent: 16 }) },
    rootDir: '.',
    env: { M365_BENCH_SECRET: BENCH_SECRET },
    dispatcher,
    logger: silentLogger,
    now: () => new Date(`${TODAY}T12:00:00Z`),
    concurrency: 1,
  };
  const planOpts = { today: TODAY, allowLargeChanges: false, validationErrors: new Map() };
  const stats = (): ReturnType<typeof emu.stats<EmulatorStats>> => emu.stats<EmulatorStats>();
  const clientCpu = processCpuMs;

  const applies: {
    ms: number;
    requests: number;
    inner: number;
    bound: number;
    clientCpu: number;
    emulatorCpu: number;
  }[] = [];
  const plans: { ms: number; requests: number }[] = [];
  let holds: HoldsReply | undefined;
  let reason = '';
  await emu.validateResponses(false);
  for (let r = 0; r < runs; r++) {
    await ask({ type: 'clear-holds' }, 'clear-holds');
    await emu.reset();
    const emu0 = (await stats()).cpuMs;
    const cpu0 = clientCpu();
    const start = performance.now();
    const run = await planTenants(set.tenants, deps, planOpts);
    if (run.plan.tenants[0]?.status !== 'ok' || run.plan.summary.create !== 1)
      throw new Error(
        `first plan: ${JSON.stringify(run.plan.tenants[0]?.errors ?? run.plan.summary)}`,
      );
    const report = await applyPlan(run.plan, run.sessions, deps);
    const elapsed = performance.now() - start;
    await run.close();
    const result = report.tenants[0]?.results[0];
    if (result?.status !== 'applied')
      throw new Error(`apply: ${result?.status ?? 'no result'} ${result?.reason ?? ''}`);
    reason = result.reason ?? '';
    const s = await stats();
    holds = await ask<HoldsReply>({ type: 'holds' }, 'holds');
    if (holds.sources !== mailboxes || holds.distinct !== mailboxes || holds.largest > sourceLimit)
      throw new Error(`live after apply: ${JSON.stringify(holds)}`);
    // Bound: sequential reads (token, case, holds list, users pages), policy creates, then
    // the batches spread over the batches in flight.
    const pages = Math.ceil((mailboxes + withoutMail + disabled) / 999);
    const batches = s.stats.byOperation['batch'] ?? 0;
    const creates = s.stats.byOperation['legalHolds.create'] ?? 0;
    const boundMs =
      (1 + 1 + 1 + pages + creates + Math.ceil(batches / batchesInFlight)) * latencyMs;
    applies.push({
      ms: elapsed,
      requests: s.stats.requests,
      inner: s.stats.innerRequests,
      bound: boundMs,
      clientCpu: clientCpu() - cpu0,
      emulatorCpu: s.cpuMs - emu0,
    });

    await emu.reset();
    const pStart = performance.now();
    const after = await planTenants(set.tenants, deps, planOpts);
    const pElapsed = performance.now() - pStart;
    await after.close();
    const changes =
      after.plan.summary.create + after.plan.summary.update + after.plan.summary.delete;
    if (after.plan.tenants[0]?.status !== 'ok' || changes !== 0)
      throw new Error(`plan after apply is not empty: ${JSON.stringify(after.plan.tenants[0])}`);
    plans.push({ ms: pElapsed, requests: (await stats()).stats.requests });
    console.log(
      `run ${r + 1}: apply ${ms(elapsed)} (${applies.at(-1)?.requests} requests), plan after ${ms(pElapsed)}`,
    );
  }
  const final = await stats();
  await dispatcher.close();

  const a = {
    ms: median(applies.map((x) => x.ms)),
    requests: median(applies.map((x) => x.requests)),
    inner: median(applies.map((x) => x.inner)),
    bound: median(applies.map((x) => x.bound)),
  };
  const p = { ms: median(plans.map((x) => x.ms)), requests: median(plans.map((x) => x.requests)) };
  const result = {
    machine: machine(),
    loadAverage: loadavg().map((x) => +x.toFixed(2)),
    mailboxes,
    withoutMail,
    disabled,
    latencyMs,
    settleMs,
    sourceLimit,
    batchesInFlight,
    runs,
    apply: {
      medianMs: Math.round(a.ms),
      runsMs: applies.map((x) => Math.round(x.ms)),
      requests: a.requests,
      innerRequests: a.inner,
      boundMs: a.bound,
      ratio: +(a.ms / a.bound).toFixed(2),
      clientCpuMs: Math.round(median(applies.map((x) => x.clientCpu))),
      emulatorCpuMs: Math.round(median(applies.map((x) => x.emulatorCpu))),
      policies: holds?.policies,
      result: reason,
    },
    planAfter: {
      medianMs: Math.round(p.ms),
      runsMs: plans.map((x) => Math.round(x.ms)),
      requests: p.requests,
    },
    contractViolations: final.violations,
  };
  console.log('');
  console.log(`machine: ${result.machine}; load average ${result.loadAverage.join(' ')}`);
  console.log(
    `apply (plan + apply + settle, custodians: all → ${mailboxes} sources in ${holds?.policies} policies): median ${ms(a.ms)} of ${runs}; ${a.requests} requests (${a.inner} inside ${applies.length > 0 ? 'batches' : ''}); bound ${ms(a.bound)}; ratio ${result.apply.ratio}`,
  );
  console.log(`  reported: ${reason}`);
  console.log(
    `plan after it: median ${ms(p.ms)}; ${p.requests} requests; 0 changes (hold reads as custodians: all)`,
  );
  console.log(
    `CPU per apply: client ${ms(result.apply.clientCpuMs)}, emulator ${ms(result.apply.emulatorCpuMs)}; contract violations: ${result.contractViolations}`,
  );
  await mkdir('bench/out', { recursive: true });
  await writeFile('bench/out/msgraph.json', JSON.stringify(result, null, 2) + '\n');
  const met = a.ms < 60_000 && p.ms < 10_000 && final.violations === 0;
  console.log(
    met
      ? 'targets met (apply < 60 s; plan after it < 10 s)'
      : 'targets MISSED (apply < 60 s; plan after it < 10 s)',
  );
  if (final.violations > 0) console.log(final.firstViolations.join('\n'));
  if (!met && env['BENCH_STRICT'] === '1') process.exitCode = 1;
} finally {
  await emu.close();
}
