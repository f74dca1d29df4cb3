import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstSorted, sortGroups, type TenantGroup } from './group-changes.js';

describe('firstSorted: the first k of a stable sort, without sorting the rest', () => {
  it('gives the first k a stable sort gives, and every other item once', () => {
    fc.assert(
      fc.property(
        // Few distinct ranks: many ties, which a stable sort keeps in input order.
        fc.array(fc.record({ rank: fc.integer({ min: 0, max: 5 }), id: fc.nat() }), {
          maxLength: 200,
        }),
        fc.integer({ min: 1, max: 60 }),
        (items, k) => {
          const compare = (a: { rank: number }, b: { rank: number }): number => a.rank - b.rank;
          const sorted = [...items].sort(compare);
          const { first, rest } = firstSorted(items, k, compare);
          expect(first).toEqual(sorted.slice(0, k));
          // The same objects, each once: the listed ones and the counted ones.
          const seen = new Set([...first, ...rest]);
          expect(seen.size).toBe(items.length);
          expect(first.length + rest.length).toBe(items.length);
          for (const x of items) expect(seen.has(x)).toBe(true);
        },
      ),
    );
  });

  it('sortGroups with a limit puts the same groups first as the full sort', () => {
    type Item = { effect: 'loosen' | 'tighten' };
    const groups = (): TenantGroup<Item>[] =>
      Array.from({ length: 500 }, (_, i) => ({
        item: { effect: i % 7 === 0 ? ('loosen' as const) : ('tighten' as const) },
        tenants: Array.from({ length: (i * 37) % 11 }, (_, t) => `t${t}`),
      }));
    const all = sortGroups(groups(), (c: Item) => c);
    const some = sortGroups(groups(), (c: Item) => c, 50);
    expect(some).toHaveLength(500);
    const show = (g: TenantGroup<{ effect: string }>): string =>
      `${g.item.effect}:${g.tenants.length}`;
    expect(some.slice(0, 50).map(show)).toEqual(all.slice(0, 50).map(show));
  });
});
