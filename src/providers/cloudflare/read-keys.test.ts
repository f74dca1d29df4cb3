import { describe, expect, it } from 'vitest';
import { DOMAINS_PER_FILTER, filtersFor } from './read-keys.js';

describe('filtersFor', () => {
  it('one pattern per request; a sender and a recipient exemption of one pattern share it', () => {
    expect(filtersFor('block_senders', ['b.example', 'a.example', 'b.example'])).toEqual([
      { pattern: 'a.example' },
      { pattern: 'b.example' },
    ]);
    expect(
      filtersFor('allow_policies', [
        'sender:x@y.example',
        'recipient:x@y.example',
        'sender:z.example',
      ]),
    ).toEqual([{ pattern: 'x@y.example' }, { pattern: 'z.example' }]);
  });

  it(`groups domains ${DOMAINS_PER_FILTER} to a request`, () => {
    const domains = Array.from({ length: 45 }, (_, i) => `d${String(i).padStart(2, '0')}.example`);
    const filters = filtersFor('domains', domains);
    expect(filters.map((f) => (f['domain'] as string[]).length)).toEqual([20, 20, 5]);
    expect(filters.flatMap((f) => f['domain'])).toEqual(domains);
  });
});
