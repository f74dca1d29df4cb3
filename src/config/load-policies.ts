import { KINDS, isKind, type Kind, type ProviderBinding } from '../model/kinds.js';
import { normalizeDomain } from '../model/normalize.js';
import { normalizeEntry, type RawEntryOf } from '../model/entries.js';
import {
  checkEntryValues,
  servedKinds,
  type CapabilityTable,
  type ValueRule,
  type ValueViolation,
} from '../model/capabilities.js';
import { checkBindingTrust, type TrustPolicy } from '../model/trust.js';
import {
  checkTenantEntries,
  createEntryFacts,
  oncePerBundleEntry,
  type EntryFactsOf,
} from './checks.js';
import { compareDiagnostics, hasErrors, type Diagnostic, type Location } from './diagnostics.js';
import {
  emptyDesiredEntries,
  type BundleConfig,
  type DesiredEntries,
  type DesiredEntry,
  type PolicySet,
  type PolicySource,
  type ResolvedBinding,
  type SourceRef,
  type TenantConfig,
} from './policy-set.js';
import { closest, type SchemaValidator } from './schema-validator.js';
import { diagnosticAt, parseYamlFile, type YamlFile } from './yaml-document.js';

export interface LoadOptions {
  validator: SchemaValidator;
  /**
   * What each provider type serves and can express (from the provider registry): a binding
   * of another type, a kind it does not serve or a value it cannot store is an error here,
   * before anything is read live.
   */
  capabilities: CapabilityTable;
  /** Today's date (YYYY-MM-DD), injected: entries that expired before it are warned about. */
  today: string;
  /**
   * What the repository configuration (not a policy file) allows bindings to name: secret
   * variables and extra hosts. Absent: vendor hosts and 127.0.0.1 only, any unreserved name.
   */
  trust?: TrustPolicy;
}

interface ParsedFile {
  source: PolicySource;
  yaml: YamlFile;
  data: Record<string, unknown>;
  /** JSON pointers with schema errors: entries under them are not interpreted further. */
  broken: string[];
  ok: boolean;
}

/**
 * Turn policy files into the desired state of every tenant, collecting every problem
 * (syntax, schema, semantics) with its file, line and column. Pure: no I/O, no clock.
 */
export function loadPolicies(sources: readonly PolicySource[], opts: LoadOptions): PolicySet {
  const loading = loadPoliciesOneByOne(sources, opts);
  for (;;) {
    const step = loading.next();
    if (step.done === true) return step.value;
  }
}

/** A tenant as soon as its own file is loaded (see `loadPoliciesOneByOne`). */
export interface LoadedTenant {
  tenant: TenantConfig;
  /**
   * No error so far in the tenant's own file or in a bundle file it includes. Final only
   * once every file is loaded: a later file can still make the tenant invalid (another file
   * claiming the same tenant id, another tenant's entry problem reported in a shared bundle).
   */
  clean: boolean;
}

/**
 * `loadPolicies`, one tenant file at a time: bundles first, then each tenant file in path
 * order, yielded as soon as it is loaded so a caller can start on it (read its live state)
 * while the next files are parsed. Returns the same `PolicySet` as `loadPolicies`.
 */
