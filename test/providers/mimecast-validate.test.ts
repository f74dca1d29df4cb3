import { describe, expect, it } from 'vitest';
import { loadFromTexts, tenantYaml } from '../support/policies.js';

/** validate refuses, before anything is read live, what a Mimecast binding cannot serve. */

const MC =
  'providers:\n  gw: { type: mimecast, clientId: app-123, secretEnv: MC_SECRET }\ndomains: [acme.eu]\n';
const CF =
  'providers:\n  gw: { type: cloudflare, account: 023e105f4ecef8ad9ca31a8372d0c353, tokenEnv: CF }\ndomains: [acme.eu]\n';

const codes = (files: Record<string, string>): string[] =>
  loadFromTexts(files).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`);

describe('validate: what Mimecast serves', () => {
  it('accepts blocked senders and sender exemptions with bypass: spoof', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        'blockedSenders:\n  - sender: ceo@lookalike.example\n    reason: CEO impersonation\nexemptions:\n  - sender: mailer.example\n    bypass: spoof\n    reason: company-wide mail\n',
        MC,
      ),
    });
    expect(set.diagnostics).toEqual([]);
    expect(set.tenants[0]?.valid).toBe(true);
  });

  it('refuses bypass: spam and all, and recipient exemptions, naming the provider, field and value', () => {
    const out = codes({
      'tenants/a.yaml': tenantYaml(
        'a',
        'exemptions:\n  - sender: a.example\n    bypass: spam\n    reason: r\n  - sender: b.example\n    bypass: all\n    reason: r\n  - recipient: abuse@acme.eu\n    bypass: spoof\n    reason: r\n',
        MC,
      ),
    });
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(
      /^7:13 PROVIDER_VALUE_UNSUPPORTED .*mimecast.*bypass.*"spam".*only the spoofing check/,
    );
    expect(out[1]).toMatch(/^10:13 PROVIDER_VALUE_UNSUPPORTED .*"all"/);
    expect(out[2]).toMatch(/PROVIDER_VALUE_UNSUPPORTED .*recipient.*match senders/);
  });

  it('refuses routes and holds for a Mimecast binding', () => {
    const out = codes({
      'tenants/a.yaml': tenantYaml(
        'a',
        '',
        'providers:\n  gw: { type: mimecast, clientId: app-123, secretEnv: MC_SECRET, kinds: [blockedSenders, routes] }\ndomains: [acme.eu]\n',
      ),
    });
    expect(out.join('\n')).toMatch(/PROVIDER_KIND_UNSUPPORTED|SCHEMA/);
    expect(out.join('\n')).toMatch(/routes/);
    const unserved = codes({
      'tenants/b.yaml': tenantYaml(
        'b',
        'routes:\n  - domain: acme.eu\n    deliverTo: mx.acme.eu\n',
        MC,
      ),
    });
    expect(unserved.join('\n')).toMatch(/KIND_UNSERVED/);
  });

  it('refuses bypass: spoof for Cloudflare', () => {
    const out = codes({
      'tenants/a.yaml': tenantYaml(
        'a',
        'exemptions:\n  - sender: a.example\n    bypass: spoof\n    reason: r\n',
        CF,
      ),
    });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/PROVIDER_VALUE_UNSUPPORTED .*cloudflare.*"spoof"/);
  });

  it('refuses a base URL that is not a Mimecast API 2.0 host, and a missing secretEnv', () => {
    const out = codes({
      'tenants/a.yaml': tenantYaml(
        'a',
        '',
        "providers:\n  gw: { type: mimecast, clientId: app-123, secretEnv: MC_SECRET, baseUrl: 'https://eu-api.mimecast.com' }\ndomains: [acme.eu]\n",
      ),
      'tenants/b.yaml': tenantYaml(
        'b',
        '',
        'providers:\n  gw: { type: mimecast, clientId: app-123 }\ndomains: [acme.eu]\n',
      ),
    });
    expect(out).toHaveLength(2);
    expect(out.join('\n')).toMatch(/baseUrl/);
    expect(out.join('\n')).toMatch(/secretEnv/);
  });
});
