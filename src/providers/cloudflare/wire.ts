import { HttpError } from '../http/errors.js';

/**
 * Cloudflare's wire shapes, parsed at the boundary: everything past this file works on
 * these types, never on raw JSON. Read-only and deprecated fields are kept out on purpose.
 */

export type PatternType = 'EMAIL' | 'DOMAIN' | 'IP' | 'UNKNOWN';

export interface CfBlockedSender {
  id: string;
  pattern: string;
  pattern_type: PatternType;
  is_regex: boolean;
  comments: string | null;
}

export interface CfAllowPolicy {
  id: string;
  pattern: string;
  pattern_type: PatternType;
  is_regex: boolean;
  comments: string | null;
  is_exempt_recipient: boolean;
  is_trusted_sender: boolean;
  is_acceptable_sender: boolean;
  verify_sender: boolean;
}

export interface CfDomain {
  id: string;
  domain: string;
  transport: string | null;
  require_tls_inbound: boolean | null;
  require_tls_outbound: boolean | null;
}

export interface ResultInfo {
  count?: number;
  page?: number;
  per_page?: number;
  total_count?: number;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function invalid(path: string, detail: string): HttpError {
  return new HttpError(`GET ${path}: unexpected response from Cloudflare: ${detail}`, {
    code: 'INVALID_RESPONSE',
    method: 'GET',
    path,
    retryable: false,
    mayHaveReachedServer: false,
    attempts: 1,
  });
}

/** Cloudflare's error text: `errors[]` as `code message; ...` (the client's `errorText`). */
export function cloudflareErrorText(body: unknown): string | undefined {
  if (!isObject(body)) return undefined;
  const errors = body['errors'];
  if (!Array.isArray(errors)) return undefined;
  const parts = errors.flatMap((e: unknown) =>
    isObject(e) && typeof e['message'] === 'string'
      ? [`${typeof e['code'] === 'number' ? `${e['code']} ` : ''}${e['message']}`]
      : [],
  );
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/**
 * Whether an error body says Cloudflare found no route for the request (the method and path
 * are not an operation it offers, or an id in the path has a shape it does not route):
 * `7003 Could not route to <path>, perhaps your object identifier is invalid?` and
 * `7000 No route for that URI` (contracts/VENDOR-NOTES.md §1.2). Such a 404 (or 400) says
 * nothing about whether the entry exists.
 */
export function cloudflareUnroutable(body: unknown): boolean {
  if (!isObject(body) || !Array.isArray(body['errors'])) return false;
  return body['errors'].some(
    (e: unknown) =>
      isObject(e) &&
      (e['code'] === 7000 ||
        e['code'] === 7003 ||
        (typeof e['message'] === 'string' &&
          /\b(?:no route for|could not route to)\b/i.test(e['message']))),
  );
}

/** A 2xx with `success: false` is a failure all the same (the client's `inspect`). */
export function cloudflareInspect(res: { body: unknown }): { message: string } | undefined {
  if (isObject(res.body) && res.body['success'] === false)
    return { message: cloudflareErrorText(res.body) ?? 'success: false' };
  return undefined;
}

/** The `{success, errors, messages, result, result_info?}` envelope. */
export function parseEnvelope(body: unknown, path: string): { result: unknown; info?: ResultInfo } {
  if (!isObject(body) || body['success'] !== true || !('result' in body))
    throw invalid(path, 'not a successful v4 envelope');
  const info = body['result_info'];
  if (info === undefined || info === null) return { result: body['result'] };
  if (!isObject(info)) throw invalid(path, 'result_info is not an object');
  const out: ResultInfo = {};
  for (const k of ['count', 'page', 'per_page', 'total_count'] as const) {
    const v = info[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  }
  return { result: body['result'], info: out };
}

function str(o: Json, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' ? v : undefined;
}
function bool(o: Json, k: string): boolean | undefined {
  const v = o[k];
  return typeof v === 'boolean' ? v : undefined;
}

function patternFields(o: Json, path: string): CfBlockedSender {
  const id = o['id'];
  // Ids are opaque: uuid strings today, integers until 2026-05 (vendor-apis README §1.12).
  if (typeof id !== 'string' && typeof id !== 'number') throw invalid(path, 'an entry has no id');
  const pattern = o['pattern'];
  if (typeof pattern !== 'string') throw invalid(path, `entry ${id} has no pattern`);
  const type = o['pattern_type'];
  const comments = o['comments'];
  return {
    id: typeof id === 'string' ? id : String(id),
    pattern,
    pattern_type: type === 'EMAIL' || type === 'DOMAIN' || type === 'IP' ? type : 'UNKNOWN',
    is_regex: o['is_regex'] === true,
    comments: typeof comments === 'string' ? comments : null,
  };
}

export function parseBlockedSender(v: unknown, path: string): CfBlockedSender {
  if (!isObject(v)) throw invalid(path, 'an entry is not an object');
  return patternFields(v, path);
}

export function parseAllowPolicy(v: unknown, path: string): CfAllowPolicy {
  if (!isObject(v)) throw invalid(path, 'an entry is not an object');
  const p = patternFields(v, path) as CfAllowPolicy;
  // Each deprecated flag (contracts/cloudflare OpenAPI: `is_recipient`, `is_sender`,
  // `is_spoof`, "Deprecated as of July 1, 2025") still appears on old entries, possibly
  // beside its successor: either one set means the bypass is on, so they are combined, not
  // one ignored when the other is present.
  const either = (now: string, old: string): boolean =>
    bool(v, now) === true || bool(v, old) === true;
  p.is_exempt_recipient = either('is_exempt_recipient', 'is_recipient');
  p.is_trusted_sender = either('is_trusted_sender', 'is_sender');
  p.is_acceptable_sender = either('is_acceptable_sender', 'is_spoof');
  p.verify_sender = bool(v, 'verify_sender') ?? false;
  return p;
}

export function parseDomain(v: unknown, path: string): CfDomain {
  if (!isObject(v)) throw invalid(path, 'a domain is not an object');
  const id = v['id'];
  const domain = str(v, 'domain');
  if ((typeof id !== 'string' && typeof id !== 'number') || domain === undefined)
    throw invalid(path, 'a domain has no id or name');
  const tls = (k: string): boolean | null => bool(v, k) ?? null;
  return {
    id: String(id),
    domain,
    transport: str(v, 'transport') ?? null,
    require_tls_inbound: tls('require_tls_inbound'),
    require_tls_outbound: tls('require_tls_outbound'),
  };
}

export function parseList<T>(
  result: unknown,
  path: string,
  parse: (v: unknown, path: string) => T,
): T[] {
  if (!Array.isArray(result)) throw invalid(path, 'result is not a list');
  return result.map((v) => parse(v, path));
}
