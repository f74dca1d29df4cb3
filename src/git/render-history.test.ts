import { describe, expect, it } from 'vitest';
import { csvCell, filterHistory, parseSince, renderHistoryText } from './render-history.js';
import type { HistoryRecord } from './semantic-history.js';

const P = { name: 'Alice', email: 'alice@example.com' };
const record = (over: Partial<HistoryRecord>): HistoryRecord => ({
  tenant: 'acme',
  tenantAtCommit: 'acme',
  kind: 'blockedSenders',
  key: 'evil.example',
  action: 'added',
  fields: [],
  file: 'policies/tenants/acme.yaml',
  commit: 'a'.repeat(40),
  date: '2026-01-05T10:00:00Z',
  subject: 'x',
  proposedBy: P,
  proposedAt: '2026-01-05T09:00:00Z',
  proposalCommit: 'a'.repeat(40),
  mergedBy: P,
  ...over,
});

describe('csvCell', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`],
    ['+1', "'+1"],
    ['@sum', "'@sum"],
  ])('%s', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });
  it('leaves numbers and empties alone', () => {
    expect(csvCell(12)).toBe('12');
    expect(csvCell(undefined)).toBe('');
  });
});

describe('filterHistory', () => {
  const records = [
    record({}),
    record({ key: 'LH-1', kind: 'holds', tenant: 'globex-corp', tenantAtCommit: 'globex' }),
    record({ key: 'ceo@Evil.example', date: '2026-02-01T00:00:00Z' }),
  ];
  it('matches keys by case-insensitive glob, tenants by old or new name, and dates', () => {
    expect(filterHistory(records, { tenant: [], key: '*@evil.example' }).map((r) => r.key)).toEqual(
      ['ceo@Evil.example'],
    );
    expect(filterHistory(records, { tenant: ['globex'] }).map((r) => r.key)).toEqual(['LH-1']);
    expect(filterHistory(records, { tenant: [], kind: 'holds' })).toHaveLength(1);
    expect(filterHistory(records, { tenant: [], since: parseSince('2026-01-06') })).toHaveLength(1);
  });
  it('rejects a date it cannot read', () => {
    expect(() => parseSince('last tuesday')).toThrow(/--since must be a date/);
  });
});

describe('renderHistoryText', () => {
  it('says so when nothing matches', () => {
    expect(renderHistoryText([])).toBe('No matching changes.\n');
  });
  it('names released holds and changed fields, bundles and former tenant names', () => {
    const text = renderHistoryText([
      record({
        kind: 'holds',
        key: 'LH-1',
        action: 'changed',
        fields: ['released'],
        reason: 'settled',
        pr: 45,
      }),
      record({
        action: 'changed',
        fields: ['expires', 'reason'],
        bundle: 'baseline',
        tenantAtCommit: 'acme-old',
      }),
    ]);
    expect(text).toContain(
      'acme  hold  LH-1\n  2026-01-05 10:00 UTC  released  PR #45  aaaaaaaaaa',
    );
    expect(text).toContain('      reason: settled');
    expect(text).toContain('changed expires, reason  no PR');
    expect(text).toContain('(via bundle baseline; tenant was acme-old)');
    expect(text).toContain('2 change(s) to 2 entries.');
  });
});
