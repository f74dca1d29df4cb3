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
  /**
   * Set when no value can hold a control or bidirectional character: the text has none and
   * was read without escapes (the simple reader).
   */
  noHiddenCharacters?: true;
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
  let noHiddenCharacters = false;
  let data: unknown;
  let diagnostics: Diagnostic[] = [];
  try {
    const simple = readSimpleYaml(text, items);
    noHiddenCharacters = simple !== NOT_SIMPLE;
    data =
      simple !== NOT_SIMPLE
        ? simple
        : jsyaml.load(text, {
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

  return noHiddenCharacters
    ? { file, data, diagnostics, locate, locateItem, noHiddenCharacters }
    : { file, data, diagnostics, locate, locateItem };
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
export function recordItems(
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

/** `readSimpleYaml`'s answer for a text outside the subset it reads. */
export const NOT_SIMPLE: unique symbol = Symbol('not simple YAML');

/**
 * js-yaml's implicit scalar types of the core schema (null, bool, int, float), in its order
 * (an internal of js-yaml: if a version no longer has it, every text goes to js-yaml).
 */
const IMPLICIT_TYPES = (
  jsyaml.CORE_SCHEMA as unknown as {
    compiledImplicit?: { resolve(data: string): boolean; construct(data: string): unknown }[];
  }
).compiledImplicit;

/**
 * Characters the simple reader leaves to js-yaml: controls, tabs, CR, Unicode spaces,
 * surrogates, and the bidirectional controls that `TEXT_CONTROL_CHARACTER` is about.
 */
const UNUSUAL_CHARACTER =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ud800-\udfff\ufeff\ufffe\uffff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Whether a plain scalar may be other than a string: each implicit type of the core schema
 * starts with one of `~nN` (null), `tTfF` (bool), a sign, a digit or `.` (int, float).
 */
export function mayBeTyped(value: string): boolean {
  const c = value.charCodeAt(0);
  return (
    value.length === 0 ||
    (c >= 48 && c <= 57) || // 0-9
    c === 43 || // +
    c === 45 || // -
    c === 46 || // .
    c === 126 || // ~
    c === 110 || // n
    c === 78 || // N
    c === 116 || // t
    c === 84 || // T
    c === 102 || // f
    c === 70 // F
  );
}
const FLOW_ITEM = /^[A-Za-z0-9_.@][A-Za-z0-9_.@+-]*$/;

/**
 * The data of a policy file written in the plain block style that people and `yaml`'s
 * stringify write (mappings of simple keys, `- ` lists, one-line plain or quoted scalars
 * without escapes, one-line lists and mappings of plain words, whole-line comments), several times
 * faster than js-yaml; NOT_SIMPLE for anything else (anchors, tags, escapes, block or
 * multi-line scalars, flow mappings, documents, unusual characters, a duplicate key...),
 * which js-yaml then reads. Within the subset, the data is js-yaml's with the core schema
 * (its own implicit types resolve plain scalars) and `items` gets the offsets `recordItems`
 * records for the items of each top-level list (a property test compares both).
 */
export function readSimpleYaml(
  text: string,
  items: Map<string, number[]>,
): Record<string, unknown> | typeof NOT_SIMPLE {
  if (IMPLICIT_TYPES?.length !== 4 || UNUSUAL_CHARACTER.test(text)) return NOT_SIMPLE;
  const length = text.length;
  // The current content line: where it starts, its indentation, where its text ends.
  let lineStart = 0;
  let indent = 0;
  let content = 0;
  let end = 0;
  let next = 0; // start of the line after the current one
  let atEnd = false;
  const found = new Map<string, number[]>();
  // js-yaml refuses nesting beyond 100 nodes: far deeper than any policy file.
  let depth = 0;

  /** Move to the next line that is neither blank nor a comment (atEnd when none is left). */
  const advance = (): boolean => {
    for (;;) {
      if (next >= length) {
        atEnd = true;
        return true;
      }
      lineStart = next;
      const nl = text.indexOf('\n', lineStart);
      end = nl < 0 ? length : nl;
      next = nl < 0 ? length : nl + 1;
      let p = lineStart;
      while (p < end && text.charCodeAt(p) === 32) p++;
      if (p === end) continue;
      const ch = text.charCodeAt(p);
      if (ch === 35 /* # */) continue;
      // A document marker or directive at the start of a line: js-yaml's business.
      if (
        p === lineStart &&
        (ch === 37 /* % */ || text.startsWith('---', p) || text.startsWith('...', p))
      )
        return false;
      indent = p - lineStart;
      content = p;
      return true;
    }
  };

  /** The end of the key at `p` when the line there reads `key:` or `key: ...`, else -1. */
  const keyEnd = (p: number): number => {
    const colon = text.indexOf(':', p);
    if (colon < 0 || colon >= end) return -1;
    const after = colon + 1;
    if (after < end && text.charCodeAt(after) !== 32) return -1;
    return colon;
  };

  const plain = (value: string): unknown => {
    if (!mayBeTyped(value)) return value;
    for (const type of IMPLICIT_TYPES) if (type.resolve(value)) return type.construct(value);
    return value;
  };

  // The keys met so far (checked once each): a file repeats a few keys thousands of times.
  const keys: string[] = [];
  const keyAt = (from: number, to: number): string | undefined => {
    for (const known of keys)
      if (known.length === to - from && text.startsWith(known, from)) return known;
    const key = text.slice(from, to);
    if (!KEY.test(key) || key === '__proto__' || plain(key) !== key) return undefined;
    if (keys.length < 32) keys.push(key);
    return key;
  };

  /** A scalar or one-line list from `p` to the end of the line; NOT_SIMPLE otherwise. */
  const inlineValue = (p: number, record: number[] | undefined): unknown => {
    const ch = text.charCodeAt(p);
    if (ch === 34 /* " */ || ch === 39 /* ' */) {
      const close = text.indexOf(ch === 34 ? '"' : "'", p + 1);
      if (close < 0 || close >= end) return NOT_SIMPLE;
      const value = text.slice(p + 1, close);
      if (ch === 34 && value.includes('\\')) return NOT_SIMPLE;
      for (let q = close + 1; q < end; q++) if (text.charCodeAt(q) !== 32) return NOT_SIMPLE;
      return value;
    }
    if (ch === 91 /* [ */) return flowList(p, record);
    if (ch === 123 /* { */) return flowMapping(p);
    // Indicators: what they start is not a plain scalar, or not a simple one.
    if ('-?:,]{}#&*!|>%@`'.includes(text[p] ?? '')) return NOT_SIMPLE;
    let last = end;
    while (text.charCodeAt(last - 1) === 32) last--;
    const value = text.slice(p, last);
    if (value.includes(': ') || value.endsWith(':') || value.includes(' #')) return NOT_SIMPLE;
    return plain(value);
  };

  /**
   * The items of `[...]` or `{...}` on one line, from `p` (the opening bracket) to `close`:
   * `item(q, last)` reads the item at `q` and gives where it ends, or -1 when it is not
   * simple; between items, only `,` and spaces. False when anything else is there.
   */
  const flowItems = (
    p: number,
    close: number,
    item: (q: number, last: number) => number,
  ): boolean => {
    let last = end;
    while (text.charCodeAt(last - 1) === 32) last--;
    if (text.charCodeAt(last - 1) !== close) return false;
    let q = p + 1;
    while (text.charCodeAt(q) === 32) q++;
    if (q === last - 1) return true;
    for (;;) {
      q = item(q, last);
      if (q < 0) return false;
      while (text.charCodeAt(q) === 32) q++;
      if (q === last - 1) return true;
      if (text.charCodeAt(q) !== 44 /* , */) return false;
      q++;
      while (text.charCodeAt(q) === 32) q++;
      if (q >= last - 1) return false;
    }
  };

  /** The end of the plain word at `q` (up to a space or ','), or -1 when it is not one. */
  const wordEnd = (q: number, last: number): number => {
    let stop = q;
    while (stop < last - 1 && !' ,'.includes(text[stop] ?? '')) stop++;
    return FLOW_ITEM.test(text.slice(q, stop)) ? stop : -1;
  };

  /** `[a, b]` of plain words on one line. */
  const flowList = (p: number, record: number[] | undefined): unknown => {
    const list: unknown[] = [];
    const simple = flowItems(p, 93 /* ] */, (q, last) => {
      const stop = wordEnd(q, last);
      if (stop < 0) return -1;
      record?.push(q);
      list.push(plain(text.slice(q, stop)));
      return stop;
    });
    return simple ? list : NOT_SIMPLE;
  };

  /** `{ key: word, ... }` on one line (`{ type: sandbox }`). */
  const flowMapping = (p: number): unknown => {
    const object: Record<string, unknown> = {};
    const simple = flowItems(p, 125 /* } */, (q, last) => {
      const colon = text.indexOf(':', q);
      if (colon < 0 || colon >= last - 1 || text.charCodeAt(colon + 1) !== 32) return -1;
      const key = keyAt(q, colon);
      if (key === undefined || Object.hasOwn(object, key)) return -1;
      let w = colon + 1;
      while (text.charCodeAt(w) === 32) w++;
      const stop = wordEnd(w, last);
      if (stop < 0) return -1;
      object[key] = plain(text.slice(w, stop));
      return stop;
    });
    return simple ? object : NOT_SIMPLE;
  };

  /** The value after `key:` at the end of a line: a nested block, or null. */
  const nestedValue = (parent: number, record: number[] | undefined): unknown => {
    if (!advance()) return NOT_SIMPLE;
    if (atEnd || indent < parent) return null;
    const dash = text.charCodeAt(content) === 45; /* - */
    if (indent === parent) return dash ? sequence(indent, record) : null;
    return dash ? sequence(indent, record) : mapping(indent, false);
  };

  /** A block mapping whose keys are at column `at` (the current line holds its first key). */
  const mapping = (at: number, root: boolean): unknown => {
    if (++depth > 32) return NOT_SIMPLE;
    const object: Record<string, unknown> = {};
    for (;;) {
      if (atEnd || indent < at) {
        depth--;
        return object;
      }
      if (indent > at) return NOT_SIMPLE;
      const colon = keyEnd(content);
      if (colon < 0) return NOT_SIMPLE;
      const key = keyAt(content, colon);
      if (key === undefined || Object.hasOwn(object, key)) return NOT_SIMPLE;
      let p = colon + 1;
      while (p < end && text.charCodeAt(p) === 32) p++;
      let record: number[] | undefined;
      if (root) found.set(key, (record = []));
      let value: unknown;
      if (p === end) value = nestedValue(at, record);
      else {
        value = inlineValue(p, record);
        if (value !== NOT_SIMPLE && !advance()) return NOT_SIMPLE;
      }
      if (value === NOT_SIMPLE) return NOT_SIMPLE;
      if (root && !Array.isArray(value)) found.delete(key);
      object[key] = value;
    }
  };

  /** A block sequence whose dashes are at column `at` (the current line holds the first). */
  const sequence = (at: number, record: number[] | undefined): unknown => {
    if (++depth > 32) return NOT_SIMPLE;
    const list: unknown[] = [];
    for (;;) {
      if (atEnd || indent < at) {
        depth--;
        return list;
      }
      if (indent > at) return NOT_SIMPLE;
      // Not an item: the next key of a mapping whose list sits at the key's own column.
      if (text.charCodeAt(content) !== 45 /* - */) {
        depth--;
        return list;
      }
      const item = content + 2;
      if (text.charCodeAt(content + 1) !== 32 || item >= end || text.charCodeAt(item) === 32)
        return NOT_SIMPLE;
      record?.push(item);
      let value: unknown;
      if (keyEnd(item) >= 0) {
        // `- key: ...`: a mapping whose keys are at the item's column.
        indent = item - lineStart;
        content = item;
        value = mapping(indent, false);
      } else {
        value = inlineValue(item, undefined);
        if (value !== NOT_SIMPLE && !advance()) return NOT_SIMPLE;
      }
      if (value === NOT_SIMPLE) return NOT_SIMPLE;
      list.push(value);
    }
  };

  const empty = (): boolean => atEnd;
  if (!advance() || empty() || indent !== 0) return NOT_SIMPLE;
  const data = mapping(0, true);
  if (data === NOT_SIMPLE) return NOT_SIMPLE;
  for (const [key, offsets] of found) items.set(key, offsets);
  return data as Record<string, unknown>;
}
