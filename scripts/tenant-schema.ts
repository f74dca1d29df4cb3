import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { assembleTenantSchema } from '../src/providers/binding-schema.js';
import type { JsonSchemaObject } from '../src/providers/provider.js';
import { builtinProviders } from '../src/providers/registry.js';

const root = path.resolve(import.meta.dirname, '..');
export const tenantSchemaPath = path.join(root, 'schemas/tenant.schema.json');

/** schemas/tenant.schema.json with the binding schemas of every registered provider. */
export async function assembledTenantSchema(): Promise<JsonSchemaObject> {
  const current = JSON.parse(await readFile(tenantSchemaPath, 'utf8')) as JsonSchemaObject;
  return assembleTenantSchema(current, builtinProviders);
}
