/**
 * Map over items with at most `limit` calls in flight; results keep the input order. A call
 * may `leave` before it ends (what remains of it must not hold up other items, e.g. a
 * low-priority check): the next item starts then, and the call still ends in the result.
 */
export function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number, leave: () => void) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  if (items.length === 0) return Promise.resolve(results);
  const max = Math.max(1, limit);
  return new Promise<R[]>((resolve, reject) => {
    let next = 0;
    let active = 0;
    let finished = 0;
    let failed = false;
    const start = (): void => {
      while (!failed && active < max && next < items.length) {
        const i = next++;
        active++;
        let held = true;
        const leave = (): void => {
          if (!held) return;
          held = false;
          active--;
          start();
        };
        let call: Promise<R>;
        try {
          call = fn(items[i] as T, i, leave);
        } catch (err) {
          call = Promise.reject(asError(err));
        }
        call.then(
          (r) => {
            results[i] = r;
            finished++;
            leave();
            if (finished === items.length) resolve(results);
          },
          (err: unknown) => {
            // As before: the first failure rejects; nothing new starts after it.
            failed = true;
            leave();
            reject(asError(err));
          },
        );
      }
    };
    start();
  });
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
