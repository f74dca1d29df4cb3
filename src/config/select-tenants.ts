import picomatch from 'picomatch';

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

/**
 * Compile a `--tenant` glob with the syntax users know from their shell (`*`, `?`, `[a-c]`,
 * `[!x]`, `{a,b}`), matching the whole tenant id (picomatch). A glob that is not well
 * formed (an unclosed `[` or `{`) is an error, not a pattern that silently matches nothing.
 */
export function tenantGlob(glob: string): RegExp {
  const problem = globProblem(glob);
  if (problem !== undefined) throw new Error(`--tenant '${glob}' is not a valid glob: ${problem}`);
  // The shell negates a class with `[!...]`; picomatch reads that as a `!` member.
  const shell = glob.replace(/(^|[^\\])\[!/g, '$1[^');
  return picomatch.makeRe(shell, { dot: true, strictBrackets: true });
}

function globProblem(glob: string): string | undefined {
  if (glob === '') return 'it is empty';
  let bracket = -1;
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (bracket >= 0) {
      // `]` right after `[` or `[!` is a literal member of the class, as in the shell.
      if (ch === ']' && i > bracket + 1 && !(i === bracket + 2 && glob[bracket + 1] === '!'))
        bracket = -1;
      continue;
    }
    if (ch === '[') bracket = i;
    else if (ch === ']') return `']' at position ${i + 1} closes no '['`;
    else if (ch === '{') braces++;
    else if (ch === '}') {
      if (braces === 0) return `'}' at position ${i + 1} closes no '{'`;
      braces--;
    }
  }
  if (bracket >= 0)
    return `'[' at position ${bracket + 1} is never closed (write '\\[' for a literal bracket)`;
  if (braces > 0) return `a '{' is never closed`;
  return undefined;
}

/** Tenants matching any of the globs (all when none is given), in their original order. */
export function selectTenants<T extends { tenant: string }>(
  tenants: readonly T[],
  globs: readonly string[],
): T[] {
  if (globs.length === 0) return [...tenants];
  const patterns = globs.map(tenantGlob);
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
