import { writeFile } from 'node:fs/promises';
import { format } from 'prettier';
import { assembledTenantSchema, tenantSchemaPath } from './tenant-schema.js';

// The binding part of the tenant schema comes from the providers' own schemas (registry).
const text = JSON.stringify(await assembledTenantSchema(), null, 2);
await writeFile(
  tenantSchemaPath,
  await format(text, { parser: 'json', filepath: tenantSchemaPath }),
);
console.log(`wrote ${tenantSchemaPath}`);
