import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateSchemaTypes, generatedTypesPath } from '../scripts/schema-types.js';

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
