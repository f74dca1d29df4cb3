import jsyaml from 'js-yaml';
import { createRequire } from 'node:module';
import type { Document, Node } from 'yaml';
import type * as YamlLibrary from 'yaml';
import type { Diagnostic, Location } from './diagnostics.js';
import { toPointer } from './diagnostics.js';

/**
 * The `yaml` library, loaded the first time a precise position or a refused file needs it:
 * a run whose files are all correct never loads it (about 30 ms of start-up that would delay
 * a plan's first request). Loaded synchronously, so that parsing stays synchronous. In the
 * action bundle `require` exists and esbuild bundles `require('yaml')`; in the compiled
 * ESM, Node's own require of this module's folder finds the same package.
 */
const requireHere = createRequire(import.meta.url);
function yamlLibrary(): typeof YamlLibrary {
  return typeof require === 'function'
    ? // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy and bundlable (above)
      (require('yaml') as typeof YamlLibrary)
    : (requireHere('yaml') as typeof YamlLibrary);
}

export type PathSegment = string | number;

/** A parsed YAML file that can say where any value in it is. */
export interface YamlFile {
  file: string;
  /** The plain data, or undefined when the file did not parse. */
  data: unknown;
  diagnostics: Diagnostic[];
  /** Position of the value at `path`; with `key: true`, of the map key naming it. */
  locate(path: readonly PathSegment[], opts?: { key?: boolean }): Location;
  /** Position of item `index` of the top-level list `key` (cheap: recorded while parsing). */
  locateItem(key: string, index: number): Location;
}

/**
 * Parse a policy file. Two parsers, for speed with exact positions:
 * - the fast path reads the data with js-yaml (about 20x faster than composing a `yaml`
 *   Document on large files) and records where each item of a top-level list starts;
 * - the `yaml` library's Document, built only when a precise position is asked for (a
 *   problem to report) or when js-yaml refuses the file, gives every error with its line
 *   and column, including all duplicate keys, not only the first.
 */
export function parseYamlFile(file: string, text: string): YamlFile {
  const lines = lineStarts(text);
  const at = (offset: number): Location => {
    let lo = 0;
    let hi = lines.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((lines[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file, line: lo + 1, column: offset - (lines[lo] ?? 0) + 1 };
  };

  let precise: { doc: Document; diagnostics: Diagnostic[] } | undefined;
  const preciseDocument = (): { doc: Document; diagnostics: Diagnostic[] } => {
    precise ??= parsePrecisely(text, at);
    return precise;
  };

  const items = new Map<string, number[]>();
  let data: unknown;
  let diagnostics: Diagnostic[] = [];
  try {
    data = jsyaml.load(text, {
      schema: jsyaml.CORE_SCHEMA,
      filename: file,
      listener: recordItems(items, text),
    });
  } catch (err) {
    const { doc, diagnostics: found } = preciseDocument();
    diagnostics = found;
    if (found.every((d) => d.severity !== 'error')) {
      // The two parsers disagree: report js-yaml's own reason at its own mark.
      const mark = (err as { mark?: { position?: number } }).mark;
      diagnostics.push({
        ...at(mark?.position ?? 0),
        pointer: '',
        code: 'YAML_SYNTAX',
        message: firstLine((err as { reason?: string }).reason ?? String(err)),
        severity: 'error',
      });
    }
    // Duplicate keys are reported, but the rest of the file is still worth checking.
    try {
      data = diagnostics.every((d) => d.severity !== 'error' || d.code === 'YAML_DUPLICATE_KEY')
        ? doc.toJS({ maxAliasCount: 100 })
        : undefined;
    } catch {
      // `yaml` refuses an alias that expands to too much ("Excessive alias count").
      data = tooManyAliases;
    }
    items.clear();
  }
  // Without a '*' the file has no alias, so nothing can expand (skips a walk of large files).
  const expanded =
    data === tooManyAliases
      ? { unique: 0, limit: 0 }
      : text.includes('*')
        ? aliasExpansion(data)
        : undefined;
  if (expanded !== undefined) {
    const alias = /(?:^|[\s[{,:-])\*[^\s,\]}]+/m.exec(text);
    const bound =
      expanded.limit > 0
        ? ` to more than ${expanded.limit.toLocaleString('en-US')} values (${expanded.unique.toLocaleString('en-US')} written)`
        : '';
    data = undefined;
    diagnostics = [
      {
        ...at(alias !== null ? alias.index + alias[0].indexOf('*') : 0),
        pointer: '',
        code: 'YAML_ALIAS_LIMIT',
        message: `YAML aliases (*name) expand this file${bound}; refused as a resource-exhaustion guard: write the values out instead of repeating anchors`,
        severity: 'error',
      },
    ];
  }

  const locate = (path: readonly PathSegment[], opts: { key?: boolean } = {}): Location => {
    let node: unknown = preciseDocument().doc.contents;
    const { isMap, isPair, isScalar, isSeq } = yamlLibrary();
    let keyNode: unknown;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
        );
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined) break;
        keyNode = item;
        node = item;
      } else break;
    }
    const target = (opts.key === true ? keyNode : node) ?? node;
    return at((target as Node | null)?.range?.[0] ?? 0);
  };

  const locateItem = (key: string, index: number): Location => {
    const offset = items.get(key)?.[index];
    return offset !== undefined ? at(offset) : locate([key, index]);
  };

  return { file, data, diagnostics, locate, locateItem };
}

