import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import {
  AJV_OPTIONS,
  FORMATS,
  listItemRefs,
  validatorOf,
  type FileKind,
  type PolicySchemas,
  type SchemaValidator,
} from './schema-validator.js';

// ajv-formats is CommonJS (`module.exports = plugin`, plus `exports.default = plugin`); its
// types describe the namespace, so take `.default`, which exists at run time either way.
const addFormats = addFormatsModule.default;

/**
 * Compile policy JSON Schemas at run time (tests, other schemas). The CLI validates with the
 * same validators compiled ahead of time (`bundledSchemaValidator`), which spares every
 * process ajv's compiler.
 */
export function createSchemaValidator(schemas: PolicySchemas): SchemaValidator {
  const ajv = new Ajv2020({ ...AJV_OPTIONS });
  addFormats(ajv, [...FORMATS]);
  ajv.addSchema(schemas.defs);
  const lists = (file: object): Map<string, ValidateFunction> => {
    const out = new Map<string, ValidateFunction>();
    for (const [key, ref] of listItemRefs(schemas.defs, file)) {
      const fn = ajv.getSchema(ref);
      if (fn !== undefined) out.set(key, fn);
    }
    return out;
  };
  const whole: Record<FileKind, ValidateFunction> = {
    tenant: ajv.compile(schemas.tenant),
    bundle: ajv.compile(schemas.bundle),
  };
  return validatorOf({
    whole,
    lists: { tenant: lists(schemas.tenant), bundle: lists(schemas.bundle) },
  });
}
