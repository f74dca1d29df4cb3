import { describe, expect, it } from 'vitest';
import { mapConcurrent } from './concurrency.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('mapConcurrent', () => {
  it('runs at most `limit` at once and keeps the input order', async () => {
    let active = 0;
    let most = 0;
    const out = await mapConcurrent([5, 1, 4, 2, 3], 2, async (n) => {
      active++;
      most = Math.max(most, active);
      for (let i = 0; i < n; i++) await tick();
      active--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it('starts the next item when one leaves, and still waits for the one that left', async () => {
    const started: number[] = [];
    let release: () => void = () => undefined;
    const checked = new Promise<void>((r) => (release = r));
    let settled = false;
    const all = mapConcurrent([0, 1, 2], 1, async (n, _i, leave) => {
      started.push(n);
      if (n === 0) {
        leave(); // its writes are sent; only a check remains
        leave(); // a second leave changes nothing
        await checked;
        return 'checked';
      }
      return 'done';
    }).then((r) => {
      settled = true;
      return r;
    });
    for (let i = 0; i < 5; i++) await tick();
    // Item 0 left its place: 1 and 2 ran (one at a time) while it waits for its check.
    expect(started).toEqual([0, 1, 2]);
    expect(settled).toBe(false);
    release();
    expect(await all).toEqual(['checked', 'done', 'done']);
  });

  it('rejects with the first failure and starts nothing after it', async () => {
    const started: number[] = [];
    await expect(
      mapConcurrent([0, 1, 2], 1, (n) => {
        started.push(n);
        return n === 0 ? Promise.reject(new Error('boom')) : Promise.resolve(n);
      }),
    ).rejects.toThrow('boom');
    expect(started).toEqual([0]);
  });

  it('maps nothing to nothing', async () => {
    expect(await mapConcurrent([], 4, () => Promise.resolve(1))).toEqual([]);
  });
});
