import type { PolicySource } from '../src/config/policy-set.js';
import type * as AffectedModule from '../src/config/affected-tenants.js';
import type * as LoadPoliciesModule from '../src/config/load-policies.js';
import type * as SchemaValidatorModule from '../src/config/schema-compile.js';
import type * as CloudflareProviderModule from '../src/providers/cloudflare/cloudflare-provider.js';
import type * as HttpClientModule from '../src/providers/http/client.js';
import type * as MimecastProviderModule from '../src/providers/mimecast/mimecast-provider.js';
import type * as MsGraphProviderModule from '../src/providers/msgraph/msgraph-provider.js';
import type * as ProviderModule from '../src/providers/provider.js';
import type * as RegistryModule from '../src/providers/registry.js';
import type * as ReconcileModule from '../src/reconcile/reconcile.js';
import type * as SchemasModule from '../src/sources/schemas.js';
import type { ReconcileDeps } from '../src/reconcile/reconcile.js';

/**
 * The product as the in-process benchmarks call it: from dist/ (tsc output), as the CLI runs.
 * tsx's transform adds per-call overhead (keepNames) that the built CLI does not have; every
 * `bench:*` npm script builds first.
 */
const dist = async <T>(path: string): Promise<T> => (await import(`../dist/${path}`)) as T;

export const { loadPolicies } = await dist<typeof LoadPoliciesModule>('config/load-policies.js');
export const { affectedKeys } = await dist<typeof AffectedModule>('config/affected-tenants.js');
export const { createSchemaValidator } = await dist<typeof SchemaValidatorModule>(
  'config/schema-compile.js',
);
export const { createCloudflareProviderFactory } = await dist<typeof CloudflareProviderModule>(
  'providers/cloudflare/cloudflare-provider.js',
);
export const { createMimecastProviderFactory } = await dist<typeof MimecastProviderModule>(
  'providers/mimecast/mimecast-provider.js',
);
export const { createMsGraphProviderFactory } = await dist<typeof MsGraphProviderModule>(
  'providers/msgraph/msgraph-provider.js',
);
export const { builtinProviders, capabilityTable } =
  await dist<typeof RegistryModule>('providers/registry.js');
export const { createHttpDispatcher } = await dist<typeof HttpClientModule>(
  'providers/http/client.js',
);
export const { silentLogger } = await dist<typeof ProviderModule>('providers/provider.js');
export const { applyPlan, planAndApplyTenants, planTenants, readTenants } =
  await dist<typeof ReconcileModule>('reconcile/reconcile.js');
export const { readBundledSchemas } = await dist<typeof SchemasModule>('sources/schemas.js');

export type PolicySet = ReturnType<typeof loadPolicies>;

/**
 * Load policy sources as `mxpolicy plan` does (bundled schemas, built-in providers' capabilities,
 * `today`); with `check` (default), a policy error is the benchmark's own bug: throw it.
 */
export function policyLoader(
  today: string,
  opts: { check?: boolean } = {},
): (sources: PolicySource[]) => PolicySet {
  const validator = createSchemaValidator(readBundledSchemas());
  const capabilities = capabilityTable(builtinProviders);
  return (sources) => {
    const set = loadPolicies(sources, { validator, capabilities, today });
    const errors = set.diagnostics.filter((d) => d.severity === 'error');
    if (opts.check !== false && errors.length > 0)
      throw new Error(
        `policy errors: ${errors
          .slice(0, 3)
          .map((e) => e.message)
          .join('; ')}`,
      );
    return set;
  };
}

/** CPU time (user + system) of this process so far. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * What `mxpolicy plan`/`apply` would be given for the Cloudflare benchmarks: `sockets`
 * connections, the client's own pacing to `perIpRate` requests a second per origin (Cloudflare's
 * per-IP limit), and optionally the vendor's budget per token (`rateLimit`).
 */
export function cloudflareDeps(opts: {
  sockets: number;
  perIpRate: number;
  env: Record<string, string>;
  today: string;
  rateLimit?: { requests: number; windowMs: number };
  rootDir?: string;
}): ReconcileDeps & { dispatcher: ReturnType<typeof createHttpDispatcher> } {
  return {
    registry: {
      cloudflare: createCloudflareProviderFactory({
        originRateLimit: { requests: opts.perIpRate, windowMs: 1000, burst: 10 },
        ...(opts.rateLimit !== undefined ? { rateLimit: opts.rateLimit } : {}),
      }),
    },
    rootDir: opts.rootDir ?? '.',
    env: opts.env,
    dispatcher: createHttpDispatcher({ connections: opts.sockets }),
    logger: silentLogger,
    now: () => new Date(`${opts.today}T12:00:00Z`),
    concurrency: 16,
  };
}
