import { builtinProviders, capabilityTable } from '../providers/registry.js';
import { describe, expect, it } from 'vitest';
import { affectedKeys, affectedTenants } from './affected-tenants.js';
import { loadPolicies } from './load-policies.js';
import type { PolicySource, TenantConfig } from './policy-set.js';
import { createSchemaValidator } from './schema-compile.js';
import { readBundledSchemas } from '../sources/schemas.js';

const validator = createSchemaValidator(readBundledSchemas());

function tenant(name: string, extra = '', include = 'baseline'): PolicySource {
  return {
    path: `policies/tenants/${name}.yaml`,
    kind: 'tenant',
    name,
    text: `tenant: ${name}\nproviders:\n  sandbox: { type: sandbox }\ndomains: [${name}.example]\ninclude: [${include}]\n${extra}`,
  };
}

function bundle(senders: string[]): PolicySource {
  return {
    path: 'policies/bundles/baseline.yaml',
    kind: 'bundle',
    name: 'baseline',
    text: `bundle: baseline\nblockedSenders:\n${senders.map((s) => `  - sender: ${s}\n    reason: spam\n`).join('')}`,
  };
}

const load = (sources: PolicySource[]): TenantConfig[] =>
  loadPolicies(sources, {
    validator,
    capabilities: capabilityTable(builtinProviders),
    today: '2026-01-01',
  }).tenants;
const BLOCK = 'blockedSenders:\n  - sender: evil.example\n    reason: fraud\n';

describe('affectedTenants', () => {
  const base = [bundle(['spam.example']), tenant('a'), tenant('b'), tenant('c', '', 'other')];
  const other: PolicySource = {
    path: 'policies/bundles/other.yaml',
    kind: 'bundle',
    name: 'other',
    text: 'bundle: other\n',
  };

  it('finds nothing when only formatting and comments changed', () => {
    // every line moves: positions are not part of the desired state
    const original = tenant('a', BLOCK);
    const reformatted = {
      ...original,
      text: `# ACME\n\n${original.text.replace('tenant: a\n', 'tenant: "a"\n')}`,
    };
    expect(
      affectedTenants(
        load([bundle(['spam.example']), original, tenant('b'), tenant('c', '', 'other'), other]),
        load([bundle(['spam.example']), reformatted, tenant('b'), tenant('c', '', 'other'), other]),
      ),
    ).toEqual({ changed: [], removed: [] });
  });

  it('fans a bundle change out to every tenant including the bundle', () => {
    const after = [
      bundle(['spam.example', 'phish.example']),
      tenant('a'),
      tenant('b'),
      tenant('c', '', 'other'),
      other,
    ];
    expect(affectedTenants(load([...base, other]), load(after)).changed).toEqual(['a', 'b']);
  });

  it('finds a tenant whose own entries changed, a new tenant and a removed one', () => {
    const after = [
      bundle(['spam.example']),
      tenant('a', BLOCK),
      tenant('c', '', 'other'),
      tenant('d'),
      other,
    ];
    expect(affectedTenants(load([...base, other]), load(after))).toEqual({
      changed: ['a', 'd'],
      removed: ['b'],
    });
  });

  it('finds a tenant whose settings changed without any entry changing', () => {
    const safer = tenant('b', 'safety: { maxDeletes: 1 }\n');
    const after = [bundle(['spam.example']), tenant('a'), safer, tenant('c', '', 'other'), other];
    expect(affectedTenants(load([...base, other]), load(after)).changed).toEqual(['b']);
  });
});

describe('affectedKeys', () => {
  const base = [
    bundle(['spam.example']),
    tenant('a'),
    tenant('b', BLOCK),
    tenant('c', '', 'other'),
  ];
  const other: PolicySource = {
    path: 'policies/bundles/other.yaml',
    kind: 'bundle',
    name: 'other',
    text: 'bundle: other\nexemptions:\n  - sender: news@partner.example\n    bypass: spam\n    reason: partner\n',
  };
  const keysOf = (m: Map<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(
      [...m].map(([t, v]) => [
        t,
        v === 'all'
          ? 'all'
          : Object.fromEntries(
              Object.entries(v as Record<string, Set<string>>).map(([k, s]) => [k, [...s].sort()]),
            ),
      ]),
    );

  it('names the keys a bundle entry added in every tenant including the bundle, and no other', () => {
    const before = load([...base, other]);
    const after = load([
      bundle(['spam.example', 'phish.example']),
      tenant('a'),
      tenant('b', BLOCK),
      tenant('c', '', 'other'),
      other,
    ]);
    expect(keysOf(affectedKeys(before, after))).toEqual({
      a: { blockedSenders: ['phish.example'] },
      b: { blockedSenders: ['phish.example'] },
    });
  });

  it('names a key removed, a key whose value changed, and the keys an include brings or takes', () => {
    const before = load([...base, other]);
    const after = load([
      bundle(['spam.example']),
      tenant('a', 'blockedSenders:\n  - sender: evil.example\n    reason: fraud\n'), // added
      tenant('b', 'blockedSenders:\n  - sender: evil.example\n    reason: changed\n'), // value changed
      tenant('c', '', 'baseline'), // include other -> baseline
      other,
    ]);
    expect(keysOf(affectedKeys(before, after))).toEqual({
      a: { blockedSenders: ['evil.example'] },
      b: { blockedSenders: ['evil.example'] },
      c: { blockedSenders: ['spam.example'], exemptions: ['sender:news@partner.example'] },
    });
    const removed = load([
      bundle(['spam.example']),
      tenant('a'),
      tenant('b'),
      tenant('c', '', 'other'),
      other,
    ]);
    expect(keysOf(affectedKeys(before, removed))).toEqual({
      b: { blockedSenders: ['evil.example'] },
    });
  });

  it('plans a tenant whole when it is new or its settings changed; a moved line or a reformat is no change', () => {
    const before = load([...base, other]);
    const after = load([
      bundle(['spam.example']),
      tenant('a', 'ownership: authoritative\n'),
      tenant('b', 'blockedSenders:\n  -   sender: evil.example\n      reason: fraud\n'),
      tenant('c', '', 'other'),
      tenant('d'),
      other,
    ]);
    expect(keysOf(affectedKeys(before, after))).toEqual({ a: 'all', d: 'all' });
  });
});