export function* loadPoliciesOneByOne(
  sources: readonly PolicySource[],
  opts: LoadOptions,
): Generator<LoadedTenant, PolicySet, void> {
  const diagnostics: Diagnostic[] = [];
  const sorted = [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parse = (source: PolicySource): ParsedFile | undefined => {
    if (source.unreadable !== undefined) {
      diagnostics.push({
        file: source.path,
        line: 1,
        column: 1,
        pointer: '',
        code: source.unreadable.code,
        message: `${source.path} ${source.unreadable.message}`,
        severity: 'error',
      });
      return undefined;
    }
    const yaml = parseYamlFile(source.path, source.text);
    diagnostics.push(...yaml.diagnostics);
    if (yaml.data === undefined || (yaml.data === null && source.text.trim() === '')) {
      if (!hasErrors(yaml.diagnostics))
        diagnostics.push({
          file: source.path,
          line: 1,
          column: 1,
          pointer: '',
          code: 'FILE_EMPTY',
          message: `${source.path} is empty; a ${source.kind} file starts with '${source.kind}: ${source.name}'`,
          severity: 'error',
        });
      return undefined;
    }
    if (yaml.data === null || typeof yaml.data !== 'object' || Array.isArray(yaml.data)) {
      diagnostics.push(
        diagnosticAt(yaml, [], {
          code: 'SCHEMA_TYPE',
          message: `a ${source.kind} file must be a mapping`,
          severity: 'error',
        }),
      );
      return undefined;
    }
    const schemaDiagnostics = [
      ...opts.validator.validate(source.kind, yaml),
      ...findControlCharacters(yaml, source.text),
    ];
    diagnostics.push(...schemaDiagnostics);
    return {
      source,
      yaml,
      data: yaml.data as Record<string, unknown>,
      broken: schemaDiagnostics.map((d) => d.pointer),
      ok: !hasErrors(yaml.diagnostics) && schemaDiagnostics.length === 0,
    };
  };

  // Bundle files stay parsed (tenants' diagnostics may point into them); each tenant file
  // is parsed, resolved and dropped in turn, so memory holds one tenant's YAML at a time.
  const bundleFiles = sorted
    .filter((s) => s.kind === 'bundle')
    .map(parse)
    .filter((f): f is ParsedFile => f !== undefined);
  const files = new Map(bundleFiles.map((f) => [f.source.path, f.yaml]));
  const locate = (file: string, pointer: string, field: string): Location => {
    const yaml = files.get(file);
    const path = pointer
      .split('/')
      .slice(1)
      .map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s));
    return yaml !== undefined ? yaml.locate([...path, field]) : { file, line: 1, column: 1 };
  };
  const bundleNames = new Set(sources.filter((s) => s.kind === 'bundle').map((s) => s.name));

  const bundles = new Map<string, BundleConfig>();
  const pointerOf = createPointers();
  const factsOf = createEntryFacts();
  const valuesOf = createValueChecks();
  for (const file of bundleFiles) {
    const bundle = loadBundle(file, diagnostics, pointerOf);
    if (bundle === undefined) continue;
    const previous = bundles.get(bundle.bundle);
    if (previous !== undefined) {
      diagnostics.push(
        diagnosticAt(file.yaml, ['bundle'], {
          code: 'BUNDLE_DUPLICATE',
          message: `bundle '${bundle.bundle}' is also defined in ${previous.file}`,
          severity: 'error',
          related: { file: previous.file, line: 1, column: 1 },
        }),
      );
      continue;
    }
    bundles.set(bundle.bundle, bundle);
  }

  const tenants = new Map<string, TenantConfig>();
  const unloaded: PolicySource[] = [];
  for (const source of sorted.filter((s) => s.kind === 'tenant')) {
    const before = diagnostics.length;
    const file = parse(source);
    if (file === undefined) {
      unloaded.push(source);
      continue;
    }
    files.set(file.source.path, file.yaml);
    const tenant = loadTenant(
      file,
      { bundles, bundleNames, locate, pointerOf, factsOf, valuesOf },
      opts,
      diagnostics,
    );
    if (tenant === undefined) {
      unloaded.push(source);
      continue;
    }
    const previous = tenants.get(tenant.tenant);
    if (previous !== undefined) {
      diagnostics.push(
        diagnosticAt(file.yaml, ['tenant'], {
          code: 'TENANT_DUPLICATE',
          message: `tenant '${tenant.tenant}' is also defined in ${previous.file}`,
          severity: 'error',
          related: { file: previous.file, line: 1, column: 1 },
        }),
      );
      previous.valid = false;
      files.delete(file.source.path);
      continue;
    }
    files.delete(file.source.path);
    tenant.valid =
      file.ok &&
      !hasErrors(diagnostics.slice(before)) &&
      tenant.include.every((b) => bundles.get(b)?.valid === true);
    tenants.set(tenant.tenant, tenant);
    yield { tenant, clean: tenant.valid && !errorsIn(diagnostics, tenant, bundles) };
  }

  // A tenant file that could not be read at all still stands for its tenant (named after the
  // file), invalid: plan and apply then show it in error instead of leaving it out silently.
  for (const source of unloaded) {
    if (tenants.has(source.name) || !diagnostics.some((d) => d.file === source.path)) continue;
    tenants.set(source.name, {
      tenant: source.name,
      file: source.path,
      domains: [],
      include: [],
      ownership: 'managed',
      safety: {},
      bindings: [],
      entries: emptyDesiredEntries(),
      valid: false,
      unloaded: true,
    });
  }

  return {
    tenants: [...tenants.values()].sort((a, b) => (a.tenant < b.tenant ? -1 : 1)),
    bundles: [...bundles.values()].sort((a, b) => (a.bundle < b.bundle ? -1 : 1)),
    diagnostics: dedupe(diagnostics).sort(compareDiagnostics),
  };
}

