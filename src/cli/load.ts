import v8 from 'node:v8';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { loadPoliciesOneByOne, type LoadedTenant } from '../config/load-policies.js';
import type { PolicySet, PolicySource, TenantConfig } from '../config/policy-set.js';
import { bundledSchemaValidator } from '../config/precompiled-validator.js';
import type { SchemaValidator } from '../config/schema-validator.js';
import { selectTenants, tenantGlob } from '../config/select-tenants.js';
import type { CapabilityTable } from '../model/capabilities.js';
import { builtinProviders, capabilityTable } from '../providers/registry.js';
import { readPolicySources } from '../sources/policy-files.js';
import type { RepoConfig } from '../config/repo-config.js';
import { today, type CliContext } from './context.js';
import { policiesFolder } from './read-early.js';
import { readRepoConfig } from './repo-config.js';

export interface SelectionOptions {
  policies: string;
  tenant: string[];
  /** The policy files, already being read (`readPoliciesEarly`, started by `main`). */
  readEarly?: Promise<PolicySource[]>;
}

let validator: SchemaValidator | undefined;
/** One validator per process: the shipped schemas, compiled ahead of time. */
export function schemaValidator(): SchemaValidator {
  validator ??= bundledSchemaValidator();
  return validator;
}

/** What each built-in provider type serves and can store (validate checks bindings against it). */
export function builtinCapabilities(): CapabilityTable {
  return capabilityTable(builtinProviders);
}

/** Policy text beyond which the process trades some CPU for a smaller heap (~750k entries). */
const LARGE_ESTATE_CHARS = 24 * 2 ** 20;

/**
 * V8 lets the heap grow to about twice what is live before collecting it; an estate of a
 * million entries would then pass 1 GB. For such an estate, grow it by a fifth instead:
 * measured on a 312,500-entry plan, a quarter less peak memory for some 15% more CPU. A
 * process setting, made once the size of the work is known (smaller estates keep the speed).
 */
function favourMemoryForLargeEstates(sources: readonly { text: string }[]): void {
  let chars = 0;
  for (const s of sources) chars += s.text.length;
  if (chars > LARGE_ESTATE_CHARS) v8.setFlagsFromString('--heap-growing-percent=20');
}

export interface LoadedPolicies {
  root: string;
  set: PolicySet;
  selected: TenantConfig[];
  /** The repository configuration the policies were checked against. */
  config: RepoConfig;
  /** Diagnostics about the selected tenants' files and the bundles they include. */
  diagnostics: PolicySet['diagnostics'];
}

/**
 * Read the policy folder from the working tree and resolve the selected tenants. With
 * `onTenant`, each selected tenant is handed over as soon as its own file is loaded (the
 * event loop runs between files, so work started on it, such as reading its live state,
 * goes on while the next files are parsed).
 */
export async function loadSelectedPolicies(
  ctx: CliContext,
  opts: SelectionOptions,
  onTenant?: (loaded: LoadedTenant, config: RepoConfig) => void,
): Promise<LoadedPolicies> {
  const root = ctx.cwd;
  const dir = policiesFolder(ctx, opts.policies);
  const sources = await (opts.readEarly ?? readPolicySources(root, dir));
  favourMemoryForLargeEstates(sources);
  if (sources.length === 0)
    throw new Error(
      `no policy files in ${dir}/tenants/ or ${dir}/bundles/ (run from the repository root, or pass --policies DIR)`,
    );
  const config = await readRepoConfig(ctx);
  const loading = loadPoliciesOneByOne(sources, {
    validator: schemaValidator(),
    capabilities: builtinCapabilities(),
    today: today(ctx),
    trust: config.trust,
  });
  const wanted = opts.tenant.map(tenantGlob);
  let set: PolicySet;
  for (;;) {
    const step = loading.next();
    if (step.done === true) {
      set = step.value;
      break;
    }
    if (onTenant === undefined) continue;
    if (wanted.length === 0 || wanted.some((g) => g.test(step.value.tenant.tenant)))
      onTenant(step.value, config);
    await yieldToEventLoop();
  }
  const selected = selectTenants(set.tenants, opts.tenant);
  // A mistyped --tenant must not look like "nothing to do" (an on-call at 3 a.m.).
  for (const glob of opts.tenant) {
    if (
      selectTenants(set.tenants, [glob]).length === 0 &&
      !sources.some(
        (s) => s.kind === 'tenant' && selectTenants([{ tenant: s.name }], [glob]).length > 0,
      )
    )
      throw new Error(
        `--tenant '${glob}' matches no tenant (tenants: ${set.tenants.map((t) => t.tenant).join(', ') || 'none'})`,
      );
  }
  let diagnostics = set.diagnostics;
  if (opts.tenant.length > 0) {
    const unselected = new Set(set.tenants.filter((t) => !selected.includes(t)).map((t) => t.file));
    const wanted = new Set([
      ...selected.map((t) => t.file),
      ...selected.flatMap((t) =>
        t.include.map((b) => set.bundles.find((x) => x.bundle === b)?.file),
      ),
    ]);
    const bundleFiles = new Set(set.bundles.map((b) => b.file));
    diagnostics = diagnostics.filter(
      (d) => wanted.has(d.file) || (!unselected.has(d.file) && !bundleFiles.has(d.file)),
    );
  }
  return { root, set, selected, diagnostics, config };
}

export { collect } from './collect.js';
