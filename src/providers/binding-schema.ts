import { KINDS } from '../model/kinds.js';
import type { ProviderCapabilities } from '../model/capabilities.js';
import type { JsonSchemaObject, ProviderFactory } from './provider.js';

/**
 * The parts every binding schema shares. A provider's own schema lives in its folder
 * (`<type>/binding-schema.ts`) and is assembled into `schemas/tenant.schema.json`.
 */
export function bindingSchema(
  type: string,
  caps: ProviderCapabilities,
  spec: {
    title: string;
    description: string;
    required?: readonly string[];
    properties: Record<string, JsonSchemaObject>;
  },
): JsonSchemaObject {
  const served = KINDS.filter((k) => caps.kinds[k] !== undefined);
  return {
    title: spec.title,
    description: spec.description,
    type: 'object',
    additionalProperties: false,
    required: ['type', ...(spec.required ?? [])],
    properties: {
      type: { const: type, description: `Which live system serves these kinds: ${type}.` },
      kinds: {
        type: 'array',
        minItems: 1,
        uniqueItems: true,
        items: { enum: served },
        description: `Kinds this binding serves; default: every kind ${type} supports (${served.join(', ')}).`,
      },
      ...spec.properties,
    },
  };
}

/** `$defs` name of a provider's binding schema in the tenant schema. */
export const bindingDefName = (type: string): string => `${type}Binding`;

/**
 * The tenant schema with `$defs.providerBinding` (a `oneOf` discriminated on `type`) and one
 * `$defs.<type>Binding` per registered provider; everything else is kept as written.
 */
export function assembleTenantSchema(
  tenantSchema: JsonSchemaObject,
  registry: Readonly<Record<string, ProviderFactory>>,
): JsonSchemaObject {
  const defs = Object.fromEntries(
    Object.entries(tenantSchema['$defs'] as Record<string, unknown>).filter(
      ([name]) => !/Binding$/.test(name),
    ),
  );
  const types = Object.keys(registry).sort();
  defs['providerBinding'] = {
    title: 'ProviderBinding',
    description: `A live system serving some kinds for this tenant. type: ${types.join(' | ')}.`,
    type: 'object',
    required: ['type'],
    discriminator: { propertyName: 'type' },
    oneOf: types.map((t) => ({ $ref: `#/$defs/${bindingDefName(t)}` })),
  };
  for (const t of types) defs[bindingDefName(t)] = (registry[t] as ProviderFactory).bindingSchema;
  return { ...tenantSchema, $defs: defs };
}