/** Whether any error so far is in the tenant's file or a bundle file it includes. */
function errorsIn(
  diagnostics: readonly Diagnostic[],
  tenant: TenantConfig,
  bundles: ReadonlyMap<string, BundleConfig>,
): boolean {
  const files = new Set([tenant.file]);
  for (const b of tenant.include) files.add(bundles.get(b)?.file ?? `bundles/${b}`);
  return diagnostics.some((d) => d.severity === 'error' && files.has(d.file));
}

/**
 * Control characters (other than tab and newline) and bidirectional controls, which can
 * make a reviewer read a value differently from what is stored (the "Trojan Source"
 * trick), refused in every string of a policy file.
 */
const HIDDEN_CHARACTER =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function findControlCharacters(yaml: YamlFile, text: string): Diagnostic[] {
  // A value can only hold such a character if the text does, or writes it as an escape
  // (which needs a backslash): most files skip the walk over every value.
  if (yaml.noHiddenCharacters === true) return [];
  if (!HIDDEN_CHARACTER.test(text) && !text.includes('\\')) return [];
  const out: Diagnostic[] = [];
  const path: (string | number)[] = [];
  const visit = (value: unknown): void => {
    if (typeof value === 'string') {
      const m = HIDDEN_CHARACTER.exec(value);
      if (m !== null) {
        const code = (m[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
        const kind = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(m[0])
          ? 'a bidirectional control character'
          : 'a control character';
        out.push(
          diagnosticAt(yaml, path, {
            code: 'TEXT_CONTROL_CHARACTER',
            message: `text contains ${kind} (U+${code} at position ${m.index + 1}), which would show differently from what is stored; remove it`,
            severity: 'error',
          }),
        );
      }
      return;
    }
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value))
      value.forEach((v, i) => {
        path.push(i);
        visit(v);
        path.pop();
      });
    else
      for (const [k, v] of Object.entries(value)) {
        path.push(k);
        visit(v);
        path.pop();
      }
  };
  visit(yaml.data);
  return out;
}

function loadBundle(
  file: ParsedFile,
  diagnostics: Diagnostic[],
  pointerOf: PointerOf,
): BundleConfig | undefined {
  const name = typeof file.data['bundle'] === 'string' ? file.data['bundle'] : undefined;
  if (name === undefined) return undefined;
  if (name !== file.source.name) {
    diagnostics.push(
      diagnosticAt(file.yaml, ['bundle'], {
        code: 'FILE_NAME_MISMATCH',
        message: `bundle '${name}' must be in a file named ${name}.yaml (found ${file.source.name})`,
        severity: 'error',
      }),
    );
  }
  const before = diagnostics.length;
  const entries = readEntries(file, name, diagnostics, pointerOf);
  const bundle: BundleConfig = { bundle: name, file: file.source.path, entries, valid: false };
  if (typeof file.data['description'] === 'string') bundle.description = file.data['description'];
  bundle.valid = file.ok && !hasErrors(diagnostics.slice(before));
  return bundle;
}

