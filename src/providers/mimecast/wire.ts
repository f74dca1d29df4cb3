/**
 * Mimecast's wire shapes (contracts/mimecast/), parsed at the boundary: everything past this
 * file works on these types, never on raw JSON. Responses are read leniently (the vendor may
 * add fields; the documentation itself disagrees on some shapes), requests are built exactly.
 */

export type TargetType =
  | 'everyone'
  | 'internal_addresses'
  | 'external_addresses'
  | 'email_domain'
  | 'profile_group'
  | 'individual_email_address'
  | 'address_attribute_value'
  | 'free_mail_domains'
  | 'header_display_name';

/** A `from`/`to` target as read: the type, the value fields, and whether it names more. */
export interface McTarget {
  type: string;
  emailAddress?: string;
  emailDomain?: string;
  groupId?: string;
  headerDisplayName?: string;
  /** A nested `group` or `attribute` object (things mxpolicy does not model). */
  extra: boolean;
}

export interface McConditions {
  sourceIPs: string[];
  spfDomains: string[];
  hostnames: string[];
}

/** One policy object as read (blocked senders and anti-spoofing bypass share the fields). */
export interface McPolicy {
  description: string;
  comment?: string;
  fromPart?: string;
  from: McTarget;
  to: McTarget;
  bidirectional: boolean;
  conditions: McConditions;
  fromDate?: string;
  toDate?: string;
  fromEternal?: boolean;
  toEternal?: boolean;
  enabled?: boolean;
}

/** One `data` item of get-policy / create-policy / update-policy. */
export interface McPolicyItem {
  id: string;
  option: string;
  /** Absent when `policy` is an array of other than exactly one object. */
  policy?: McPolicy;
}

export interface McError {
  code: string;
  message: string;
  retryable: boolean;
}

/** One `fail[]` item: the errors, and the failed request item when the vendor echoes it. */
export interface McFail {
  key?: unknown;
  errors: McError[];
}

export interface McEnvelope {
  data: unknown[];
  fail: McFail[];
  next?: string;
  totalCount?: number;
}

/** A target written by mxpolicy. */
export type McTargetBody =
  | { type: 'everyone' }
  | { type: 'individual_email_address'; emailAddress: string }
  | { type: 'email_domain'; emailDomain: string };

/** The policy object mxpolicy sends (create, and update for anti-spoofing bypass). */
export interface McPolicyBody {
  description: string;
  fromPart: 'envelope_from' | 'header_from' | 'both';
  from: McTargetBody;
  to: { type: 'everyone' };
  bidirectional: false;
  conditions?: { sourceIPs?: string[]; spfDomains?: string[] };
  fromEternal: true;
  toEternal: boolean;
  toDate?: string;
  enabled?: true;
}

export interface BlockedSenderCreate {
  option: 'block_sender';
  policy: McPolicyBody;
}
export interface BypassCreate {
  option: 'enable_bypass';
  policy: McPolicyBody;
}
export interface BypassUpdate extends BypassCreate {
  id: string;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A response that is not what the contract describes. */
export class MimecastResponseError extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`POST ${path}: unexpected response from Mimecast: ${detail}`);
    this.name = 'MimecastResponseError';
  }
}

function str(o: Json, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' ? v : undefined;
}
function bool(o: Json, k: string): boolean | undefined {
  const v = o[k];
  return typeof v === 'boolean' ? v : undefined;
}
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function parseErrors(v: unknown): McError[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObject).map((e) => ({
    code: str(e, 'code') ?? 'unknown',
    message: str(e, 'message') ?? '',
    retryable: e['retryable'] === true,
  }));
}

/** The `{meta, data, fail}` envelope of any API function. */
export function parseEnvelope(body: unknown, path: string): McEnvelope {
  if (!isObject(body)) throw new MimecastResponseError(path, 'the body is not an object');
  const data = body['data'] ?? [];
  if (!Array.isArray(data)) throw new MimecastResponseError(path, '`data` is not a list');
  const rawFail = body['fail'] ?? [];
  if (!Array.isArray(rawFail)) throw new MimecastResponseError(path, '`fail` is not a list');
  const fail: McFail[] = rawFail.map((f) => {
    const item: McFail = { errors: isObject(f) ? parseErrors(f['errors']) : [] };
    if (isObject(f) && f['key'] !== undefined) item.key = f['key'];
    return item;
  });
  const out: McEnvelope = { data, fail };
  const meta = body['meta'];
  const pagination = isObject(meta) ? meta['pagination'] : undefined;
  if (isObject(pagination)) {
    const next = str(pagination, 'next');
    if (next !== undefined && next !== '') out.next = next;
    const total = pagination['totalCount'];
    if (typeof total === 'number' && Number.isInteger(total) && total >= 0) out.totalCount = total;
  }
  return out;
}

