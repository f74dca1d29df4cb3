import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, entryFingerprint } from './entries.js';
import { KINDS, type AnyEntry } from './kinds.js';
import { ENTRY_FIELDS } from './schema-types.generated.js';

/** The fingerprint by its definition: the JSON of the array of field values, then the rest. */
function byDefinition(kind: (typeof KINDS)[number], value: Record<string, unknown>): string {
  const fields: readonly string[] = ENTRY_FIELDS[kind];
  const parts = fields.map((f) => {
    const x = value[f];
    if (x === undefined) return null;
    return x !== null && typeof x === 'object' ? canonicalJson(x) : x;
  });
  const rest: Record<string, unknown> = {};
  for (const k in value) if (!fields.includes(k) && value[k] !== undefined) rest[k] = value[k];
  return JSON.stringify(parts) + (Object.keys(rest).length > 0 ? canonicalJson(rest) : '');
}

describe('entryFingerprint', () => {
  it('is the JSON of the field values in schema order, then any other field, sorted', () => {
    const scalar = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.double(),
      fc.constant(undefined),
    );
    const field = fc.oneof(
      { arbitrary: scalar, weight: 4 },
      { arbitrary: fc.array(fc.string(), { maxLength: 3 }), weight: 1 },
      { arbitrary: fc.dictionary(fc.string(), scalar, { maxKeys: 3 }), weight: 1 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...KINDS),
        fc.dictionary(
          fc.oneof(fc.constantFrom(...Object.values(ENTRY_FIELDS).flat()), fc.string()),
          field,
          { maxKeys: 8 },
        ),
        (kind, value) => {
          expect(entryFingerprint(kind, value as unknown as AnyEntry)).toBe(
            byDefinition(kind, value),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
});
