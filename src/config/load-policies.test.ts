import { describe, expect, it } from 'vitest';
import { loadFromTexts, tenantYaml } from '../../test/support/policies.js';
import { builtinProviders, capabilityTable } from '../providers/registry.js';
import { readBundledSchemas } from '../sources/schemas.js';
import { loadPolicies, loadPoliciesOneByOne } from './load-policies.js';
import type { PolicySource } from './policy-set.js';
import { createSchemaValidator } from './schema-compile.js';

describe('loadPolicies', () => {
  it('resolves bundles into every including tenant, keeping the source of each entry', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        'include: [baseline]\nblockedSenders:\n  - sender: own.example\n    reason: own\n',
      ),
      'tenants/b.yaml': tenantYaml('b', 'include: [baseline]\n'),
      'bundles/baseline.yaml':
        'bundle: baseline\nblockedSenders:\n  - sender: Evil.Example\n    reason: shared\n',
    });
    expect(set.diagnostics).toEqual([]);
    const [a, b] = set.tenants;
    expect(
      a?.entries.blockedSenders.map((e) => [e.key, e.source.file, e.source.line, e.source.bundle]),
    ).toEqual([
      ['own.example', 'policies/tenants/a.yaml', 7, undefined],
      ['evil.example', 'policies/bundles/baseline.yaml', 3, 'baseline'],
    ]);
    expect(b?.entries.blockedSenders.map((e) => e.key)).toEqual(['evil.example']);
    expect(a?.valid && b?.valid).toBe(true);
  });

  it('fills defaults: managed ownership, verifySender true, port 25, every kind of the provider', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        'exemptions:\n  - sender: x@y.example\n    bypass: spam\n    reason: r\nroutes:\n  - domain: acme.eu\n    deliverTo: mx.acme.eu\n',
      ),
    });
    const t = set.tenants[0];
    expect(t?.ownership).toBe('managed');
    expect(t?.bindings).toEqual([
      {
        name: 'sandbox',
        type: 'sandbox',
        kinds: ['blockedSenders', 'exemptions', 'holds', 'routes'],
        settings: { type: 'sandbox' },
      },
    ]);
    expect(t?.entries.exemptions[0]?.value).toEqual({
      sender: 'x@y.example',
      bypass: 'spam',
      verifySender: true,
      reason: 'r',
    });
    expect(t?.entries.routes[0]?.value).toEqual({
      domain: 'acme.eu',
      deliverTo: 'mx.acme.eu',
      port: 25,
      requireTls: false,
    });
  });

  it('marks a tenant invalid when a bundle it includes has errors, and reports the bundle file', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml('a', 'include: [baseline]\n'),
      'bundles/baseline.yaml': 'bundle: baseline\nblockedSenders:\n  - sender: evil.example\n',
    });
    expect(set.tenants[0]?.valid).toBe(false);
    expect(set.diagnostics.map((d) => `${d.file}:${d.line}:${d.column} ${d.code}`)).toEqual([
      'policies/bundles/baseline.yaml:3:5 SCHEMA_REQUIRED',
    ]);
  });

  it('refuses a kind the provider type cannot serve, naming what it serves', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        '',
        'providers:\n  gw: { type: cloudflare, account: 023e105f4ecef8ad9ca31a8372d0c353, tokenEnv: CF, kinds: [routes, holds] }\ndomains: [acme.eu]\n',
      ),
    });
    expect(set.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`)).toEqual([
      `3:100 PROVIDER_KIND_UNSUPPORTED provider type 'cloudflare' (binding 'gw') cannot serve "holds" (it serves blockedSenders, exemptions, routes)`,
    ]);
  });

  it('refuses a provider type the registry does not have, at the type, with a suggestion', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        '',
        'providers:\n  gw: { type: cloudflair, account: 023e105f4ecef8ad9ca31a8372d0c353, tokenEnv: CF }\ndomains: [acme.eu]\n',
      ),
    });
    expect(set.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`)).toEqual([
      `3:15 PROVIDER_UNKNOWN unknown provider type "cloudflair" in 'providers.gw' (did you mean 'cloudflare'?); this version serves: cloudflare, mimecast, msgraph, sandbox`,
    ]);
    expect(set.tenants[0]?.valid).toBe(false);
  });

  it('refuses a field of another provider type in a binding', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        '',
        'providers:\n  s: { type: sandbox, tokenEnv: CF }\ndomains: [acme.eu]\n',
      ),
    });
    expect(set.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual([
      '3:23 SCHEMA_UNKNOWN_KEY',
    ]);
  });

  it('refuses a value the bound provider cannot store, in the tenant or a bundle it includes', () => {
    const cf =
      'providers:\n  gw: { type: cloudflare, account: 023e105f4ecef8ad9ca31a8372d0c353, tokenEnv: CF }\ndomains: [acme.eu]\n';
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        'include: [base]\nexemptions:\n  - recipient: abuse@acme.eu\n    bypass: spam\n    reason: abuse desk\n',
        cf,
      ),
      'tenants/b.yaml': tenantYaml('b', 'include: [base]\n'),
      'bundles/base.yaml': `bundle: base\nblockedSenders:\n  - sender: evil.example\n    reason: ${'x'.repeat(901)}\n`,
    });
    expect(set.diagnostics.map((d) => `${d.file}:${d.line}:${d.column} ${d.code}`)).toEqual([
      'policies/bundles/base.yaml:4:13 PROVIDER_VALUE_UNSUPPORTED',
      'policies/tenants/a.yaml:8:13 PROVIDER_VALUE_UNSUPPORTED',
    ]);
    const [bundle, own] = set.diagnostics;
    expect(own?.message).toMatch(
      /cloudflare \(binding 'gw'\).*bypass: "spam".*is_exempt_recipient/,
    );
    expect(bundle?.message).toMatch(/901 characters.*bundle 'base', included by tenant 'a'/);
    // The sandbox tenant including the same bundle stores it: no error for b.
    expect(set.tenants.find((t) => t.tenant === 'b')?.valid).toBe(true);
  });

  it('requires the type-specific settings of a binding', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        '',
        'providers:\n  gw: { type: cloudflare, account: 023e105f4ecef8ad9ca31a8372d0c353 }\ndomains: [acme.eu]\n',
      ),
    });
    expect(set.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      "SCHEMA_REQUIRED 'providers.gw' is missing the required key 'tokenEnv'",
    ]);
  });

  it('collects problems from every file instead of stopping at the first', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': 'tenant: a\nproviders: {}\n',
      'tenants/b.yaml': tenantYaml('b', 'blockedSenders:\n  - sender: com\n    reason: r\n'),
      'tenants/c.yaml': 'tenant: c\n  bad: indentation\n',
    });
    expect(new Set(set.diagnostics.map((d) => d.file))).toEqual(
      new Set(['policies/tenants/a.yaml', 'policies/tenants/b.yaml', 'policies/tenants/c.yaml']),
    );
  });

  it('is deterministic whatever order the files come in', () => {
    const files = {
      'tenants/b.yaml': tenantYaml('b', 'blockedSenders:\n  - sender: com\n    reason: r\n'),
      'tenants/a.yaml': tenantYaml('a', 'include: [x]\n'),
    };
    const reversed = Object.fromEntries(Object.entries(files).reverse());
    expect(loadFromTexts(files)).toEqual(loadFromTexts(reversed));
  });
});