const VALUE_FIELD: Partial<Record<string, keyof McTarget>> = {
  email_domain: 'emailDomain',
  individual_email_address: 'emailAddress',
  profile_group: 'groupId',
  header_display_name: 'headerDisplayName',
};

/** `from`/`to` from the nested form, falling back to the older flat `fromType`/`fromValue`. */
function parseTarget(p: Json, side: 'from' | 'to'): McTarget {
  const nested = p[side];
  if (isObject(nested) && typeof nested['type'] === 'string') {
    const t: McTarget = {
      type: nested['type'],
      extra: isObject(nested['group']) || isObject(nested['attribute']),
    };
    for (const k of ['emailAddress', 'emailDomain', 'groupId', 'headerDisplayName'] as const) {
      const v = str(nested, k);
      if (v !== undefined && v !== '') t[k] = v;
    }
    return t;
  }
  const type = str(p, `${side}Type`) ?? 'everyone';
  const t: McTarget = { type, extra: false };
  const field = VALUE_FIELD[type];
  const value = str(p, `${side}Value`);
  if (field !== undefined && field !== 'extra' && field !== 'type' && value !== undefined)
    t[field] = value;
  return t;
}

function parsePolicyObject(p: Json): McPolicy {
  const cond = isObject(p['conditions']) ? p['conditions'] : {};
  const out: McPolicy = {
    description: str(p, 'description') ?? '',
    from: parseTarget(p, 'from'),
    to: parseTarget(p, 'to'),
    bidirectional: p['bidirectional'] === true,
    conditions: {
      sourceIPs: strings(cond['sourceIPs']),
      spfDomains: strings(cond['spfDomains']),
      hostnames: strings(cond['hostnames']),
    },
  };
  const optional = {
    comment: str(p, 'comment'),
    fromPart: str(p, 'fromPart'),
    fromDate: str(p, 'fromDate'),
    toDate: str(p, 'toDate'),
    fromEternal: bool(p, 'fromEternal'),
    toEternal: bool(p, 'toEternal'),
    enabled: bool(p, 'enabled'),
  };
  for (const [k, v] of Object.entries(optional))
    if (v !== undefined) (out as unknown as Json)[k] = v;
  return out;
}

/**
 * A get/create/update-policy `data` item. The anti-spoofing bypass documentation shows
 * `policy` as an array: one element is read as the policy; any other count leaves `policy`
 * out, and the caller treats the item as something mxpolicy does not model.
 */
export function parsePolicyItem(v: unknown, path: string): McPolicyItem {
  if (!isObject(v)) throw new MimecastResponseError(path, 'a policy item is not an object');
  const id = str(v, 'id');
  if (id === undefined || id === '') throw new MimecastResponseError(path, 'a policy has no id');
  const item: McPolicyItem = { id, option: str(v, 'option') ?? '' };
  const p = v['policy'];
  if (isObject(p)) item.policy = parsePolicyObject(p);
  else if (Array.isArray(p) && p.length === 1 && isObject(p[0]))
    item.policy = parsePolicyObject(p[0]);
  return item;
}

/** A delete-policy `data` item: `{id}`. */
export function parseIdItem(v: unknown, path: string): string {
  if (!isObject(v) || typeof v['id'] !== 'string')
    throw new MimecastResponseError(path, 'a deleted item has no id');
  return v['id'];
}

/** The OAuth 2.0 token response. */
export function parseTokenResponse(
  body: unknown,
  path: string,
): { accessToken: string; expiresInS: number } {
  if (!isObject(body)) throw new MimecastResponseError(path, 'the token response is not an object');
  const token = str(body, 'access_token');
  const expires = body['expires_in'];
  if (token === undefined || token === '')
    throw new MimecastResponseError(path, 'the token response has no access_token');
  const seconds = typeof expires === 'number' ? expires : Number(expires);
  return { accessToken: token, expiresInS: Number.isFinite(seconds) && seconds > 0 ? seconds : 0 };
}
