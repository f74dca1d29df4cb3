import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

import { repoFile } from '../../support/repo-file.js';

const addFormats = addFormatsModule.default;

/**
 * The machine-checkable Microsoft Graph contract (provenance: contracts/SOURCES.md): an
 * OpenAPI 3.1 subset derived by hand from `ediscovery-legal-holds-contract.json`.
 */
export const MSGRAPH_OPENAPI_PATH = repoFile(
  'contracts/msgraph/ediscovery-legal-holds.openapi.json',
);

type Json = Record<string, unknown>;

export interface GraphOperation {
  id: string;
  method: string;
  template: string;
  /** `authority` for the token endpoint (its own server), `graph` for the rest. */
  server: 'graph' | 'authority';
  pathParams: string[];
  regex: RegExp;
  query: Map<string, { required: boolean; schema: Json; validate: ValidateFunction }>;
  body?: { type: 'json' | 'form'; required: boolean; validate: ValidateFunction };
  /** Response validators by status ('200', '4XX', 'default'); `null` = no content. */
  responses: Map<string, ValidateFunction | null>;
}

export interface GraphContract {
  operations: GraphOperation[];
  match(
    server: GraphOperation['server'],
    method: string,
    path: string,
  ): { op: GraphOperation; params: Record<string, string> } | undefined;
  /** Problems with a request (empty when it conforms); coerces query values into `query`. */
  checkRequest(
    op: GraphOperation,
    req: { query: URLSearchParams; body: unknown; hasBody: boolean; contentType: string },
  ): { problems: string[]; query: Record<string, unknown> };
  checkResponse(op: GraphOperation, status: number, body: unknown): string[];
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function describeErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/** Read the OpenAPI document and compile validators per operation. */
export function loadGraphContract(path = MSGRAPH_OPENAPI_PATH): GraphContract {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Json;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  const id = 'msgraph-openapi.json';
  ajv.addSchema({ ...doc, $id: id });
  const esc = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');
  const compileAt = (pointer: string): ValidateFunction =>
    ajv.compile({ $ref: `${id}#${pointer}` });
  const deref = (value: unknown): { v: Json; pointer?: string } => {
    let v = value;
    let pointer: string | undefined;
    while (isObject(v) && typeof v['$ref'] === 'string') {
      pointer = v['$ref'].replace(/^#/, '');
      let cur: unknown = doc;
      for (const p of pointer.split('/').slice(1))
        cur = isObject(cur) ? cur[p.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
      v = cur;
    }
    if (!isObject(v)) throw new Error('unresolvable $ref in the Graph contract');
    return pointer === undefined ? { v } : { v, pointer };
  };

  const operations: GraphOperation[] = [];
  const paths = doc['paths'];
  if (!isObject(paths)) throw new Error('Graph contract has no paths');
  for (const [template, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    const server =
      Array.isArray(item['servers']) &&
      JSON.stringify(item['servers']).includes('login.microsoftonline.com')
        ? 'authority'
        : 'graph';
    const shared = Array.isArray(item['parameters']) ? (item['parameters'] as unknown[]) : [];
    for (const [method, raw] of Object.entries(item)) {
      if (!['get', 'post', 'patch', 'put', 'delete'].includes(method) || !isObject(raw)) continue;
      const opPointer = `/paths/${esc(template)}/${method}`;
      const own = Array.isArray(raw['parameters']) ? (raw['parameters'] as unknown[]) : [];
      const query: GraphOperation['query'] = new Map();
      for (const p of [...shared, ...own]) {
        const { v: def, pointer } = deref(p);
        if (def['in'] !== 'query') continue;
        const schema = isObject(def['schema']) ? def['schema'] : {};
        query.set(String(def['name']), {
          required: def['required'] === true,
          schema,
          validate: pointer !== undefined ? compileAt(`${pointer}/schema`) : ajv.compile(schema),
        });
      }
      const pathParams: string[] = [];
      const regex = new RegExp(
        `^${template
          .replace(/[$.]/g, (c) => `\\${c}`)
          .replace(/\{([^}]+)\}/g, (_m, name: string) => {
            pathParams.push(name);
            return '([^/]+)';
          })}$`,
      );
      const op: GraphOperation = {
        id: String(raw['operationId']),
        method: method.toUpperCase(),
        template,
        server,
        pathParams,
        regex,
        query,
        responses: new Map(),
      };
      const rb = isObject(raw['requestBody']) ? raw['requestBody'] : undefined;
      if (rb !== undefined && isObject(rb['content'])) {
        const type = isObject(rb['content']['application/json']) ? 'json' : 'form';
        const media = type === 'json' ? 'application~1json' : 'application~1x-www-form-urlencoded';
        op.body = {
          type,
          required: rb['required'] === true,
          validate: compileAt(`${opPointer}/requestBody/content/${media}/schema`),
        };
      }
      const responses = isObject(raw['responses']) ? raw['responses'] : {};
      for (const [status, r] of Object.entries(responses)) {
        const { v, pointer } = deref(r);
        const base = pointer ?? `${opPointer}/responses/${esc(status)}`;
        const content = v['content'];
        op.responses.set(
          status,
          isObject(content) && isObject(content['application/json'])
            ? compileAt(`${base}/content/application~1json/schema`)
            : null,
        );
      }
      operations.push(op);
    }
  }
  // Literal segments win over templated ones.
  operations.sort((a, b) => a.pathParams.length - b.pathParams.length);

  return {
    operations,
    match(server, method, path) {
      for (const op of operations) {
        if (op.server !== server || op.method !== method) continue;
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
      for (const given of new Set(req.query.keys())) {
        // OData system query options are case-insensitive ($skipToken = $skiptoken).
        const key =
          [...op.query.keys()].find((k) => k.toLowerCase() === given.toLowerCase()) ?? given;
        const def = op.query.get(key);
        if (def === undefined) {
          problems.push(`query option '${key}' is not in the contract for ${op.id}`);
          continue;
        }
        const raw = req.query.get(given) ?? '';
        const type = def.schema['type'];
        const value =
          type === 'integer' && /^-?\d+$/.test(raw)
            ? Number(raw)
            : type === 'boolean' && (raw === 'true' || raw === 'false')
              ? raw === 'true'
              : raw;
        if (!def.validate(value))
          problems.push(
            ...describeErrors(def.validate.errors).map((m) => `query option '${key}'${m.slice(1)}`),
          );
        else query[key] = value;
      }
      for (const [key, def] of op.query)
        if (def.required && query[key] === undefined)
          problems.push(`query option '${key}' is required`);
      if (op.body === undefined) {
        if (req.hasBody) problems.push(`${op.id} takes no request body`);
      } else if (!req.hasBody) {
        if (op.body.required) problems.push('request body is required');
      } else {
        const wanted =
          op.body.type === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
        if (!req.contentType.toLowerCase().startsWith(wanted))
          problems.push(`content-type must be ${wanted}, not '${req.contentType}'`);
        if (!op.body.validate(req.body))
          problems.push(...describeErrors(op.body.validate.errors).map((m) => `body ${m}`));
      }
      return { problems, query };
    },
    checkResponse(op, status, body) {
      const s = String(status);
      const key = op.responses.has(s)
        ? s
        : op.responses.has(`${s[0] ?? ''}XX`)
          ? `${s[0] ?? ''}XX`
          : op.responses.has('default')
            ? 'default'
            : undefined;
      if (key === undefined) return [`status ${status} is not declared for ${op.id}`];
      const validate = op.responses.get(key);
      if (validate === null || validate === undefined)
        return body === undefined ? [] : [`status ${status} of ${op.id} has no content`];
      return validate(body) ? [] : describeErrors(validate.errors).map((m) => `response ${s} ${m}`);
    },
  };
}
