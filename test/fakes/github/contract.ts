import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { repoFile } from '../../support/repo-file.js';
import addFormatsPlugin from 'ajv-formats';

/**
 * GitHub's published REST OpenAPI (the subset we call), dereferenced. The fake server checks
 * every request body and every response it returns against it, so a client that drifts from
 * the real API fails a test instead of failing in production.
 */
const CONTRACT = 'contracts/github/github-rest-subset.openapi.json';

interface JsonSchemaObject {
  [key: string]: unknown;
}

interface OperationObject {
  operationId: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: JsonSchemaObject }[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchemaObject }> };
  responses: Record<string, { content?: Record<string, { schema?: JsonSchemaObject }> }>;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
}

export interface ContractOperation {
  method: string;
  template: string;
  operationId: string;
  params: Record<string, string>;
  operation: OperationObject;
}

/** GitHub's REST contract kept in `contracts/github/` (see contracts/SOURCES.md) (fails loudly when missing). */
export function locateGithubContract(): string {
  return repoFile(CONTRACT);
}

// Compiling the 1 MB document takes a while; compile each schema once per test process.
let loaded: GithubContract | undefined;

export function loadGithubContract(): GithubContract {
  loaded ??= new GithubContract(
    JSON.parse(readFileSync(locateGithubContract(), 'utf8')) as OpenApiDocument,
  );
  return loaded;
}

export class GithubContract {
  private readonly ajv: Ajv;
  private readonly routes: { method: string; template: string; regex: RegExp; names: string[] }[];
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly doc: OpenApiDocument) {
    this.ajv = new Ajv({ strict: false, allErrors: true });
    addFormatsPlugin.default(this.ajv);
    this.routes = [];
    for (const [template, ops] of Object.entries(doc.paths)) {
      const names: string[] = [];
      const pattern = template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      for (const method of Object.keys(ops)) {
        if (method === 'parameters') continue;
        this.routes.push({
          method: method.toUpperCase(),
          template,
          regex: new RegExp(`^${pattern}$`),
          names,
        });
      }
    }
  }

  /** The documented operation for a request, or undefined when the contract has none. */
  findOperation(method: string, pathname: string): ContractOperation | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.regex.exec(pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1] ?? '')));
      const operation = this.doc.paths[route.template]?.[method.toLowerCase()];
      if (!operation) continue;
      return {
        method,
        template: route.template,
        operationId: operation.operationId,
        params,
        operation,
      };
    }
    return undefined;
  }

  /** Problems with a request body, as readable strings (empty when valid). */
  checkRequestBody(op: ContractOperation, body: unknown): string[] {
    const rb = op.operation.requestBody;
    if (!rb) return body === undefined ? [] : [`${op.operationId} takes no request body`];
    if (body === undefined) return rb.required === true ? [`${op.operationId}: body required`] : [];
    const schema = rb.content?.['application/json']?.schema;
    if (!schema) return [`${op.operationId}: no JSON request schema`];
    return this.check(`${op.operationId} request`, schema, body);
  }

  /** Problems with the query parameters the contract declares (types and enums). */
  checkQuery(op: ContractOperation, query: URLSearchParams): string[] {
    const problems: string[] = [];
    const declared = new Map(
      (op.operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => [p.name, p]),
    );
    for (const [name, raw] of query) {
      const param = declared.get(name);
      if (!param) {
        problems.push(`${op.operationId}: undocumented query parameter ${name}`);
        continue;
      }
      const schema = param.schema ?? {};
      const value = schema['type'] === 'integer' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      problems.push(...this.check(`${op.operationId} query ${name}`, schema, value));
    }
    return problems;
  }

  /** Problems with a response: the status must be documented and the body match its schema. */
  checkResponse(op: ContractOperation, status: number, body: unknown): string[] {
    const response = op.operation.responses[String(status)];
    if (!response) return [`${op.operationId}: undocumented response status ${status}`];
    const schema = response.content?.['application/json']?.schema;
    if (!schema)
      return body === undefined ? [] : [`${op.operationId} ${status}: body not expected`];
    return this.check(`${op.operationId} ${status} response`, schema, body);
  }

  /** The response schema, for building documented objects. */
  responseSchema(op: ContractOperation, status: number): JsonSchemaObject | undefined {
    return op.operation.responses[String(status)]?.content?.['application/json']?.schema;
  }

  private check(where: string, schema: JsonSchemaObject, value: unknown): string[] {
    const key = where;
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(schema);
      this.compiled.set(key, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      (e) =>
        `${where}: ${e.instancePath || '/'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`,
    );
  }
}
