import { describe, expect, it } from 'vitest';
import { describeItemFailure, itemFailed, itemOk, outcomesByIndex } from './items.js';

describe('item outcomes', () => {
  it('pairs failures a vendor names by index with the items sent; the rest are ok', () => {
    const out = outcomesByIndex(3, [
      { index: 1, failure: itemFailed('err_validation_blank', 'value is blank') },
    ]);
    expect(out).toEqual([
      { ok: true },
      { ok: false, code: 'err_validation_blank', message: 'value is blank', retryable: false },
      { ok: true },
    ]);
    expect(() => outcomesByIndex(2, [{ index: 2, failure: itemFailed('x', 'y') }])).toThrow(
      /names item 2, but only 2 were sent/,
    );
  });

  it('keeps the vendor code, retryability and wait', () => {
    const f = itemFailed('TooManyRequests', 'slow down', true, 3000);
    expect(f).toEqual({
      ok: false,
      code: 'TooManyRequests',
      message: 'slow down',
      retryable: true,
      retryAfterMs: 3000,
    });
    expect(describeItemFailure(f)).toBe('TooManyRequests: slow down');
    expect(describeItemFailure(itemFailed('0004', '0004 Invalid Signature'))).toBe(
      '0004 Invalid Signature',
    );
    expect(itemOk({ id: 'a' })).toEqual({ ok: true, value: { id: 'a' } });
  });
});