interface TenantContext {
  bundles: ReadonlyMap<string, BundleConfig>;
  /** Names of every bundle file, including those that did not load. */
  bundleNames: ReadonlySet<string>;
  locate: (file: string, pointer: string, field: string) => Location;
  pointerOf: PointerOf;
  factsOf: EntryFactsOf;
  valuesOf: ValueChecks;
}

function loadTenant(
  file: ParsedFile,
  ctx: TenantContext,
  opts: LoadOptions,
  diagnostics: Diagnostic[],
): TenantConfig | undefined {
  const { bundles } = ctx;
  const { data, yaml } = file;
  const id = typeof data['tenant'] === 'string' ? data['tenant'] : undefined;
  if (id === undefined) return undefined;
  const error = (
    path: (string | number)[],
    code: Diagnostic['code'],
    message: string,
    extra: Partial<Diagnostic> = {},
  ): void => {
    diagnostics.push({
      ...diagnosticAt(yaml, path, { code, message, severity: 'error' }),
      ...extra,
    });
  };
  if (id !== file.source.name) {
    error(
      ['tenant'],
      'FILE_NAME_MISMATCH',
      `tenant '${id}' must be in a file named ${id}.yaml (found ${file.source.name})`,
    );
  }

  const domains: string[] = [];
  stringList(data['domains']).forEach((d, i) => {
    const r = normalizeDomain(d);
    if (r.ok) domains.push(r.value);
    else error(['domains', i], 'INVALID_DOMAIN', r.reason);
  });

  const bindings = resolveBindings(data['providers'], opts.capabilities, (path, code, message) => {
    error(path, code, message);
  });
  for (const b of bindings) {
    // A binding the schema already refused is reported once, by the schema.
    if (file.broken.some((p) => p === '/providers' || p.startsWith(`/providers/${b.name}`)))
      continue;
    const settings = b.settings as unknown as Record<string, unknown>;
    for (const v of checkBindingTrust(
      b.type,
      settings,
      opts.capabilities[b.type]?.binding,
      opts.trust ?? {},
    )) {
      // A URL that is insecure in itself (plain http beyond this machine, credentials in it)
      // is reported once, as INSECURE_URL, whatever host it names.
      const value = settings[v.field];
      if (
        v.code === 'HOST_NOT_ALLOWED' &&
        typeof value === 'string' &&
        insecureUrl(value) !== undefined
      )
        continue;
      error(
        ['providers', b.name, v.field],
        v.code,
        `binding '${b.name}' (${b.type}): ${v.message}`,
      );
    }
    for (const v of checkBindingPaths(settings))
      error(
        ['providers', b.name, v.field],
        'PATH_OUTSIDE_REPOSITORY',
        `binding '${b.name}' (${b.type}): ${v.message}`,
      );
  }

  const include = stringList(data['include']);
  include.forEach((name, i) => {
    // A bundle file that exists but did not load reports its own errors.
    if (!bundles.has(name) && !ctx.bundleNames.has(name)) {
      const known = [...ctx.bundleNames].sort();
      const hint = closest(name, known);
      const help =
        hint !== undefined
          ? ` (did you mean '${hint}'?)`
          : known.length > 0
            ? ` (known: ${known.join(', ')})`
            : ' (there are no bundles)';
      error(['include', i], 'BUNDLE_UNKNOWN', `unknown bundle '${name}'${help}`);
    }
  });

  const ownKeys: EntryKeys = new Map();
  const own = readEntries(file, undefined, diagnostics, ctx.pointerOf, ownKeys);
  const entries = mergeBundles(own, ownKeys, include, bundles, diagnostics);
  const tenant: TenantConfig = {
    tenant: id,
    file: file.source.path,
    domains,
    include,
    ownership: data['ownership'] === 'authoritative' ? 'authoritative' : 'managed',
    safety: isObject(data['safety']) ? data['safety'] : {},
    bindings,
    entries,
    valid: false,
  };
  if (typeof data['displayName'] === 'string') tenant.displayName = data['displayName'];

  for (const kind of KINDS) {
    const first = entries[kind][0];
    if (
      first !== undefined &&
      !bindings.some((b) => b.kinds.includes(kind)) &&
      !file.broken.some((p) => p.startsWith('/providers'))
    ) {
      error(
        ['providers'],
        'KIND_UNSERVED',
        `tenant has ${kind} but no provider binding serves ${kind}`,
        {
          ...(first.source.file !== file.source.path ? { related: first.source } : {}),
        },
      );
    }
  }
  diagnostics.push(...checkTenantEntries(tenant, opts.today, ctx.locate, ctx.factsOf));
  diagnostics.push(...checkProviderValues(tenant, opts.capabilities, ctx.locate, ctx.valuesOf));
  return tenant;
}

