import { builtinProviders, capabilityTable } from '../../src/providers/registry.js';
import { loadPolicies } from '../../src/config/load-policies.js';
import type { PolicySet, PolicySource } from '../../src/config/policy-set.js';
import { createSchemaValidator } from '../../src/config/schema-compile.js';
import { readBundledSchemas } from '../../src/sources/schemas.js';

const validator = createSchemaValidator(readBundledSchemas());

/** Load in-memory policy files: `{ 'tenants/acme.yaml': '...' }` (paths below policies/). */
export function loadFromTexts(files: Record<string, string>, today = '2026-11-23'): PolicySet {
  const sources: PolicySource[] = Object.entries(files).map(([rel, text]) => {
    const [folder, file = ''] = rel.split('/');
    return {
      path: `policies/${rel}`,
      kind: folder === 'bundles' ? 'bundle' : 'tenant',
      name: file.replace(/\.ya?ml$/, ''),
      text,
    };
  });
  return loadPolicies(sources, {
    validator,
    capabilities: capabilityTable(builtinProviders),
    today,
  });
}

/** A minimal valid tenant file with extra YAML appended. */
export function tenantYaml(
  tenant: string,
  extra = '',
  head = 'providers:\n  sandbox: { type: sandbox }\ndomains: [acme.eu]\n',
): string {
  return `tenant: ${tenant}\n${head}${extra}`;
}
