import { describe, expect, it } from 'vitest';
import { parseBudget } from './rate-limiter.js';

describe('parseBudget', () => {
  it('reads REQUESTS/SECONDS', () => {
    expect(parseBudget('600/300', 'X')).toEqual({ requests: 600, windowMs: 300_000 });
    expect(parseBudget(' 1200 / 300 ', 'X')).toEqual({ requests: 1200, windowMs: 300_000 });
  });

  it.each(['', '600', '600/0', '0/300', '1.5/3', 'a/b', '600/300/1'])(
    'refuses %j with the variable name',
    (spec) => {
      expect(() => parseBudget(spec, 'MXPOLICY_CLOUDFLARE_BUDGET')).toThrow(
        /^MXPOLICY_CLOUDFLARE_BUDGET must look like REQUESTS\/SECONDS/,
      );
    },
  );
});
