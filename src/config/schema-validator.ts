import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { Diagnostic, DiagnosticCode } from './diagnostics.js';
import { diagnosticAt, type PathSegment, type YamlFile } from './yaml-document.js';

export interface PolicySchemas {
  defs: object;
  tenant: object;
  bundle: object;
}

export type FileKind = 'tenant' | 'bundle';

export interface SchemaValidator {
  validate(kind: FileKind, yaml: YamlFile): Diagnostic[];
}

/** The ajv options the policy schemas are compiled with (at run time or ahead of it). */
export const AJV_OPTIONS = {
  allErrors: true,
  strict: false,
  verbose: true,
  discriminator: true,
} as const;
/** The ajv-formats formats the schemas use. */
export const FORMATS = ['date', 'uri'] as const;

/**
 * Compiled validators: each file kind's whole schema, and its list items' (see
 * `listItemRefs`). Made by `createSchemaValidator` (schema-compile.ts) or ahead of time
 * (`bundledSchemaValidator`, precompiled-validator.ts).
 */
export interface CompiledValidators {
  whole: Record<FileKind, ValidateFunction>;
  lists: Record<FileKind, ReadonlyMap<string, ValidateFunction>>;
}

/** Validation that reports every problem it finds, from compiled validators. */
export function validatorOf(compiled: CompiledValidators): SchemaValidator {
  return {
    validate(kind, yaml) {
      const errors = validateByItems(compiled.whole[kind], compiled.lists[kind], yaml.data);
      return errors.length === 0 ? [] : toDiagnostics(errors, yaml);
    },
  };
}

/**
 * The schema references of the items of each top-level list property that is a plain
 * `{type: array, items: {$ref}}` in the shared definitions (blockedSenders, exemptions, ...),
 * by property. ajv appends each failing item's errors to the list's errors with `concat`,
 * which is quadratic when thousands of items are wrong; validating items one at a time keeps
 * it linear.
 */
export function listItemRefs(defs: object, file: object): [string, string][] {
  const out: [string, string][] = [];
  const id = (defs as { $id?: string }).$id ?? '';
  const defsOf = (defs as { $defs?: Record<string, unknown> }).$defs ?? {};
  const props = (file as { properties?: Record<string, { $ref?: unknown }> }).properties ?? {};
  for (const [key, prop] of Object.entries(props)) {
    const name =
      typeof prop.$ref === 'string' ? /#\/\$defs\/([A-Za-z0-9]+)$/.exec(prop.$ref)?.[1] : undefined;
    const def =
      name !== undefined ? (defsOf[name] as Record<string, unknown> | undefined) : undefined;
    const items = def?.['items'] as { $ref?: unknown } | undefined;
    if (
      def === undefined ||
      def['type'] !== 'array' ||
      Object.keys(def).some(
        (k) => !['type', 'items', 'title', 'description', 'defaultSnippets'].includes(k),
      ) ||
      typeof items?.$ref !== 'string' ||
      !items.$ref.startsWith('#/')
    )
      continue;
    out.push([key, `${id}${items.$ref}`]);
  }
  return out;
}

function validateByItems(
  whole: ValidateFunction,
  lists: ReadonlyMap<string, ValidateFunction>,
  data: unknown,
): ErrorObject[] {
  const isMapping = data !== null && typeof data === 'object' && !Array.isArray(data);
  const split = isMapping
    ? [...lists.keys()].filter((k) => Array.isArray((data as Record<string, unknown>)[k]))
    : [];
  if (split.length === 0) return whole(data) ? [] : [...(whole.errors ?? [])];
  const rest: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  for (const k of split) rest[k] = [];
  const errors: ErrorObject[] = whole(rest) ? [] : [...(whole.errors ?? [])];
  for (const k of split) {
    const item = lists.get(k) as ValidateFunction;
    const list = (data as Record<string, unknown[]>)[k] as unknown[];
    list.forEach((value, i) => {
      if (item(value)) return;
      const prefix = `/${k}/${i}`;
      for (const e of item.errors ?? [])
        errors.push({ ...e, instancePath: prefix + e.instancePath });
    });
  }
  return errors;
}

