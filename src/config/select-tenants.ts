/** Compile a shell-style glob (`*`, `?`, `[abc]`) matching a whole tenant id. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[' || ch === ']') re += ch;
    else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Tenants matching any of the globs (all when none is given), in their original order. */
export function selectTenants<T extends { tenant: string }>(
  tenants: readonly T[],
  globs: readonly string[],
): T[] {
  if (globs.length === 0) return [...tenants];
  const patterns = globs.map(globToRegExp);
  return tenants.filter((t) => patterns.some((p) => p.test(t.tenant)));
}

/** Stable split of tenants over `n` runners: tenant -> shard by a hash of its id. */
export function shardOf(tenant: string, n: number): number {
  let h = 2166136261;
  for (let i = 0; i < tenant.length; i++) {
    h ^= tenant.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return ((h >>> 0) % n) + 1;
}