const tooManyAliases = Symbol('too many aliases');

/** Aliases may add at most this many values beyond those written, plus ALIAS_FACTOR x those. */
const ALIAS_ALLOWANCE = 10_000;
const ALIAS_FACTOR = 10;

/**
 * js-yaml shares the value of an anchor between its aliases, so a small file can stand for
 * millions of values that anything walking the data (schema checks, normalization) visits
 * one by one. Counts the expanded size in one pass over the shared graph (each object's
 * subtree size is computed once) and returns the limit it exceeds, or undefined.
 */
function aliasExpansion(data: unknown): { unique: number; limit: number } | undefined {
  const size = new Map<object, number>();
  let unique = 0;
  const visit = (value: unknown): number => {
    unique++;
    if (value === null || typeof value !== 'object') return 1;
    const known = size.get(value);
    if (known !== undefined) return known;
    size.set(value, 1); // a cycle (not produced by js-yaml) counts once
    let total = 1;
    for (const child of Array.isArray(value) ? value : Object.values(value)) total += visit(child);
    size.set(value, total);
    return total;
  };
  const expanded = visit(data);
  const limit = ALIAS_FACTOR * unique + ALIAS_ALLOWANCE;
  return expanded > limit ? { unique, limit } : undefined;
}

/** js-yaml listener: the start offset of each item of each top-level list. */
function recordItems(
  items: Map<string, number[]>,
  text: string,
): (event: jsyaml.EventType, state: jsyaml.State) => void {
  // Depth 1 is the document's root mapping, depth 2 its keys and values (alternating),
  // depth 3 the items of a value that is a list.
  let closedAtDepth2 = 0;
  let openIndex = -1;
  let lastKey: string | undefined;
  return (event, state) => {
    const depth = (state as jsyaml.State & { depth: number }).depth;
    if (event === 'open') {
      if (depth === 2) openIndex = closedAtDepth2;
      else if (depth === 3 && openIndex % 2 === 1 && lastKey !== undefined) {
        let p = state.position;
        while (p < text.length && /\s/.test(text[p] ?? '')) p++;
        let list = items.get(lastKey);
        if (list === undefined) items.set(lastKey, (list = []));
        list.push(p);
      }
    } else if (depth === 2) {
      if (closedAtDepth2 % 2 === 0) lastKey = String(state.result);
      closedAtDepth2++;
    }
  };
}

function parsePrecisely(
  text: string,
  at: (offset: number) => Location,
): { doc: Document; diagnostics: Diagnostic[] } {
  const { LineCounter, parseDocument } = yamlLibrary();
  const doc = parseDocument(text, {
    lineCounter: new LineCounter(),
    uniqueKeys: true,
    prettyErrors: false,
  });
  const diagnostics: Diagnostic[] = [];
  for (const err of doc.errors) {
    const duplicate = err.code === 'DUPLICATE_KEY';
    diagnostics.push({
      ...at(err.pos[0]),
      pointer: '',
      code: duplicate ? 'YAML_DUPLICATE_KEY' : 'YAML_SYNTAX',
      message: duplicate
        ? 'duplicate key in a mapping (YAML keys must be unique)'
        : firstLine(err.message),
      severity: 'error',
    });
  }
  for (const warn of doc.warnings)
    diagnostics.push({
      ...at(warn.pos[0]),
      pointer: '',
      code: 'YAML_SYNTAX',
      message: firstLine(warn.message),
      severity: 'warning',
    });
  return { doc, diagnostics };
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** A diagnostic at a path of a parsed file. */
export function diagnosticAt(
  yaml: YamlFile,
  path: readonly PathSegment[],
  d: Omit<Diagnostic, 'file' | 'line' | 'column' | 'pointer'>,
  opts?: { key?: boolean },
): Diagnostic {
  return { ...yaml.locate(path, opts), pointer: toPointer(path), ...d };
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}
