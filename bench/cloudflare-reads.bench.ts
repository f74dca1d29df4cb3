import { builtinProviders, capabilityTable } from '../src/providers/registry.js';
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { PolicySource } from '../src/config/policy-set.js';
import type * as AffectedModule from '../src/config/affected-tenants.js';
import type * as LoadPoliciesModule from '../src/config/load-policies.js';
import type * as SchemaValidatorModule from '../src/config/schema-validator.js';
import type * as CloudflareProviderModule from '../src/providers/cloudflare/cloudflare-provider.js';
import type * as HttpClientModule from '../src/providers/http/client.js';
import type * as ProviderModule from '../src/providers/provider.js';
import type * as ReconcileModule from '../src/reconcile/reconcile.js';
import type * as SchemasModule from '../src/sources/schemas.js';
import type { ReconcileDeps } from '../src/reconcile/reconcile.js';
import type { EmulatorStats } from '../test/emulators/cloudflare/emulator.js';
import {
  accountOf,
  benchData,
  benchDomains,
  tenantId,
  tokenEnvOf,
  tokenOf,
  type BenchShape,
} from './cloudflare-data.js';
import type { Command } from './cloudflare-emulator-process.js';
import { askChild, type Asker, envNumber, median } from './measure.js';

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

const dist = async <T>(path: string): Promise<T> => (await import(`../dist/${path}`)) as T;
const { loadPolicies } = await dist<typeof LoadPoliciesModule>('config/load-policies.js');
const { affectedKeys } = await dist<typeof AffectedModule>('config/affected-tenants.js');
const { createSchemaValidator } = await dist<typeof SchemaValidatorModule>(
  'config/schema-validator.js',
);
const { createCloudflareProviderFactory } = await dist<typeof CloudflareProviderModule>(
  'providers/cloudflare/cloudflare-provider.js',
);
const { createHttpDispatcher } = await dist<typeof HttpClientModule>('providers/http/client.js');
const { silentLogger } = await dist<typeof ProviderModule>('providers/provider.js');
const { applyPlan, planTenants, readTenants } =
  await dist<typeof ReconcileModule>('reconcile/reconcile.js');
const { readBundledSchemas } = await dist<typeof SchemasModule>('sources/schemas.js');

const env = process.env;
const num = (name: string, dflt: number): number => envNumber(name, dflt, env);
const shape: BenchShape = {
  tenants: num('TENANTS', 125),
  senders: num('SENDERS', 2000),
  exemptions: num('EXEMPTIONS', 500),
};
const latencyMs = num('LATENCY_MS', 20);
const perIpRate = num('PER_IP_RATE', 200);
const allowed = Math.max(1, (perIpRate * latencyMs) / 1000);
const sockets = num('SOCKETS', Math.ceil(2 * allowed));
const runs = num('RUNS', 3);
const TODAY = '2026-11-23';

const child = fork(fileURLToPath(new URL('./cloudflare-emulator-process.ts', import.meta.url)), {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const ask: Asker<Command> = askChild(child);

try {
  const { url } = await ask<{ url: string }>({ type: 'start', shape, latencyMs }, 'started');
  const data = benchData(shape, benchDomains());
  const tenantSources = (routes: boolean): PolicySource[] =>
    Array.from({ length: shape.tenants }, (_, t) => {
      const mine = data.tenant(t);
      const doc = {
        tenant: tenantId(t),
        providers: {
          gateway: {
            type: 'cloudflare',
            account: accountOf(t),
            tokenEnv: tokenEnvOf(t),
            baseUrl: url,
          },
        },
        domains: [mine.route.domain],
        include: ['baseline'],
        blockedSenders: mine.blockedSenders,
        exemptions: mine.exemptions,
        ...(routes
          ? {
              routes: [
                { domain: mine.route.domain, deliverTo: mine.route.deliverTo, requireTls: true },
              ],
            }
          : {}),
      };
      return {
        path: `policies/tenants/${tenantId(t)}.yaml`,
        kind: 'tenant' as const,
        name: tenantId(t),
        text: stringify(doc),
      };
    });
  const bundle = (extra: string[]): PolicySource => ({
    path: 'policies/bundles/baseline.yaml',
    kind: 'bundle',
    name: 'baseline',
    text: stringify({
      bundle: 'baseline',
      blockedSenders: [
        ...data.baseline.blockedSenders,
        ...extra.map((sender) => ({ sender, reason: 'phishing campaign INC-9001' })),
      ],
      exemptions: data.baseline.exemptions,
    }),
  });
  const validator = createSchemaValidator(readBundledSchemas());
  const load = (extra: string[], routes: boolean): ReturnType<typeof loadPolicies> => {
    const set = loadPolicies([bundle(extra), ...tenantSources(routes)], {
      validator,
      capabilities: capabilityTable(builtinProviders),
      today: TODAY,
    });
    const errors = set.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) throw new Error(`policy errors: ${errors[0]?.message ?? ''}`);
    return set;
  };

  const dispatcher = createHttpDispatcher({ connections: sockets });
  const deps: ReconcileDeps = {
    registry: {
      cloudflare: createCloudflareProviderFactory({
        originRateLimit: { requests: perIpRate, windowMs: 1000, burst: 10 },
      }),
    },
    rootDir: '.',
    env: Object.fromEntries(
      Array.from({ length: shape.tenants }, (_, t) => [tokenEnvOf(t), tokenOf(t)]),
    ),
    dispatcher,
    logger: silentLogger,
    now: () => new Date(`${TODAY}T12:00:00Z`),
    concurrency: 16,
  };
  const planOpts = { today: TODAY, allowLargeChanges: false, validationErrors: new Map() };
  const stats = async (): Promise<EmulatorStats> =>
    (await ask<{ stats: EmulatorStats }>({ type: 'stats' }, 'stats')).stats;
  const reset = (): Promise<unknown> => ask({ type: 'reset' }, 'reset');
  const domainReads = (s: EmulatorStats): number =>
    s.byOperation['email_security_list_domains'] ?? 0;

  // Warm-up (untimed), then skip response validation in timed runs (emulator CPU).
  await planTenants(load([], false).tenants, deps, planOpts).then((r) => r.close());
  await ask({ type: 'validate-responses', on: false }, 'validate-responses');

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
  await dispatcher.close();
  const { violations } = await ask<{ violations: number }>({ type: 'stats' }, 'stats');

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
  await ask({ type: 'close' }, 'closed').catch(() => undefined);
}
