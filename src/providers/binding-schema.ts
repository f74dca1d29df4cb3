import { KINDS, type Kind } from '../model/kinds.js';
import { servedKinds, type ProviderCapabilities } from '../model/capabilities.js';
import type { JsonSchemaObject, ProviderFactory } from './provider.js';

/** What each kind means, shown beside each choice of a binding's `kinds` in editors. */
const KIND_CHOICES: Record<Kind, string> = {
  blockedSenders: 'Blocked senders: mail from these addresses, domains, IPs or ranges is rejected.',
  exemptions:
    'Exemptions: permitted senders and exempt recipients that skip some checks (`bypass: all` skips every check).',
  holds: 'Litigation holds: mail of the custodians is preserved; never removed implicitly.',
  routes:
    "Delivery routes of the tenant's own domains: a wrong route stops mail delivery for that domain.",
};

/**
 * The parts every binding schema shares. A provider's own schema lives in its folder
 * (`<type>/binding-schema.ts`) and is assembled into `schemas/tenant.schema.json`.
 * Editors show `typeChoice` beside the type in completion (say plainly whether the binding
 * changes live mail flow) and offer `snippet` under a binding name: it must hold every
 * required key, with tab-stop defaults that pass `mxpolicy validate` as inserted.
 */
export function bindingSchema(
  type: string,
  caps: ProviderCapabilities,
  spec: {
    title: string;
    description: string;
    typeChoice: string;
    required?: readonly string[];
    properties: Record<string, JsonSchemaObject>;
    snippet: { description: string; body: Readonly<Record<string, unknown>> };
  },
): JsonSchemaObject {
  const served = servedKinds(caps, KINDS);
  return {
    title: spec.title,
    description: spec.description,
    type: 'object',
    additionalProperties: false,
    required: ['type', ...(spec.required ?? [])],
    properties: {
      type: {
        const: type,
        description: `Which live system serves these kinds: ${type}.`,
        markdownDescription: spec.typeChoice,
      },
      kinds: {
        type: 'array',
        minItems: 1,
        uniqueItems: true,
        items: { enum: served, markdownEnumDescriptions: served.map((k) => KIND_CHOICES[k]) },
        description: `Kinds this binding serves; default: every kind ${type} supports (${served.join(', ')}). Each kind is served by exactly one binding of the tenant.`,
      },
      ...spec.properties,
    },
    defaultSnippets: [
      {
        label: `${type} binding`,
        description: spec.snippet.description,
        body: { type, ...spec.snippet.body },
      },
    ],
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
