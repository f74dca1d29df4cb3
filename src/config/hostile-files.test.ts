import { describe, expect, it } from 'vitest';
import { loadFromTexts, tenantYaml } from '../../test/support/policies.js';

const head = 'tenant: a\nproviders:\n  sandbox: { type: sandbox }\ndomains: [acme.eu]\n';

/** A small file whose aliases stand for `items` copies of a `keys`-key mapping. */
function aliasBomb(keys: number, items: number, extra = ''): string {
  let text = `${head}${extra}safety: &m\n`;
  for (let i = 0; i < keys; i++) text += `  k${i}: ${i}\n`;
  return text + 'blockedSenders:\n' + '  - *m\n'.repeat(items);
}

describe('hostile policy files', () => {
  it('refuses a file whose aliases expand to millions of values, quickly and at the alias', () => {
    const text = aliasBomb(200, 40_000); // ~240 KB standing for 8 million values
    const started = performance.now();
    const set = loadFromTexts({ 'tenants/a.yaml': text });
    const elapsed = performance.now() - started;
    expect(set.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual([
      '207:5 YAML_ALIAS_LIMIT',
    ]);
    expect(set.diagnostics[0]?.message).toMatch(/resource-exhaustion/);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('bounds aliases on the second parser too (a file with a duplicate key)', () => {
    const set = loadFromTexts({ 'tenants/a.yaml': aliasBomb(200, 5_000, 'domains: [x.eu]\n') });
    expect(set.diagnostics.map((d) => d.code)).toContain('YAML_ALIAS_LIMIT');
    expect(set.diagnostics.length).toBeLessThan(10);
  });

  it('still accepts a few anchors used as intended', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        'blockedSenders:\n  - &b { sender: a.example, reason: spam }\n  - { sender: b.example, reason: spam, ticket: T-1 }\n',
      ),
    });
    expect(set.diagnostics).toEqual([]);
  });

  it('stays linear when thousands of entries carry the same mistyped key', () => {
    const files = (n: number): Record<string, string> => {
      let body = 'blockedSenders:\n';
      for (let i = 0; i < n; i++) body += `  - sender: s${i}.example\n    reasn: r\n`;
      return { 'tenants/a.yaml': tenantYaml('a', body) };
    };
    const time = (n: number): { ms: number; count: number } => {
      const input = files(n);
      const started = performance.now();
      const set = loadFromTexts(input);
      return { ms: performance.now() - started, count: set.diagnostics.length };
    };
    time(300); // warm up the compiled validators
    const small = time(1_500);
    const large = time(15_000);
    expect(large.count).toBe(30_000); // unknown key + missing reason, per entry
    // Ten times the entries: linear work takes about 10x; the old scan took 40x and more.
    expect(large.ms / small.ms).toBeLessThan(20);
  }, 60_000);
});

describe('free text', () => {
  it.each([
    ['a right-to-left override', 'spam \u202egnp.exe', 'U+202E', 'bidirectional'],
    ['an isolate', 'spam \u2066x\u2069', 'U+2066', 'bidirectional'],
    ['an escape character', 'spam \u001b[31m', 'U+001B', 'control'],
    ['a NUL', 'spam\u0000', 'U+0000', 'control'],
  ])('refuses %s in a reason, at its line', (_name, reason, code, kind) => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        `blockedSenders:\n  - sender: a.example\n    reason: ${JSON.stringify(reason)}\n`,
      ),
    });
    expect(set.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual([
      '7:13 TEXT_CONTROL_CHARACTER',
    ]);
    expect(set.diagnostics[0]?.message).toContain(code);
    expect(set.diagnostics[0]?.message).toContain(kind);
    expect(set.tenants[0]?.valid).toBe(false);
  });

  it('accepts tabs, newlines and ordinary non-ASCII text', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        'displayName: "Ärzte – Zürich"\nblockedSenders:\n  - sender: a.example\n    reason: "two\\tcolumns\\nand lines, 日本語"\n',
      ),
    });
    expect(set.diagnostics).toEqual([]);
  });
});

describe('binding URLs', () => {
  const cf = (url: string): string =>
    `providers:\n  gw: { type: cloudflare, account: 023e105f4ecef8ad9ca31a8372d0c353, tokenEnv: CF, baseUrl: '${url}' }\ndomains: [acme.eu]\n`;
  it.each([
    ['http://api.example.com/client/v4', /must be https/],
    ['https://user:pw@api.example.com/', /user name or password/],
  ])('validate refuses %s, at the key', (url, message) => {
    const set = loadFromTexts({ 'tenants/a.yaml': tenantYaml('a', '', cf(url)) });
    expect(set.diagnostics.map((d) => `${d.line} ${d.code}`)).toEqual(['3 INSECURE_URL']);
    expect(set.diagnostics[0]?.message).toMatch(message);
  });
  it.each(['http://127.0.0.1:8787/client/v4', 'https://api.cloudflare.com/client/v4'])(
    'accepts %s',
    (url) => {
      expect(loadFromTexts({ 'tenants/a.yaml': tenantYaml('a', '', cf(url)) }).diagnostics).toEqual(
        [],
      );
    },
  );
});