type ValueChecks = (entry: DesiredEntry, rules: readonly ValueRule[]) => ValueViolation[];

/**
 * `checkEntryValues`, worked out once per bundle entry and rule list: a bundle's entries are
 * checked for every tenant that includes it, against the same few rule lists.
 */
function createValueChecks(): ValueChecks {
  const byRules = new Map<readonly ValueRule[], (entry: DesiredEntry) => ValueViolation[]>();
  return (entry, rules) => {
    let check = byRules.get(rules);
    if (check === undefined)
      byRules.set(
        rules,
        (check = oncePerBundleEntry((e: DesiredEntry) => checkEntryValues(e.value, rules))),
      );
    return check(entry);
  };
}

/**
 * Entry values the bound provider cannot express (a spoof-only bypass on Cloudflare, a
 * recipient exemption on Mimecast, a reason longer than the vendor stores), reported at the
 * entry's own line, in the tenant file or the bundle it came from.
 */
function checkProviderValues(
  tenant: TenantConfig,
  capabilities: CapabilityTable,
  locate: (file: string, pointer: string, field: string) => Location,
  valuesOf: ValueChecks,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const binding of tenant.bindings) {
    const caps = capabilities[binding.type];
    for (const kind of binding.kinds) {
      const rules = caps?.kinds[kind]?.values;
      if (rules === undefined || rules.length === 0) continue;
      for (const entry of tenant.entries[kind] as DesiredEntry[]) {
        const violations = valuesOf(entry, rules);
        if (violations.length === 0) continue;
        for (const v of violations) {
          const via =
            entry.source.bundle !== undefined
              ? ` (bundle '${entry.source.bundle}', included by tenant '${tenant.tenant}')`
              : '';
          out.push({
            ...locate(entry.source.file, entry.source.pointer, v.field),
            pointer: `${entry.source.pointer}/${v.field}`,
            code: 'PROVIDER_VALUE_UNSUPPORTED',
            message: `${binding.type} (binding '${binding.name}') cannot store this ${kind} entry: ${v.message}: ${v.rule.why}${via}`,
            severity: 'error',
          });
        }
      }
    }
  }
  return out;
}

/**
 * A binding's `dir` is a folder inside the repository: relative, no `..` segment, no drive
 * or backslash tricks. (Symbolic links are checked where the folder is opened.)
 */
function checkBindingPaths(
  settings: Readonly<Record<string, unknown>>,
): { field: string; message: string }[] {
  const dir = settings['dir'];
  if (typeof dir !== 'string') return [];
  const segments = dir.split(/[\\/]/);
  if (/^(?:[\\/]|[a-zA-Z]:)/.test(dir) || segments.includes('..'))
    return [
      {
        field: 'dir',
        message: `dir '${dir}' must be a relative folder inside the repository (no absolute path, no '..')`,
      },
    ];
  if (segments.every((s) => s === '' || s === '.'))
    return [
      {
        field: 'dir',
        message: `dir '${dir}' is the repository root itself: state files would sit beside the repository's own files; use a folder such as .mxpolicy/sandbox`,
      },
    ];
  return [];
}

