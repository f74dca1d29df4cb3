import { describe, expect, it } from 'vitest';
import { builtinProviders } from '../../src/providers/registry.js';

describe('every registered provider declares its trust data', () => {
  it('names its secret and URL fields and its vendor hosts', () => {
    for (const [type, factory] of Object.entries(builtinProviders)) {
      const props = Object.keys(
        (factory.bindingSchema as { properties: Record<string, unknown> }).properties,
      );
      const trust = factory.capabilities.binding ?? {
        secretEnvFields: [],
        urlFields: [],
        vendorHosts: [],
      };
      for (const p of props.filter((x) => /Env$/.test(x)))
        expect(trust.secretEnvFields, `${type}.${p}`).toContain(p);
      for (const p of props.filter((x) => /Url$/.test(x))) {
        expect(trust.urlFields, `${type}.${p}`).toContain(p);
        expect(trust.vendorHosts.length, `${type} vendor hosts`).toBeGreaterThan(0);
      }
    }
  });
});
