import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

import { repoFile } from '../../support/repo-file.js';

/**
 * Mimecast's policy API as machine-checkable schemas, derived from the hand-derived contract
 * (provenance: contracts/SOURCES.md, and the file's own `x-provenance`/`x-decisions`).
 */
export const MIMECAST_SCHEMA_PATH = repoFile('contracts/mimecast/api-schema.json');

export type Family = 'blockedsenders' | 'antispoofing-bypass';
export type Action = 'get' | 'create' | 'update' | 'delete';

export interface Endpoint {
  path: string;
  family: Family;
  action: Action;
  paginated: boolean;
  request: ValidateFunction;
  response: ValidateFunction;
}

export interface RequestProblems {
  /** Problems outside the data items (the envelope): the whole call is malformed. */
  envelope: string[];
  /** Problems of single data items, by index: only those items fail. */
  items: Map<number, string[]>;
}

export interface MimecastContract {
  endpoints: Map<string, Endpoint>;
  limits: { maxItemsPerWrite: number; maxPageSize: number; defaultPageSize: number };
  checkRequest(endpoint: Endpoint, body: unknown): RequestProblems;
  checkResponse(endpoint: Endpoint | undefined, status: number, body: unknown): string[];
  checkTokenRequest(form: Record<string, string>): string[];
  checkTokenResponse(status: number, body: unknown): string[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function describe(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? [])
    .filter((e) => e.keyword !== 'if')
    .map((e) => {
      const extra =
        e.keyword === 'unevaluatedProperties' || e.keyword === 'additionalProperties'
          ? ` '${String((e.params as Json)['unevaluatedProperty'] ?? (e.params as Json)['additionalProperty'])}'`
          : '';
      return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${extra}`;
    });
}

const esc = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

export function loadMimecastContract(path = MIMECAST_SCHEMA_PATH): MimecastContract {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Json;
  const id = String(doc['$id']);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(doc);
  const ref = (pointer: string): ValidateFunction => ajv.compile({ $ref: `${id}#${pointer}` });

  const limitsRaw = isObject(doc['x-limits']) ? doc['x-limits'] : {};
  const limits = {
    maxItemsPerWrite: Number(limitsRaw['maxItemsPerWrite'] ?? 50),
    maxPageSize: Number(limitsRaw['maxPageSize'] ?? 500),
    defaultPageSize: Number(limitsRaw['defaultPageSize'] ?? 100),
  };

  const endpoints = new Map<string, Endpoint>();
  const raw = isObject(doc['endpoints']) ? doc['endpoints'] : {};
  for (const [path, def] of Object.entries(raw)) {
    if (!isObject(def)) continue;
    endpoints.set(path, {
      path,
      family: def['family'] as Family,
      action: def['action'] as Action,
      paginated: def['paginated'] === true,
      request: ref(`/endpoints/${esc(path)}/request`),
      response: ref(`/endpoints/${esc(path)}/response`),
    });
  }
  const errorResponse = ref('/errorResponse');
  const tokenRequest = ref('/token/request');
  const tokenResponse = ref('/token/response');
  const tokenError = ref('/token/error');

  return {
    endpoints,
    limits,
    checkRequest(endpoint, body) {
      const out: RequestProblems = { envelope: [], items: new Map() };
      if (endpoint.request(body)) return out;
      for (const e of endpoint.request.errors ?? []) {
        const m = /^\/data\/(\d+)(\/|$)/.exec(e.instancePath);
        const [text] = describe([e]);
        if (text === undefined) continue;
        if (m === null) out.envelope.push(text);
        else {
          const i = Number(m[1]);
          out.items.set(i, [...(out.items.get(i) ?? []), text]);
        }
      }
      return out;
    },
    checkResponse(endpoint, status, body) {
      const validate = status === 200 && endpoint !== undefined ? endpoint.response : errorResponse;
      return validate(body) ? [] : describe(validate.errors).map((m) => `response ${status} ${m}`);
    },
    checkTokenRequest(form) {
      return tokenRequest(form) ? [] : describe(tokenRequest.errors).map((m) => `form ${m}`);
    },
    checkTokenResponse(status, body) {
      const validate = status === 200 ? tokenResponse : tokenError;
      return validate(body) ? [] : describe(validate.errors).map((m) => `response ${status} ${m}`);
    },
  };
}
