import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateValidators, generatedValidatorsPath } from '../scripts/validators-source.js';
import { bundledSchemaValidator } from '../src/config/precompiled-validator.js';
import { createSchemaValidator } from '../src/config/schema-compile.js';
import { listItemRefs } from '../src/config/schema-validator.js';
import { parseYamlFile } from '../src/config/yaml-document.js';
import { readBundledSchemas } from '../src/sources/schemas.js';

describe('the validators compiled ahead of time', () => {
  it('src/config/validators.generated.ts is what the schemas compile to (npm run gen:validators)', () => {
    expect(readFileSync(generatedValidatorsPath, 'utf8')).toBe(generateValidators());
  });

  it('report what the run-time compiled validators report, at the same places', () => {
    const ahead = bundledSchemaValidator();
    const now = createSchemaValidator(readBundledSchemas());
    const files: ['tenant' | 'bundle', string][] = [
      ['tenant', 'tenant: acme\nproviders:\n  s: { type: sandbox }\ndomains: [acme.example]\n'],
      [
        'tenant',
        'tenant: Acme!\nproviders: {}\ndomains: [1]\nblockedSenders:\n  - sender: x.example\n  - reason: no sender\n    colour: red\nexemptions:\n  - sender: a.example\n    bypass: everything\n    reason: r\n',
      ],
      [
        'bundle',
        'bundle: baseline\nblockedSenders:\n  - sender: spam.example\n    reason: r\n    expires: 2027-02-30\n',
      ],
      ['bundle', 'bundle: 3\nholds: {}\n'],
    ];
    for (const [kind, text] of files) {
      const yaml = parseYamlFile('policies/x.yaml', text);
      const expected = now.validate(kind, yaml);
      expect(ahead.validate(kind, yaml)).toEqual(expected);
      if (text.includes('Acme!') || text.includes('2027-02-30') || text.includes('bundle: 3'))
        expect(expected.length).toBeGreaterThan(0);
    }
  });

  it('validate the entries of each list one at a time (linear in the number of bad entries)', () => {
    // Annotations for editors (defaultSnippets) on a list definition must not turn this off:
    // ajv's own error concatenation is quadratic when thousands of entries are wrong.
    const schemas = readBundledSchemas();
    for (const kind of ['tenant', 'bundle'] as const)
      expect(listItemRefs(schemas.defs, schemas[kind]).map(([key]) => key)).toEqual([
        'blockedSenders',
        'exemptions',
        'holds',
        'routes',
      ]);
    const bad = Array.from(
      { length: 3000 },
      (_, i) => `  - sender: s${i}.example\n    colour: red\n`,
    );
    const yaml = parseYamlFile(
      'policies/bundles/b.yaml',
      `bundle: b\nblockedSenders:\n${bad.join('')}`,
    );
    const found = bundledSchemaValidator().validate('bundle', yaml);
    expect(found.filter((d) => d.code === 'SCHEMA_UNKNOWN_KEY')).toHaveLength(3000);
    expect(found.filter((d) => d.code === 'SCHEMA_REQUIRED')).toHaveLength(3000);
    expect(found[2999 * 2]?.line).toBeGreaterThan(1);
  });
});
