import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateSchemaTypes, generatedTypesPath } from '../scripts/schema-types.js';
import { assembledTenantSchema, tenantSchemaPath } from '../scripts/tenant-schema.js';
import { KINDS } from '../src/model/kinds.js';
import { assembleTenantSchema } from '../src/providers/binding-schema.js';
import { builtinProviders } from '../src/providers/registry.js';
import { sandboxProvider } from '../src/providers/sandbox/sandbox-provider.js';

describe('schemas are the single source of truth', () => {
  it('src/model/schema-types.generated.ts is what the schemas generate (npm run gen:types)', async () => {
    expect(readFileSync(generatedTypesPath, 'utf8')).toBe(await generateSchemaTypes());
  });

  it('the example files point editors at the schemas', () => {
    for (const file of ['policies/tenants/acme-emea.yaml', 'policies/bundles/baseline.yaml']) {
      expect(readFileSync(file, 'utf8').split('\n')[0]).toMatch(
        /^# yaml-language-server: \$schema=\.\.\/\.\.\/schemas\/(tenant|bundle)\.schema\.json$/,
      );
    }
  });
});

describe('the tenant schema is assembled from the provider registry', () => {
  it('schemas/tenant.schema.json is what the providers declare (npm run gen:schemas)', async () => {
    const committed = JSON.parse(readFileSync(tenantSchemaPath, 'utf8')) as unknown;
    expect(committed).toEqual(await assembledTenantSchema());
  });

  it('lists every registered provider type, and only those, in the binding oneOf', () => {
    const schema = JSON.parse(readFileSync(tenantSchemaPath, 'utf8')) as {
      $defs: { providerBinding: { oneOf: { $ref: string }[] } };
    };
    expect(schema.$defs.providerBinding.oneOf.map((s) => s.$ref).sort()).toEqual(
      Object.keys(builtinProviders)
        .sort()
        .map((t) => `#/$defs/${t}Binding`),
    );
  });

  it('a provider added to the registry changes the assembled schema (the check can fail)', () => {
    const committed = JSON.parse(readFileSync(tenantSchemaPath, 'utf8')) as Record<string, unknown>;
    const extra = {
      ...builtinProviders,
      example: { ...sandboxProvider, type: 'example', bindingSchema: { type: 'object' } },
    };
    expect(assembleTenantSchema(committed, extra)).not.toEqual(committed);
  });

  it('declares kinds in one place: the schema enum is the model list', () => {
    const schema = JSON.parse(readFileSync(tenantSchemaPath, 'utf8')) as {
      $defs: { kind: { enum: string[] } };
    };
    expect(schema.$defs.kind.enum).toEqual([...KINDS]);
  });
});