function resolveBindings(
  raw: unknown,
  capabilities: CapabilityTable,
  error: (path: (string | number)[], code: Diagnostic['code'], message: string) => void,
): ResolvedBinding[] {
  if (!isObject(raw)) return [];
  const bindings: ResolvedBinding[] = [];
  const servedBy = new Map<Kind, string>();
  for (const [name, value] of Object.entries(raw)) {
    if (!isObject(value) || typeof value['type'] !== 'string') continue;
    const caps = capabilities[value['type']];
    if (caps === undefined) continue; // the schema names the known types
    const settings = value as unknown as ProviderBinding;
    for (const [key, setting] of Object.entries(value)) {
      const problem =
        /Url$/.test(key) && typeof setting === 'string' ? insecureUrl(setting) : undefined;
      if (problem !== undefined)
        error(['providers', name, key], 'INSECURE_URL', `'${key}' of binding '${name}' ${problem}`);
    }
    const supported = servedKinds(caps, KINDS);
    const declared = Array.isArray(settings.kinds) ? settings.kinds.filter(isKind) : undefined;
    // A declared kind the provider does not serve is refused by its binding schema.
    const kinds = (declared ?? [...supported]).filter((k) => supported.includes(k));
    for (const kind of kinds) {
      const other = servedBy.get(kind);
      if (other !== undefined) {
        error(
          ['providers', name],
          'PROVIDER_KIND_OVERLAP',
          `bindings '${other}' and '${name}' both serve ${kind}; set 'kinds' so each kind has one binding`,
        );
      } else servedBy.set(kind, name);
    }
    bindings.push({ name, type: settings.type, kinds, settings });
  }
  return bindings;
}

/**
 * Why a vendor URL in a binding is unsafe, or undefined: a token must never travel in the
 * clear, so plain http is for an emulator on this machine only (the provider refuses it
 * again when it starts; finding it here means `validate` catches it, not only `plan`).
 */
function insecureUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined; // the schema's `format: uri` reports a malformed URL
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol === 'http:' && !loopback)
    return `must be https: plain http only to 127.0.0.1/localhost (an emulator), got ${url.origin}`;
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return `must be an https URL, got ${url.protocol}`;
  if (url.username !== '' || url.password !== '')
    return 'must not carry a user name or password (tokens come from the environment)';
  return undefined;
}

/**
 * `/<kind>/<index>`, one string per position for every file: each tenant file has entries
 * at the same positions, and a million entries should not mean a million pointer strings.
 */
type PointerOf = (kind: string, index: number) => string;
function createPointers(): PointerOf {
  const byKind = new Map<string, string[]>();
  return (kind, index) => {
    let list = byKind.get(kind);
    if (list === undefined) byKind.set(kind, (list = []));
    return (list[index] ??= `/${kind}/${index}`);
  };
}

/** Each kind's entries by key. */
type EntryKeys = Map<Kind, Map<string, DesiredEntry>>;

/**
 * Normalize the entries of each kind in one file; report invalid ones and duplicates. With
 * `keys`, leaves there each kind's entries by key.
 */
