/**
 * The smallest value a JSON schema accepts: every required property filled with a plausible
 * placeholder. The fake fills the fields it does not care about (a PR's repository has ~80
 * required fields) from the contract itself, then overlays the fields it stores; the
 * response is validated afterwards anyway, so a wrong guess here fails loudly.
 */
type Schema = Record<string, unknown>;

const FORMAT_SAMPLES: Record<string, string> = {
  uri: 'https://github.invalid/placeholder',
  'date-time': '2026-01-01T00:00:00Z',
  date: '2026-01-01',
  email: 'octocat@github.invalid',
};

function asSchema(value: unknown): Schema | undefined {
  return value !== null && typeof value === 'object' ? (value as Schema) : undefined;
}

export function sampleFromSchema(schema: Schema, depth = 0): unknown {
  if (depth > 12) return null;
  const variants = (schema['anyOf'] ?? schema['oneOf']) as unknown[] | undefined;
  if (Array.isArray(variants)) {
    // Prefer a non-null variant so objects stay objects.
    const pick =
      variants.map(asSchema).find((v) => v && v['type'] !== 'null') ?? asSchema(variants[0]);
    return pick ? sampleFromSchema(pick, depth + 1) : null;
  }
  if (Array.isArray(schema['allOf'])) {
    const merged: Record<string, unknown> = {};
    for (const part of schema['allOf']) {
      const v = sampleFromSchema(asSchema(part) ?? {}, depth + 1);
      if (v && typeof v === 'object') Object.assign(merged, v);
    }
    return merged;
  }
  if (Array.isArray(schema['enum'])) return schema['enum'][0];
  const type = Array.isArray(schema['type']) ? (schema['type'][0] as string) : schema['type'];
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = asSchema(schema['properties']) ?? {};
      for (const name of (schema['required'] as string[] | undefined) ?? []) {
        const prop = asSchema(props[name]);
        out[name] = prop ? sampleFromSchema(prop, depth + 1) : null;
      }
      return out;
    }
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return false;
    case 'string': {
      const format = schema['format'];
      return typeof format === 'string' ? (FORMAT_SAMPLES[format] ?? 'x') : 'x';
    }
    case 'null':
      return null;
    default:
      return schema['nullable'] === true ? null : {};
  }
}

/** The schema of a nested property, looking through allOf / anyOf / oneOf wrappers. */
export function schemaAt(schema: Schema | undefined, path: readonly string[]): Schema | undefined {
  let current = schema;
  for (const key of path) {
    current = propertyOf(current, key);
    if (!current) return undefined;
  }
  return current;
}

function propertyOf(schema: Schema | undefined, key: string): Schema | undefined {
  if (!schema) return undefined;
  const direct = asSchema(asSchema(schema['properties'])?.[key]);
  if (direct) return direct;
  for (const combinator of ['allOf', 'anyOf', 'oneOf']) {
    const parts = schema[combinator];
    if (!Array.isArray(parts)) continue;
    for (const part of parts) {
      const found = propertyOf(asSchema(part), key);
      if (found) return found;
    }
  }
  return undefined;
}
