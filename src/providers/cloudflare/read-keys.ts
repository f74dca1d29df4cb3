import type { CloudflareApi, ListQuery, SettingsResource } from './api.js';

/**
 * Targeted reads: the live entries of a few keys, found with Cloudflare's list filters
 * instead of whole listings (a plan limited to known keys: `--changed-since`, `propose`).
 *
 * - block_senders and allow_policies filter by `pattern` (one value per request). The
 *   contract calls the allow_policies filter exact and says only "filter by pattern value"
 *   for block_senders, so a filter may also match more (a substring): the caller keeps
 *   exactly the keys it asked for.
 * - domains filter by `domain` (an array: `domain=a&domain=b`), DOMAINS_PER_FILTER at a time.
 *
 * Cost: N filtered reads cost N requests; the full listing costs one request per 1,000
 * entries. One filtered read never costs more than the listing, so it is sent at once. For
 * more, page 1 of the full listing is fetched first: it says how many pages the listing has,
 * and it is reused if finishing the listing costs no more than the filtered reads (so the
 * choice costs at most one request more than the cheaper way).
 */

/** Domains per filtered request: keeps the URL well below common 8 KB limits. */
export const DOMAINS_PER_FILTER = 20;

/** The pattern a key stands for: `sender:x` / `recipient:x` for exemptions, the key itself else. */
function patternOf(resource: SettingsResource, key: string): string {
  if (resource !== 'allow_policies') return key;
  const colon = key.indexOf(':');
  return colon >= 0 ? key.slice(colon + 1) : key;
}

/** One query per request that finds the keys: one per pattern, or groups of domains. */
export function filtersFor(resource: SettingsResource, keys: readonly string[]): ListQuery[] {
  if (resource === 'domains') {
    const domains = [...new Set(keys)].sort();
    const out: ListQuery[] = [];
    for (let i = 0; i < domains.length; i += DOMAINS_PER_FILTER)
      out.push({ domain: domains.slice(i, i + DOMAINS_PER_FILTER) });
    return out;
  }
  return [...new Set(keys.map((k) => patternOf(resource, k)))]
    .sort()
    .map((pattern) => ({ pattern }));
}

/**
 * The raw live objects that may hold `keys` (every copy of each), with as few requests as
 * the rule above allows. Other objects may come along; the caller filters by key.
 */
export async function listForKeys(
  api: CloudflareApi,
  resource: SettingsResource,
  keys: readonly string[],
  signal?: AbortSignal,
): Promise<unknown[]> {
  const filters = filtersFor(resource, keys);
  if (filters.length === 0) return [];
  const one = filters[0];
  if (filters.length === 1 && one !== undefined) return api.listMatching(resource, one, signal);
  const first = await api.listPage(resource, 1, {}, signal);
  // A short first page is the whole listing (listAll still checks it adds up).
  const pages =
    first.items.length < api.pageSize
      ? 1
      : first.total !== undefined
        ? Math.ceil(first.total / api.pageSize)
        : Number.POSITIVE_INFINITY;
  if (pages - 1 <= filters.length) return api.listAll(resource, signal, first);
  const found = await Promise.all(filters.map((f) => api.listMatching(resource, f, signal)));
  return found.flat();
}