function readEntries(
  file: ParsedFile,
  bundle: string | undefined,
  diagnostics: Diagnostic[],
  pointerOf: PointerOf,
  keys?: EntryKeys,
): DesiredEntries {
  const entries = emptyDesiredEntries();
  for (const kind of KINDS) {
    const list = file.data[kind];
    if (!Array.isArray(list)) continue;
    const broken = brokenItems(file.broken, kind);
    if (broken === 'all') continue;
    const byKey = new Map<string, DesiredEntry>();
    keys?.set(kind, byKey);
    const target = entries[kind] as DesiredEntry[];
    for (let index = 0; index < list.length; index++) {
      if (broken.size > 0 && broken.has(index)) continue;
      const result = normalizeEntry(kind, list[index] as RawEntryOf[typeof kind]);
      if (!result.ok) {
        for (const problem of result.problems)
          diagnostics.push(
            diagnosticAt(file.yaml, [kind, index, ...problem.path], {
              code: problem.code,
              message: problem.message,
              severity: 'error',
            }),
          );
        continue;
      }
      // Each object built whole (no property added later, which costs V8 an extra backing
      // store per object): this runs once per entry, a million times in a large estate.
      const pointer = pointerOf(kind, index);
      const at = file.yaml.locateItem(kind, index);
      const source: SourceRef =
        bundle !== undefined
          ? { file: at.file, line: at.line, column: at.column, pointer, bundle }
          : { file: at.file, line: at.line, column: at.column, pointer };
      const normalized = result.entry;
      const entry = {
        kind: normalized.kind,
        key: normalized.key,
        value: normalized.value,
        source,
      } as DesiredEntry;
      const previous = byKey.get(entry.key);
      if (previous !== undefined) {
        diagnostics.push({
          ...source,
          code: 'ENTRY_DUPLICATE',
          message: `duplicate ${kind} entry '${entry.key}' (first at line ${previous.source.line})`,
          severity: 'error',
          related: {
            file: previous.source.file,
            line: previous.source.line,
            column: previous.source.column,
          },
        });
        continue;
      }
      byKey.set(entry.key, entry);
      target.push(entry);
    }
  }
  return entries;
}

/**
 * Items of the list `kind` that have schema errors (they are not interpreted further), or
 * 'all' when the list itself is broken. One pass over the pointers, so a file with
 * thousands of broken entries stays linear.
 */
function brokenItems(pointers: readonly string[], kind: string): Set<number> | 'all' {
  const items = new Set<number>();
  const prefix = `/${kind}/`;
  for (const p of pointers) {
    if (p === `/${kind}`) return 'all';
    if (!p.startsWith(prefix)) continue;
    const end = p.indexOf('/', prefix.length);
    const index = Number(p.slice(prefix.length, end < 0 ? undefined : end));
    if (Number.isInteger(index)) items.add(index);
  }
  return items;
}

/**
 * The tenant's own entries followed by those of each bundle it includes, in order, leaving
 * out (and reporting) a key already there. Builds on `own` and its keys (`ownKeys`, from
 * `readEntries`), which the caller no longer needs apart.
 */
function mergeBundles(
  own: DesiredEntries,
  ownKeys: EntryKeys,
  include: readonly string[],
  bundles: ReadonlyMap<string, BundleConfig>,
  diagnostics: Diagnostic[],
): DesiredEntries {
  if (include.length === 0) return own;
  for (const kind of KINDS) {
    let byKey = ownKeys.get(kind);
    if (byKey === undefined) ownKeys.set(kind, (byKey = new Map<string, DesiredEntry>()));
    const target = own[kind] as DesiredEntry[];
    include.forEach((name, i) => {
      // A bundle's own keys are unique: they need remembering only for a later bundle.
      const remember = i < include.length - 1;
      for (const entry of bundles.get(name)?.entries[kind] ?? []) {
        const previous = byKey.get(entry.key);
        if (previous !== undefined) {
          // Report at the tenant's own entry when there is one: that is the line to remove.
          const [here, there] =
            previous.source.bundle === undefined ? [previous, entry] : [entry, previous];
          diagnostics.push({
            ...here.source,
            code: 'ENTRY_DUPLICATE',
            message: `${kind} entry '${entry.key}' is also in ${describeSource(there)} (${there.source.file}:${there.source.line})`,
            severity: 'error',
            related: {
              file: there.source.file,
              line: there.source.line,
              column: there.source.column,
            },
          });
          continue;
        }
        if (remember) byKey.set(entry.key, entry);
        target.push(entry);
      }
    });
  }
  return own;
}

function describeSource(entry: DesiredEntry): string {
  return entry.source.bundle !== undefined ? `bundle '${entry.source.bundle}'` : 'the tenant file';
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function dedupe(diagnostics: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const id = `${d.file}|${d.line}|${d.column}|${d.code}|${d.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
