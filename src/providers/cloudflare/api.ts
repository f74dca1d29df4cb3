import type { HttpClient } from '../http/client.js';
import { HttpError } from '../http/errors.js';
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
  replace(
    resource: SettingsResource,
    id: string,
    body: object,
    signal?: AbortSignal,
  ): Promise<unknown>;
  patch(
    resource: SettingsResource,
    id: string,
    body: object,
    signal?: AbortSignal,
  ): Promise<unknown>;
  remove(resource: SettingsResource, id: string, signal?: AbortSignal): Promise<void>;
}

function mismatch(path: string, detail: string): HttpError {
  return new HttpError(`GET ${path}: incomplete listing: ${detail}`, {
    code: 'INVALID_RESPONSE',
    method: 'GET',
    path,
    retryable: true,
    mayHaveReachedServer: false,
    attempts: 1,
  });
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
    if (!Array.isArray(result)) throw mismatch(path, 'result is not a list');
    return { items: result, info };
  };

  /**
   * Page 1 tells `total_count`; the other pages are then fetched concurrently. Without a
   * total, pages are read one by one until an empty one. The result must hold exactly
   * `total_count` distinct ids, or the listing throws: a partial list would read as deletes.
   */
  const listOnce = async (path: string, signal?: AbortSignal): Promise<unknown[]> => {
    const first = await page(path, 1, signal);
    const total = first.info?.total_count;
    const pages: unknown[][] = [first.items];
    if (total === undefined) {
      for (let n = 2, last = first.items; last.length > 0; n++) {
        last = (await page(path, n, signal)).items;
        pages.push(last);
      }
    } else {
      const count = Math.ceil(total / perPage);
      const rest = await Promise.all(
        Array.from({ length: Math.max(0, count - 1) }, (_, i) => page(path, i + 2, signal)),
      );
      for (const r of rest) {
        if (r.items.length === 0) break; // the end came early: the count check below decides
        pages.push(r.items);
      }
    }
    const items = pages.flat();
    const ids = new Set(
      items.map((o) => (o !== null && typeof o === 'object' && 'id' in o ? String(o.id) : '')),
    );
    if (total !== undefined && (ids.size !== total || items.length !== total))
      throw mismatch(path, `expected ${total} entries, got ${items.length} (${ids.size} distinct)`);
    return items;
  };

  return {
    async listAll(resource, signal) {
      const path = `${base}/${resource}`;
      try {
        return await listOnce(path, signal);
      } catch (err) {
        // A page that came back short (or entries changing while we read): read once more.
        if (err instanceof HttpError && err.code === 'INVALID_RESPONSE' && err.retryable)
          return listOnce(path, signal);
        throw err;
      }
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
    async replace(resource, id, body, signal) {
      const path = `${base}/${resource}/${encodeURIComponent(id)}`;
      const res = await http.request({ method: 'PUT', path, body, ...(signal ? { signal } : {}) });
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
