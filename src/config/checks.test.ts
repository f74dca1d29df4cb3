import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Location } from './diagnostics.js';
import { checkTenantEntries, createEntryFacts, entryFacts, isIpLike } from './checks.js';
import { emptyDesiredEntries, type DesiredEntry, type TenantConfig } from './policy-set.js';

describe('isIpLike', () => {
  it("is what it was: a ':' or /^[0-9./]+$/", () => {
    const text = fc.oneof(fc.stringMatching(/^[0-9./:a\n]{0,8}$/), fc.string({ maxLength: 8 }));
    fc.assert(
      fc.property(text, (s) => {
        expect(isIpLike(s), JSON.stringify(s)).toBe(s.includes(':') || /^[0-9./]+$/.test(s));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('checkTenantEntries with the facts of bundle entries worked out once', () => {
  const patterns = [
    'com',
    'co.uk',
    'github.io',
    'acme.com',
    'mail.acme.com',
    'x@acme.com',
    'x@sub.acme.com',
    'evil.example',
    '10.0.0.0/8',
    '0.0.0.0/0',
    '8.0.0.0/4',
    '2001:db8::/32',
    '203.0.114.7',
    'news@partner.net',
  ];
  const source = (bundle: string | undefined, i: number): DesiredEntry['source'] => ({
    file: bundle !== undefined ? `policies/bundles/${bundle}.yaml` : 'policies/tenants/t.yaml',
    line: i + 1,
    column: 5,
    pointer: `/blockedSenders/${i}`,
    ...(bundle !== undefined ? { bundle } : {}),
  });
  const bundleEntries = patterns.map((p, i): DesiredEntry => {
    const exemption = i % 3 === 0;
    return exemption
      ? {
          kind: 'exemptions',
          key: `sender:${p}`,
          value: {
            sender: p,
            bypass: 'spam',
            verifySender: true,
            reason: 'r',
            expires: '2026-01-01',
          },
          source: source('base', i),
        }
      : {
          kind: 'blockedSenders',
          key: p,
          value: { sender: p, reason: 'r' },
          source: source('base', i),
        };
  });
  const tenant = (name: string, domains: string[]): TenantConfig => {
    const entries = emptyDesiredEntries();
    for (const e of bundleEntries)
      if (e.kind === 'blockedSenders') entries.blockedSenders.push(e);
      else if (e.kind === 'exemptions') entries.exemptions.push(e);
    entries.blockedSenders.push({
      kind: 'blockedSenders',
      key: 'partner.net',
      value: { sender: 'partner.net', reason: 'own' },
      source: source(undefined, 0),
    });
    return {
      tenant: name,
      file: `policies/tenants/${name}.yaml`,
      domains,
      include: ['base'],
      ownership: 'managed',
      safety: name === 'b' ? { minPrefix: { ipv4: 2, ipv6: 8 } } : {},
      bindings: [],
      entries,
      valid: true,
    };
  };
  const locate = (file: string, pointer: string, field: string): Location => ({
    file,
    line: pointer.length,
    column: field.length,
  });

  it('reports for every tenant exactly what working them out each time reports', () => {
    const shared = createEntryFacts();
    const tenants = [
      tenant('a', ['acme.com']),
      tenant('b', ['partner.net', 'evil.example']),
      tenant('c', []),
    ];
    for (const t of [...tenants, ...tenants]) {
      const once = checkTenantEntries(t, '2026-06-01', locate, shared);
      expect(once).toEqual(checkTenantEntries(t, '2026-06-01', locate, entryFacts));
      expect(once.length).toBeGreaterThan(0);
    }
    // The same object for a bundle entry, each time it is asked for.
    const first = bundleEntries[1] as Parameters<typeof entryFacts>[0];
    expect(shared(first)).toBe(shared(first));
  });
});
