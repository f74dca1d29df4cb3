import { describe, expect, it } from 'vitest';
import { loadFromTexts, tenantYaml } from '../../test/support/policies.js';

const blocked = (senders: string[], extra = ''): string =>
  tenantYaml(
    'a',
    `${extra}blockedSenders:\n${senders.map((s) => `  - sender: '${s}'\n    reason: r\n`).join('')}`,
  );
const problems = (text: string): string[] =>
  loadFromTexts({ 'tenants/a.yaml': text }).diagnostics.map(
    (d) => `${d.line}:${d.column} ${d.code}`,
  );

describe('IP ranges no one means', () => {
  it.each(['0.0.0.0/0', '::/0', '0.0.0.0/1', '128.0.0.0/1', '2000::/3', '8.0.0.0/7', '2a00::/12'])(
    'refuses %s as too broad',
    (range) => {
      const set = loadFromTexts({ 'tenants/a.yaml': blocked([range]) });
      expect(set.diagnostics.map((d) => [d.line, d.column, d.code])).toEqual([
        [6, 13, 'CIDR_TOO_BROAD'],
      ]);
      expect(set.diagnostics[0]?.message).toMatch(/broader than a \/(8|16)/);
      expect(set.tenants[0]?.valid).toBe(false);
    },
  );

  it('names the whole internet for a /0', () => {
    const set = loadFromTexts({ 'tenants/a.yaml': blocked(['0.0.0.0/0']) });
    expect(set.diagnostics[0]?.message).toContain('the whole internet');
  });

  it.each([
    ['10.1.2.3', 'private'],
    ['192.168.0.0/16', 'private'],
    ['172.20.0.0/16', 'private'],
    ['127.0.0.1', 'loopback'],
    ['169.254.10.0/24', 'link-local'],
    ['192.0.2.10', 'documentation'],
    ['198.51.100.0/24', 'documentation'],
    ['203.0.113.7', 'documentation'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fd00::/8', 'unique local'],
    ['2001:db8::/32', 'documentation'],
    ['224.0.0.1', 'multicast'],
  ])('refuses %s (%s)', (value, what) => {
    const set = loadFromTexts({ 'tenants/a.yaml': blocked([value]) });
    expect(set.diagnostics.map((d) => d.code)).toEqual(['IP_NOT_PUBLIC']);
    expect(set.diagnostics[0]?.message).toContain(what);
  });

  it('refuses exempting a special range too', () => {
    const text = tenantYaml(
      'a',
      "exemptions:\n  - sender: '10.0.0.0/8'\n    bypass: spam\n    reason: r\n",
    );
    expect(problems(text)).toEqual(['6:13 IP_NOT_PUBLIC']);
  });

  it('accepts public addresses and sane ranges; the limit is configurable per tenant', () => {
    expect(problems(blocked(['1.2.3.4', '45.0.0.0/8', '2a01:4f8::/32', '8.8.8.0/24']))).toEqual([]);
    expect(problems(blocked(['45.0.0.0/8'], 'safety: { minPrefix: { ipv4: 16 } }\n'))).toEqual([
      '7:13 CIDR_TOO_BROAD',
    ]);
    expect(problems(blocked(['4.0.0.0/6'], 'safety: { minPrefix: { ipv4: 6 } }\n'))).toEqual([]);
  });

  it('refuses zone ids and leading-zero prefixes as malformed', () => {
    expect(problems(blocked(['fe80::1%eth0', '10.0.0.0/08', '2a01:4f8::/032']))).toEqual([
      '6:13 INVALID_PATTERN',
      '8:13 INVALID_PATTERN',
      '10:13 INVALID_PATTERN',
    ]);
    const set = loadFromTexts({ 'tenants/a.yaml': blocked(['45.0.0.0/08']) });
    expect(set.diagnostics[0]?.message).toContain('leading zero (write /8)');
  });

  it('1.2.3.4 and 1.2.3.4/32 are the same entry', () => {
    const set = loadFromTexts({ 'tenants/a.yaml': blocked(['1.2.3.4', '1.2.3.4/32']) });
    expect(set.diagnostics.map((d) => [d.line, d.code])).toEqual([[8, 'ENTRY_DUPLICATE']]);
    const one = loadFromTexts({ 'tenants/a.yaml': blocked(['2a01:4f8::1/128']) });
    expect(one.tenants[0]?.entries.blockedSenders[0]?.key).toBe('2a01:4f8::1');
  });
});