function toDiagnostics(errors: readonly ErrorObject[], yaml: YamlFile): Diagnostic[] {
  // Combinator keywords only summarize their branches' own errors: keep the branches.
  const useful = errors.filter(
    (e) =>
      !['if', 'allOf', 'anyOf', 'oneOf', 'propertyNames'].includes(e.keyword) &&
      // A pattern beside a format only lets editors catch some of what the format catches
      // (`2027-02-30`); the format error says it better.
      !(e.keyword === 'pattern' && (e.parentSchema as { format?: unknown }).format !== undefined) &&
      // A binding without a usable `type` is already reported as such by `required`/`type`.
      !(
        e.keyword === 'discriminator' &&
        (e.params as { error?: string }).error !== 'mapping' &&
        errors.some((o) => o !== e && o.instancePath === e.instancePath)
      ),
  );
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const e of useful.length > 0 ? useful : errors) {
    const path = pointerToPath(e.instancePath);
    const d = describe(e, path, yaml);
    const id = `${d.pointer}|${d.code}|${d.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(d);
  }
  return out;
}

function describe(e: ErrorObject, path: PathSegment[], yaml: YamlFile): Diagnostic {
  const where = path.length === 0 ? 'the file' : `'${formatPath(path)}'`;
  const at = (code: DiagnosticCode, message: string, p = path, key = false): Diagnostic =>
    diagnosticAt(yaml, p, { code, message, severity: 'error' }, { key });
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      if (e.schemaPath.includes('/else/'))
        return at('SCHEMA_REQUIRED', `${where} needs either 'sender' or 'recipient'`);
      return at(
        'SCHEMA_REQUIRED',
        `${where} is missing the required key '${String(params['missingProperty'])}'`,
      );
    case 'additionalProperties': {
      const name = String(params['additionalProperty']);
      const allowed = Object.keys(
        (e.parentSchema as { properties?: object } | undefined)?.properties ?? {},
      );
      const hint = closest(name, allowed);
      const suggestion =
        hint !== undefined
          ? ` (did you mean '${hint}'?)`
          : allowed.length > 0
            ? ` (allowed: ${allowed.join(', ')})`
            : '';
      return at(
        'SCHEMA_UNKNOWN_KEY',
        `unknown key '${name}' in ${where}${suggestion}`,
        [...path, name],
        true,
      );
    }
    case 'type':
      return at(
        'SCHEMA_TYPE',
        `${where} must be ${article(String(params['type']))}, got ${describeValue(e.data)}`,
      );
    case 'discriminator': {
      // A binding's `type` picks its schema (a oneOf discriminated on type).
      if (params['error'] !== 'mapping')
        return at('SCHEMA_TYPE', `${where} needs 'type' as a string (the provider type)`);
      const known = bindingTypes(e.parentSchema);
      const value = String(params['tagValue']);
      const hint = closest(value, known);
      return at(
        'PROVIDER_UNKNOWN',
        `unknown provider type ${JSON.stringify(value)} in ${where}${hint !== undefined ? ` (did you mean '${hint}'?)` : ''}; this version serves: ${known.join(', ')}`,
        [...path, 'type'],
      );
    }
    case 'enum':
    case 'const': {
      const binding = bindingOf(path, yaml);
      if (binding !== undefined && path[2] === 'kinds') {
        const served = (params['allowedValues'] as unknown[] | undefined) ?? [];
        return at(
          'PROVIDER_KIND_UNSUPPORTED',
          `provider type '${binding.type}' (binding '${binding.name}') cannot serve ${describeValue(e.data)} (it serves ${served.join(', ')})`,
        );
      }
      const allowed = (params['allowedValues'] as unknown[] | undefined) ?? [
        params['allowedValue'],
      ];
      return at(
        'SCHEMA_ENUM',
        `${where} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(e.data)}`,
      );
    }
    case 'pattern': {
      // The schemas say in words what each pattern means (`patternErrorMessage`, which editors
      // show too); a raw regular expression is only the fallback.
      const explained = (e.parentSchema as { patternErrorMessage?: unknown } | undefined)
        ?.patternErrorMessage;
      if (e.propertyName !== undefined)
        return at(
          'SCHEMA_PATTERN',
          `the name ${JSON.stringify(e.propertyName)} in ${where} is not valid` +
            (typeof explained === 'string' ? `: ${explained}` : ''),
          [...path, e.propertyName],
          true,
        );
      return at(
        'SCHEMA_PATTERN',
        typeof explained === 'string'
          ? `${where} ${describeValue(e.data)} is not valid: ${explained}`
          : `${where} ${describeValue(e.data)} does not match ${String(params['pattern'])}`,
      );
    }
    case 'format':
      return at(
        'SCHEMA_FORMAT',
        params['format'] === 'date'
          ? `${where} ${describeValue(e.data)} is not a valid date (YYYY-MM-DD)`
          : `${where} ${describeValue(e.data)} is not a valid ${String(params['format'])}`,
      );
    case 'minItems':
      return at('SCHEMA_INVALID', `${where} needs at least ${String(params['limit'])} item(s)`);
    case 'minLength':
      return at('SCHEMA_INVALID', `${where} must not be empty`);
    case 'false schema':
      // Only the exemption's `recipient` beside a `sender` is declared `false`.
      return at(
        'SCHEMA_INVALID',
        `'${formatPath(path.slice(0, -1))}' must have either 'sender' or 'recipient', not both`,
        path,
        true,
      );
    case 'not':
      return at('SCHEMA_INVALID', `${where} must have exactly one of 'sender' or 'recipient'`);
    default:
      return at('SCHEMA_INVALID', `${where} ${e.message ?? 'is invalid'}`);
  }
}

/** The provider types a discriminated binding schema lists (`#/$defs/<type>Binding`). */
function bindingTypes(schema: unknown): string[] {
  const oneOf = (schema as { oneOf?: { $ref?: string }[] } | undefined)?.oneOf ?? [];
  return oneOf
    .map((s) => /\/([A-Za-z0-9]+)Binding$/.exec(s.$ref ?? '')?.[1])
    .filter((t): t is string => t !== undefined);
}

/** The binding a path points into (`providers.<name>...`), with its declared type. */
function bindingOf(
  path: readonly PathSegment[],
  yaml: YamlFile,
): { name: string; type: string } | undefined {
  if (path[0] !== 'providers' || typeof path[1] !== 'string') return undefined;
  const providers = (yaml.data as { providers?: Record<string, { type?: unknown }> } | null)
    ?.providers;
  const type = providers?.[path[1]]?.type;
  return typeof type === 'string' ? { name: path[1], type } : undefined;
}

/** `blockedSenders[3].reason`, as a person would name the place. */
export function formatPath(path: readonly PathSegment[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function pointerToPath(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

/** The allowed name nearest to `name` by edit distance, when it is close enough to be a typo. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3))
    ? best
    : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] ?? 0;
      prev[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (prev[j - 1] ?? 0) + 1,
        diag + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diag = tmp;
    }
  }
  return prev[b.length] ?? 0;
}
