import type { HttpClient } from '../http/client.js';
import { incompleteListing, listByPageNumber } from '../http/paging.js';
import { parseEnvelope, type ResultInfo } from './wire.js';

export type SettingsResource = 'block_senders' | 'allow_policies' | 'domains';

/** The four arrays of a `/batch` call, executed atomically in this order. */
export interface BatchBody {
  deletes: { id: string }[];
  patches: Record<string, unknown>[];
  puts: Record<string, unknown>[];
  posts: Record<string, unknown>[];
}

export interface BatchResult {
  deletes: unknown[];
  patches: unknown[];
  puts: unknown[];
  posts: unknown[];
}

/** Cloudflare allows per_page up to 1000 and up to 1000 items per batch array. */
export const MAX_PAGE_SIZE = 1000;
export const MAX_BATCH_ITEMS = 1000;

/** Thin typed calls on `/accounts/{account}/email-security/settings/...`. */
export interface CloudflareApi {
  listAll(resource: SettingsResource, signal?: AbortSignal): Promise<unknown[]>;
  batch(resource: SettingsResource, body: BatchBody, signal?: AbortSignal): Promise<BatchResult>;
  create(resource: SettingsResource, body: object, signal?: AbortSignal): Promise<unknown>;
  /**
   * An update of one entry. Cloudflare's SDK (`cloudflare` 7.3.0) offers `edit` (PATCH) and
   * `batch` for block senders and allow policies, and no single-item PUT: so mxpolicy never
   * sends one, and gives the full body to PATCH instead (contracts/VENDOR-NOTES.md §1.5).
   */
  patch(
    resource: SettingsResource,
    id: string,
    body: object,
    signal?: AbortSignal,
  ): Promise<unknown>;
  remove(resource: SettingsResource, id: string, signal?: AbortSignal): Promise<void>;
}

export function createCloudflareApi(
  http: HttpClient,
  account: string,
  opts: { pageSize?: number } = {},
): CloudflareApi {
  const base = `/accounts/${account}/email-security/settings`;
  const perPage = Math.min(MAX_PAGE_SIZE, Math.max(1, opts.pageSize ?? MAX_PAGE_SIZE));

  const page = async (
    path: string,
    n: number,
    signal?: AbortSignal,
  ): Promise<{ items: unknown[]; info: ResultInfo | undefined }> => {
    const res = await http.request({
      method: 'GET',
      path,
      query: { page: n, per_page: perPage },
      ...(signal !== undefined ? { signal } : {}),
    });
    const { result, info } = parseEnvelope(res.body, path);
    if (!Array.isArray(result)) throw incompleteListing(path, 'result is not a list');
    return { items: result, info };
  };

  return {
    listAll(resource, signal) {
      const path = `${base}/${resource}`;
      // Page 1 tells `total_count`; the other pages are then fetched concurrently, and the
      // result must hold exactly that many distinct ids (else it is read once more, then throws).
      return listByPageNumber({
        what: path,
        pageSize: perPage,
        concurrency: 16,
        ...(signal !== undefined ? { signal } : {}),
        fetch: async (n, s) => {
          const { items, info } = await page(path, n, s);
          return { items, total: info?.total_count };
        },
      });
    },
    async batch(resource, body, signal) {
      const path = `${base}/${resource}/batch`;
      const res = await http.request({ method: 'POST', path, body, ...(signal ? { signal } : {}) });
      const { result } = parseEnvelope(res.body, path);
      const r = (result ?? {}) as Partial<Record<keyof BatchResult, unknown>>;
      const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
      return {
        deletes: arr(r.deletes),
        patches: arr(r.patches),
        puts: arr(r.puts),
        posts: arr(r.posts),
      };
    },
    async create(resource, body, signal) {
      const path = `${base}/${resource}`;
      const res = await http.request({ method: 'POST', path, body, ...(signal ? { signal } : {}) });
      return parseEnvelope(res.body, path).result;
    },
    async patch(resource, id, body, signal) {
      const path = `${base}/${resource}/${encodeURIComponent(id)}`;
      // A PATCH that sets absolute values is idempotent: safe to retry.
      const res = await http.request({
        method: 'PATCH',
        path,
        body,
        ...(signal ? { signal } : {}),
      });
      return parseEnvelope(res.body, path).result;
    },
    async remove(resource, id, signal) {
      const path = `${base}/${resource}/${encodeURIComponent(id)}`;
      await http.request({ method: 'DELETE', path, ...(signal ? { signal } : {}) });
    },
  };
}
