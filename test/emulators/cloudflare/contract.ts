import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

import { repoFile } from '../../support/repo-file.js';

const addFormats = addFormatsModule.default;

/** Cloudflare's published OpenAPI subset (provenance: contracts/SOURCES.md). */
export const CLOUDFLARE_OPENAPI_PATH = repoFile(
  'contracts/cloudflare/email-security-settings.openapi.json',
);

interface ParamDef {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: Record<string, unknown>;
  validate: ValidateFunction;
}

export interface Operation {
  id: string;
  method: string;
  template: string;
  regex: RegExp;
  pathParams: string[];
  params: ParamDef[];
  body?: ValidateFunction;
  bodyRequired: boolean;
  responses: Map<string, ValidateFunction>;
}

export interface Contract {
  operations: Operation[];
  match(
    method: string,
    path: string,
  ): { op: Operation; params: Record<string, string> } | undefined;
  /** Problems with a request (empty when it conforms); coerces query values into `query`. */
  checkRequest(
    op: Operation,
    req: {
      params: Record<string, string>;
      query: URLSearchParams;
      body: unknown;
      hasBody: boolean;
    },
  ): { problems: string[]; query: Record<string, unknown> };
  checkResponse(op: Operation, status: number, body: unknown): string[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function describe(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/** Read the OpenAPI document and compile a validator per operation, request and response. */
export function loadContract(path = CLOUDFLARE_OPENAPI_PATH): Contract {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Json;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  const id = 'cloudflare-openapi.json';
  ajv.addSchema({ ...doc, $id: id });
  // OpenAPI: a property that is both readOnly and required is required in responses only
  // (AllowPolicy requires `id`, `created_at`, `last_modified`, and CreateAllowPolicy is
  // built on it). Request bodies are checked against a copy without those requirements.
  const requestId = 'cloudflare-openapi.request.json';
  ajv.addSchema({ ...(dropReadOnlyRequired(doc) as Json), $id: requestId });
  const ref = (pointer: string): ValidateFunction => ajv.compile({ $ref: `${id}#${pointer}` });
  const requestRef = (pointer: string): ValidateFunction =>
    ajv.compile({ $ref: `${requestId}#${pointer}` });
  const esc = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

  const deref = (value: unknown): Json => {
    let v = value;
    while (isObject(v) && typeof v['$ref'] === 'string') {
      const parts = v['$ref'].replace(/^#\//, '').split('/');
      let cur: unknown = doc;
      for (const p of parts)
        cur = isObject(cur) ? cur[p.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
      v = cur;
    }
    if (!isObject(v)) throw new Error('unresolvable $ref in contract');
    return v;
  };

  const operations: Operation[] = [];
  const paths = doc['paths'];
  if (!isObject(paths)) throw new Error('contract has no paths');
  for (const [template, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    const shared: unknown[] = Array.isArray(item['parameters'])
      ? (item['parameters'] as unknown[])
      : [];
    for (const [method, raw] of Object.entries(item)) {
      if (method === 'parameters' || !isObject(raw)) continue;
      const opPointer = `/paths/${esc(template)}/${method}`;
      const own: unknown[] = Array.isArray(raw['parameters'])
        ? (raw['parameters'] as unknown[])
        : [];
      const all = [...shared, ...own];
      const params: ParamDef[] = all.map((p) => {
        const def = deref(p);
        const schema = isObject(def['schema']) ? def['schema'] : {};
        return {
          name: String(def['name']),
          in: def['in'] as ParamDef['in'],
          required: def['required'] === true,
          schema,
          validate: ajv.compile(withDefsRef(schema, id)),
        };
      });
      const pathParams: string[] = [];
      const regex = new RegExp(
        `^${template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
          pathParams.push(name);
          return '([^/]+)';
        })}$`,
      );
      const requestBody = isObject(raw['requestBody']) ? raw['requestBody'] : undefined;
      const responses = new Map<string, ValidateFunction>();
      const rawResponses = isObject(raw['responses']) ? raw['responses'] : {};
      for (const [status, r] of Object.entries(rawResponses)) {
        const resolved = deref(r);
        const content = resolved['content'];
        if (isObject(content) && isObject(content['application/json']))
          responses.set(
            status,
            isObject(r) && typeof r['$ref'] === 'string'
              ? ref(`${r['$ref'].replace(/^#/, '')}/content/application~1json/schema`)
              : ref(`${opPointer}/responses/${status}/content/application~1json/schema`),
          );
      }
      const op: Operation = {
        id: String(raw['operationId']),
        method: method.toUpperCase(),
        template,
        regex,
        pathParams,
        params,
        bodyRequired: requestBody?.['required'] === true,
        responses,
      };
      if (requestBody !== undefined)
        op.body = requestRef(`${opPointer}/requestBody/content/application~1json/schema`);
      operations.push(op);
    }
  }
  // Literal segments win over templated ones (`/batch` before `/{id}`).
  operations.sort((a, b) => a.pathParams.length - b.pathParams.length);

  return {
    operations,
    match(method, path) {
      for (const op of operations) {
        if (op.method !== method) continue;
        const m = op.regex.exec(path);
        if (m === null) continue;
        const params: Record<string, string> = {};
        op.pathParams.forEach((name, i) => {
          params[name] = decodeURIComponent(m[i + 1] ?? '');
        });
        return { op, params };
      }
      return undefined;
    },
    checkRequest(op, req) {
      const problems: string[] = [];
      const query: Record<string, unknown> = {};
      const known = new Set(op.params.filter((p) => p.in === 'query').map((p) => p.name));
      for (const key of new Set(req.query.keys()))
        if (!known.has(key)) problems.push(`query parameter '${key}' is not in the contract`);
      for (const p of op.params) {
        if (p.in === 'header') continue;
        let value: unknown;
        if (p.in === 'path') value = req.params[p.name];
        else {
          const values = req.query.getAll(p.name);
          if (values.length === 0) value = undefined;
          else value = coerce(p.schema, values, deref);
        }
        if (value === undefined) {
          if (p.required) problems.push(`${p.in} parameter '${p.name}' is required`);
          continue;
        }
        if (!p.validate(value))
          problems.push(
            ...describe(p.validate.errors).map((m) => `${p.in} parameter '${p.name}'${m.slice(1)}`),
          );
        if (p.in === 'query') query[p.name] = value;
      }
      if (op.body === undefined) {
        if (req.hasBody) problems.push('this operation takes no request body');
      } else if (!req.hasBody) {
        if (op.bodyRequired) problems.push('request body is required');
      } else if (!op.body(req.body)) {
        problems.push(...describe(op.body.errors).map((m) => `body ${m}`));
      }
      return { problems, query };
    },
    checkResponse(op, status, body) {
      const validate =
        op.responses.get(String(status)) ?? op.responses.get(`${String(status)[0] ?? ''}XX`);
      if (validate === undefined) return [`status ${status} is not declared for ${op.id}`];
      return validate(body) ? [] : describe(validate.errors).map((m) => `response ${status} ${m}`);
    },
  };
}

function dropReadOnlyRequired(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropReadOnlyRequired);
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) out[k] = dropReadOnlyRequired(v);
  const props = value['properties'];
  if (Array.isArray(value['required']) && isObject(props))
    out['required'] = value['required'].filter(
      (name) =>
        !(typeof name === 'string' && isObject(props[name]) && props[name]['readOnly'] === true),
    );
  return out;
}

/** Query strings are text: turn them into what the parameter's schema types say. */
function coerce(schema: Json, values: string[], deref: (v: unknown) => Json): unknown {
  const resolved = typeof schema['$ref'] === 'string' ? deref(schema) : schema;
  const inner =
    Array.isArray(resolved['allOf']) && isObject(resolved['allOf'][0])
      ? deref(resolved['allOf'][0])
      : resolved;
  const type = inner['type'];
  const one = (s: string, t: unknown): unknown => {
    if (t === 'integer' || t === 'number')
      return s.trim() !== '' && !Number.isNaN(Number(s)) ? Number(s) : s;
    if (t === 'boolean') return s === 'true' ? true : s === 'false' ? false : s;
    return s;
  };
  if (type === 'array') {
    const items = isObject(inner['items']) ? inner['items'] : {};
    return values.flatMap((v) => v.split(',')).map((v) => one(v, items['type']));
  }
  return one(values[values.length - 1] ?? '', type);
}

/** Parameter schemas may `$ref` components: make those refs absolute to the contract. */
function withDefsRef(schema: Json, id: string): Json {
  return JSON.parse(JSON.stringify(schema).replace(/"\$ref":"#\//g, `"$ref":"${id}#/`)) as Json;
}
