import type { ValidateFunction } from 'ajv/dist/2020.js';
import * as generated from './validators.generated.js';
import { validatorOf, type FileKind, type SchemaValidator } from './schema-validator.js';

interface GeneratedModule {
  tenant: ValidateFunction;
  bundle: ValidateFunction;
  lists: Record<FileKind, [string, ValidateFunction][]>;
}

/**
 * The validator of the schemas shipped in `schemas/`, compiled ahead of time
 * (`npm run gen:validators`; a test checks it is what the schemas compile to): no ajv
 * compiler is loaded and nothing is compiled when a command starts.
 */
export function bundledSchemaValidator(): SchemaValidator {
  const mod = generated as unknown as GeneratedModule;
  return validatorOf({
    whole: { tenant: mod.tenant, bundle: mod.bundle },
    lists: { tenant: new Map(mod.lists.tenant), bundle: new Map(mod.lists.bundle) },
  });
}
