import { policyStatus, type DirectoryUser, type PolicyStatus } from './map.js';

/**
 * Microsoft Graph response shapes, parsed at the boundary (vendor notes §3.1–3.2): what
 * mxpolicy relies on is checked, the rest is ignored. A response that does not parse is
 * an error, never an empty list: the planner would take missing holds for deleted ones.
 */

type Json = Record<string, unknown>;

export class GraphShapeError extends Error {
  constructor(what: string, detail: string) {
    super(`Microsoft Graph answered ${what} in an unexpected shape: ${detail}`);
    this.name = 'GraphShapeError';
  }
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function str(o: Json, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '')
    throw new GraphShapeError(what, `'${key}' is not a string`);
  return v;
}

function optStr(o: Json, key: string): string | null {
  const v = o[key];
  return typeof v === 'string' ? v : null;
}

/** One page of a collection: `{ value: [...], '@odata.nextLink'? }`. */
export function parseCollection(body: unknown, what: string): { items: Json[]; next?: string } {
  if (!isObject(body) || !Array.isArray(body['value']))
    throw new GraphShapeError(what, "no 'value' array");
  const items = body['value'] as unknown[];
  items.forEach((item, i) => {
    if (!isObject(item)) throw new GraphShapeError(what, `value[${i}] is not an object`);
  });
  const next = body['@odata.nextLink'];
  if (next !== undefined && next !== null && typeof next !== 'string')
    throw new GraphShapeError(what, "'@odata.nextLink' is not a string");
  return typeof next === 'string' && next !== ''
    ? { items: items as Json[], next }
    : { items: items as Json[] };
}

export function parseUser(o: Json): DirectoryUser {
  return {
    id: str(o, 'id', 'a user'),
    mail: optStr(o, 'mail'),
    accountEnabled: typeof o['accountEnabled'] === 'boolean' ? o['accountEnabled'] : null,
  };
}

export interface GraphCase {
  id: string;
  displayName: string;
  status: string;
}

export function parseCase(body: unknown): GraphCase {
  if (!isObject(body)) throw new GraphShapeError('an eDiscovery case', 'not an object');
  return {
    id: str(body, 'id', 'an eDiscovery case'),
    displayName: optStr(body, 'displayName') ?? '',
    status: optStr(body, 'status') ?? 'unknown',
  };
}

export interface GraphPolicy {
  id: string;
  displayName: string;
  description: string | null;
  status: PolicyStatus;
  errors: string[];
  /** KQL narrowing what is held (empty or absent: the whole mailbox). */
  contentQuery?: string;
  /** False: the policy holds nothing. */
  isEnabled?: boolean;
}

export function parsePolicy(body: unknown): GraphPolicy {
  const what = 'a hold policy';
  if (!isObject(body)) throw new GraphShapeError(what, 'not an object');
  const errors = body['errors'];
  return {
    id: str(body, 'id', what),
    displayName: str(body, 'displayName', what),
    description: optStr(body, 'description'),
    status: policyStatus(body['status']),
    errors: Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string') : [],
    ...(typeof body['contentQuery'] === 'string' ? { contentQuery: body['contentQuery'] } : {}),
    ...(typeof body['isEnabled'] === 'boolean' ? { isEnabled: body['isEnabled'] } : {}),
  };
}

export interface GraphUserSource {
  id: string;
  email: string;
  holdStatus: string | null;
}

export function parseUserSource(body: unknown): GraphUserSource {
  const what = 'a user source';
  if (!isObject(body)) throw new GraphShapeError(what, 'not an object');
  return {
    id: str(body, 'id', what),
    email: str(body, 'email', what),
    holdStatus: optStr(body, 'holdStatus'),
  };
}

export interface BatchItemResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** `POST /$batch` answer: inner responses by request id (Graph may reorder them). */
export function parseBatchResponse(body: unknown): Map<string, BatchItemResponse> {
  const what = 'a $batch request';
  if (!isObject(body) || !Array.isArray(body['responses']))
    throw new GraphShapeError(what, "no 'responses' array");
  const out = new Map<string, BatchItemResponse>();
  for (const r of body['responses'] as unknown[]) {
    if (!isObject(r) || typeof r['id'] !== 'string' || typeof r['status'] !== 'number')
      throw new GraphShapeError(what, 'an inner response without id or status');
    const headers: Record<string, string> = {};
    if (isObject(r['headers']))
      for (const [k, v] of Object.entries(r['headers']))
        if (typeof v === 'string') headers[k.toLowerCase()] = v;
    out.set(r['id'], { id: r['id'], status: r['status'], headers, body: r['body'] });
  }
  return out;
}

/** `{ error: { code, message } }` -> "code: message". */
export function graphErrorText(body: unknown): string | undefined {
  if (!isObject(body)) return typeof body === 'string' && body !== '' ? body : undefined;
  const e = body['error'];
  if (isObject(e)) {
    const code = typeof e['code'] === 'string' ? e['code'] : '';
    const message = typeof e['message'] === 'string' ? e['message'] : '';
    return [code, message].filter((s) => s !== '').join(': ') || undefined;
  }
  if (typeof e === 'string')
    return typeof body['error_description'] === 'string' ? `${e}: ${body['error_description']}` : e;
  return undefined;
}

/** Retry-After of an inner batch response, in ms (seconds or an HTTP date). */
export function retryAfterMs(headers: Record<string, string>, nowMs: number): number | undefined {
  const v = headers['retry-after'];
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}
