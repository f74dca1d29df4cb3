import { describe, expect, it } from 'vitest';
import { pairOutcomes, UNATTRIBUTED, type WriteItem } from './api.js';
import { blockedSenderToVendor } from './map.js';
import type { McEnvelope } from './wire.js';

const create = (domain: string): WriteItem => {
  const m = blockedSenderToVendor({ sender: domain, reason: 'r' });
  if (!m.ok) throw new Error(m.reason);
  return m.body;
};
const created = (item: WriteItem, id: string): unknown => ({ id, ...item });
const err = (
  code: string,
  retryable = false,
): { code: string; message: string; retryable: boolean } => ({
  code,
  message: `${code} happened`,
  retryable,
});
const env = (data: unknown[], fail: McEnvelope['fail']): McEnvelope => ({ data, fail });

describe('pairOutcomes: which item of a call succeeded', () => {
  const items = [create('a.example'), create('b.example'), create('c.example')];

  it('pairs failures by their echoed key and results by what the created policy says', () => {
    const out = pairOutcomes(
      'create',
      items,
      env(
        [created(items[2] as WriteItem, 'id-c'), created(items[0] as WriteItem, 'id-a')],
        [{ key: items[1], errors: [err('err_bad')] }],
      ),
      '/p',
    );
    expect(out.map((o) => (o.ok ? 'ok' : o.code))).toEqual(['ok', 'err_bad', 'ok']);
    expect(out[0]).toMatchObject({ ok: true, value: { id: 'id-a' } });
  });

  it('gives a lone unkeyed failure to the one item left', () => {
    const out = pairOutcomes(
      'create',
      items,
      env(
        [created(items[0] as WriteItem, 'x'), created(items[2] as WriteItem, 'y')],
        [{ errors: [err('err_only', true)] }],
      ),
      '/p',
    );
    expect(out[1]).toEqual({
      ok: false,
      code: 'err_only',
      message: 'err_only happened',
      retryable: true,
    });
  });

  it('marks several unkeyed failures as unattributed (not applied, send alone)', () => {
    const out = pairOutcomes(
      'create',
      items,
      env(
        [created(items[1] as WriteItem, 'x')],
        [{ errors: [err('e1')] }, { errors: [err('e2')] }],
      ),
      '/p',
    );
    expect(out.map((o) => (o.ok ? 'ok' : o.code))).toEqual([UNATTRIBUTED, 'ok', UNATTRIBUTED]);
  });

  it('pairs deletes by id, and refuses to guess when the counts do not add up', () => {
    const ids = [{ id: 'a' }, { id: 'b' }];
    const out = pairOutcomes(
      'delete',
      ids,
      env([{ id: 'b' }], [{ errors: [err('err_policy_not_found')] }]),
      '/p',
    );
    expect(out.map((o) => (o.ok ? 'ok' : o.code))).toEqual(['err_policy_not_found', 'ok']);
    expect(() => pairOutcomes('delete', ids, env([{ id: 'b' }], []), '/p')).toThrow(
      expect.objectContaining({ mayHaveReachedServer: true }) as Error,
    );
    expect(() => pairOutcomes('delete', ids, env([{ id: 'zzz' }, { id: 'b' }], []), '/p')).toThrow(
      /matches no item/,
    );
  });

  it('reads a call refused as a whole (one failure, no result) as every item failed', () => {
    const out = pairOutcomes('create', items, env([], [{ errors: [err('err_quota')] }]), '/p');
    expect(out.every((o) => !o.ok && o.code === 'err_quota')).toBe(true);
  });
});