describe('loadPoliciesOneByOne', () => {
  const sourcesOf = (files: Record<string, string>): PolicySource[] =>
    Object.entries(files).map(([rel, text]) => {
      const [folder, file = ''] = rel.split('/');
      return {
        path: `policies/${rel}`,
        kind: folder === 'bundles' ? 'bundle' : 'tenant',
        name: file.replace(/\.ya?ml$/, ''),
        text,
      };
    });
  const options = {
    validator: createSchemaValidator(readBundledSchemas()),
    capabilities: capabilityTable(builtinProviders),
    today: '2026-11-23',
  };

  it('hands over each tenant as its file loads, in path order, and returns what loadPolicies returns', () => {
    const files = sourcesOf({
      'tenants/b.yaml': tenantYaml('b', 'include: [baseline]\n'),
      'tenants/a.yaml': tenantYaml('a', 'include: [baseline]\n'),
      'tenants/c.yaml': tenantYaml(
        'c',
        'blockedSenders:\n  - sender: not an address\n    reason: r\n',
      ),
      'bundles/baseline.yaml':
        'bundle: baseline\nblockedSenders:\n  - sender: x.example\n    reason: r\n',
    });
    const loading = loadPoliciesOneByOne(files, options);
    const first = loading.next();
    // Only a's file is loaded: b and c are not yet looked at.
    expect(first.done).toBe(false);
    expect(first.value).toMatchObject({ tenant: { tenant: 'a', valid: true }, clean: true });
    const handed: [string, boolean][] = [];
    let step = loading.next();
    while (step.done !== true) {
      handed.push([step.value.tenant.tenant, step.value.clean]);
      step = loading.next();
    }
    expect(handed).toEqual([
      ['b', true],
      ['c', false],
    ]);
    expect(step.value).toEqual(loadPolicies(files, options));
  });

  it('a tenant handed over clean can still turn invalid once a later file claims the same id', () => {
    const loading = loadPoliciesOneByOne(
      sourcesOf({
        'tenants/a.yaml': tenantYaml('a'),
        'tenants/z.yaml': tenantYaml('a'),
      }),
      options,
    );
    const first = loading.next();
    expect(first.value).toMatchObject({ tenant: { tenant: 'a' }, clean: true });
    let step = loading.next();
    while (step.done !== true) step = loading.next();
    expect(step.value.tenants.map((t) => [t.tenant, t.valid])).toEqual([['a', false]]);
    expect(step.value.diagnostics.map((d) => d.code)).toContain('TENANT_DUPLICATE');
  });

  it('a tenant is not clean while a bundle it includes has an error', () => {
    const loading = loadPoliciesOneByOne(
      sourcesOf({
        'tenants/a.yaml': tenantYaml('a', 'include: [baseline]\n'),
        'bundles/baseline.yaml':
          'bundle: baseline\nblockedSenders:\n  - sender: com\n    reason: r\n',
      }),
      options,
    );
    expect(loading.next().value).toMatchObject({ tenant: { tenant: 'a' }, clean: false });
  });
});
