import {
  Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  stringify,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';

/**
 * Surgical edits of policy files: text in, text out, pure. `propose` and `import` write
 * entries into tenant and bundle files with it.
 *
 * The file is parsed with the `yaml` Document API only to find where things are (node
 * ranges); the edit itself splices text. So every line the edit does not touch stays byte
 * for byte as it was — comments, ordering, quoting, flow maps, blank lines — which a
 * re-serialization of the whole document does not guarantee. What changes:
 * - `add`: the new items' lines, after the list's last item (or a new list key, placed by
 *   `listOrder`); a flow-style list (`[...]`) that gets items is rewritten in block style;
 * - `remove`: the removed item's lines (a list left empty becomes `key: []`);
 * - `set`: the field's value in place, or one new line in the entry; removing a field
 *   rewrites that one entry;
 * - `addValues`: the new scalars' lines, after the list's last one (as `add`);
 * - `comment`: the comment block it owns (found by its header line), at the end of the file.
 */

export type YamlItem = Readonly<Record<string, unknown>>;

export type YamlEdit =
  /** Append items to the top-level list `list` (created when absent). */
  | { op: 'add'; list: string; items: readonly YamlItem[] }
  /** Remove the item of `list` whose key (`keyOf`) is `key`; nothing when there is none. */
  | { op: 'remove'; list: string; key: string }
  /** Set `field` of the item of `list` whose key is `key` (`value: undefined` removes it). */
  | { op: 'set'; list: string; key: string; field: string; value: unknown }
  /** Append scalars to the top-level list `list` (e.g. `include`); those present are kept once. */
  | { op: 'addValues'; list: string; values: readonly (string | number | boolean)[] }
  /**
   * Replace the comment block whose first line is `# <header>...` (it runs to the first line
   * that is not a comment) with `lines`, each written as `# <line>`, at the end of the file.
   * No lines: the block is removed. The first line should start with `header`, so that the
   * next edit finds it again.
   */
  | { op: 'comment'; header: string; lines: readonly string[] };

export interface YamlEditOptions {
  /** The diff key of an item of a list (undefined when it has none: never matched). */
  keyOf: (list: string, item: unknown) => string | undefined;
  /** Top-level keys in their usual order, so a new list lands among its siblings. */
  listOrder?: readonly string[];
}

export class YamlEditError extends Error {
  override name = 'YamlEditError';
}

export interface YamlEditResult {
  text: string;
  /** Edits that changed nothing: a remove or set whose key is not in the file, an add of items all present. */
  missed: YamlEdit[];
}

/**
 * Apply edits in order. Throws YamlEditError when the text is not a YAML mapping.
 *
 * The text is parsed once for a run of edits that touch different lists (an import's
 * include, blocked senders, exemptions... of one file): each edit becomes a splice of the
 * original text, and the splices are applied from the end. The result is the text the
 * edits give one after the other; an edit of a list the run already touches starts a new
 * run (and a new parse). `comment` edits need no parse.
 */
export function editYaml(
  text: string,
  edits: readonly YamlEdit[],
  opts: YamlEditOptions,
): YamlEditResult {
  let out = text;
  const missed: YamlEdit[] = [];
  let i = 0;
  while (i < edits.length) {
    const first = edits[i] as YamlEdit;
    if (first.op === 'comment') {
      const next = replaceCommentBlock(out, first.header, first.lines);
      if (next === undefined) missed.push(first);
      else out = next;
      i++;
      continue;
    }
    // The run: following edits of lists not yet touched in it.
    const run: Exclude<YamlEdit, { op: 'comment' }>[] = [];
    const lists = new Set<string>();
    for (; i < edits.length; i++) {
      const e = edits[i] as YamlEdit;
      if (e.op === 'comment' || lists.has(e.list)) break;
      lists.add(e.list);
      run.push(e);
    }
    const root = parseRoot(out);
    const splices: (Splice & { order: number })[] = [];
    run.forEach((edit, order) => {
      const splice = spliceOf(out, root, edit, opts);
      if (splice === undefined) missed.push(edit);
      else splices.push({ ...splice, order });
    });
    out = applySplices(out, splices);
  }
  return { text: out, missed };
}

/**
 * A change of the text: `[from, to)` replaced by `insert`. Splices of one run never overlap;
 * several may insert at one offset (lists appended after one another): `rank` orders them.
 */
interface Splice {
  from: number;
  to: number;
  insert: string;
  /** Among insertions at one offset: items appended to a list first (-1), then new lists by listOrder. */
  rank: number;
}

function applySplices(text: string, splices: (Splice & { order: number })[]): string {
  if (splices.length === 0) return text;
  // Ascending by offset, ties by rank then edit order; then joined in one pass.
  const sorted = [...splices].sort(
    (a, b) => a.from - b.from || a.rank - b.rank || a.order - b.order,
  );
  const parts: string[] = [];
  let pos = 0;
  for (const s of sorted) {
    if (s.from < pos) throw new YamlEditError('internal: overlapping edits of one file');
    parts.push(text.slice(pos, s.from));
    // A line break before an insertion at the end of a last line without one, once.
    const prev = parts.length > 0 ? lastChar(parts) : '';
    const insert = s.insert.startsWith(SEP)
      ? (prev !== '' && prev !== '\n' ? '\n' : '') + s.insert.slice(1)
      : s.insert;
    parts.push(insert);
    pos = s.to;
  }
  parts.push(text.slice(pos));
  return parts.join('');
}

/** Marks an insertion that needs a line break before it unless the text has one. */
const SEP = '\u0000';

function lastChar(parts: readonly string[]): string {
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i] ?? '';
    if (p !== '') return p[p.length - 1] ?? '';
  }
  return '';
}

/** The text of a new tenant or bundle file: schema comment, name field, optional fields. */
export function newPolicyFileText(
  kind: 'tenant' | 'bundle',
  name: string,
  fields: YamlItem = {},
): string {
  const header = `# yaml-language-server: $schema=../../schemas/${kind}.schema.json\n`;
  return header + render({ [kind]: name, ...fields });
}

// ---------------------------------------------------------------------------------------

function render(value: unknown): string {
  return (Array.isArray(value) ? renderFlatItems(value) : undefined) ?? renderAny(value);
}

function renderAny(value: unknown): string {
  return stringify(value, { lineWidth: 0, indent: 2 });
}

const PLAIN = /^[A-Za-z][A-Za-z0-9 @._/+,()-]*$/;
const KEYWORD = /^(?:true|false|null|yes|no|on|off|y|n)$/i;

/** A scalar as `stringify` writes it on one line, or undefined when it would not be one line. */
function scalarLine(v: unknown): string | undefined {
  if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return String(v);
  if (typeof v !== 'string') return undefined;
  if (PLAIN.test(v) && !KEYWORD.test(v) && !v.endsWith(' ') && !v.includes('  ')) return v;
  const s = renderAny(v).trimEnd();
  return s.includes('\n') ? undefined : s;
}

/**
 * The same text `stringify` gives for a list of flat items (scalar fields only), written
 * directly: import adds thousands of items and the generic stringifier costs ~0.2 ms each.
 * Anything else (nested values, multi-line strings): undefined, and `stringify` writes it.
 */
function renderFlatItems(items: readonly unknown[]): string | undefined {
  const out: string[] = [];
  for (const item of items) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return undefined;
    const fields = Object.entries(item as Record<string, unknown>).filter(
      ([, v]) => v !== undefined,
    );
    if (fields.length === 0) return undefined;
    let first = true;
    for (const [k, v] of fields) {
      const text = /^[A-Za-z][A-Za-z0-9]*$/.test(k) ? scalarLine(v) : undefined;
      if (text === undefined) return undefined;
      out.push(`${first ? '- ' : '  '}${k}: ${text}\n`);
      first = false;
    }
  }
  return out.join('');
}

function inline(value: unknown): string {
  return stringify(value, {
    lineWidth: 0,
    collectionStyle: 'flow',
    flowCollectionPadding: false,
  }).trimEnd();
}

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

/** Just past the newline ending the line that holds `pos` (or the end of the text). */
function lineEnd(text: string, pos: number): number {
  const i = text.indexOf('\n', pos);
  return i < 0 ? text.length : i + 1;
}

function indentLines(block: string, indent: string): string {
  return block
    .split('\n')
    .map((l) => (l === '' ? l : indent + l))
    .join('\n');
}

function parseRoot(text: string): YAMLMap {
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new YamlEditError(`not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
  if (doc.contents === null) return new Document({}).contents as YAMLMap;
  if (!isMap(doc.contents)) throw new YamlEditError('the file is not a YAML mapping');
  return doc.contents;
}

function topPair(root: YAMLMap, key: string): Pair | undefined {
  return root.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
}

function range(node: unknown): [number, number] {
  const r = (node as Node | null)?.range;
  if (!r) throw new YamlEditError('internal: a node without a source range');
  return [r[0], r[1]];
}

/** Where the item starts: its line (which begins with the indent and `- `). */
function itemLine(text: string, item: unknown): { start: number; end: number; indent: string } {
  const [from, to] = range(item);
  const start = lineStart(text, from);
  const dash = text.lastIndexOf('-', from);
  const indent = dash >= start ? text.slice(start, dash) : text.slice(start, from);
  return { start, end: lineEnd(text, Math.max(from, to - 1)), indent };
}

/** The indentation of a top-level list's items, from the file's own lists (default 2). */
function seqIndent(text: string, root: YAMLMap): string {
  for (const p of root.items) {
    if (isSeq(p.value) && p.value.flow !== true && p.value.items.length > 0)
      return itemLine(text, p.value.items[0]).indent;
  }
  return '  ';
}

function spliceOf(
  text: string,
  root: YAMLMap,
  edit: Exclude<YamlEdit, { op: 'comment' }>,
  opts: YamlEditOptions,
): Splice | undefined {
  const pair = topPair(root, edit.list);
  const seq = pair !== undefined && isSeq(pair.value) ? pair.value : undefined;
  if (pair !== undefined && seq === undefined && !isEmptyValue(pair.value))
    throw new YamlEditError(`'${edit.list}' is not a list`);

  if (edit.op === 'addValues' || edit.op === 'add') {
    // Items whose key is already in the list (or twice in the edit) are not added again.
    const keyOf =
      edit.op === 'add'
        ? (v: unknown): string | undefined => opts.keyOf(edit.list, v)
        : (v: unknown): string => JSON.stringify(v);
    const present = new Set(seq?.items.map((it) => keyOf(toJs(it))) ?? []);
    const given: readonly unknown[] = edit.op === 'add' ? edit.items : edit.values;
    const items = given.filter((it) => {
      const key = keyOf(it);
      if (key !== undefined && present.has(key)) return false;
      present.add(key);
      return true;
    });
    if (items.length === 0) return undefined;
    if (pair === undefined) return insertList(text, root, edit.list, items, opts);
    if (seq === undefined || seq.flow === true || seq.items.length === 0) {
      const existing = seq !== undefined ? seq.toJSON() : [];
      return replaceListValue(text, root, pair, [...existing, ...items]);
    }
    const last = itemLine(text, seq.items[seq.items.length - 1]);
    return {
      from: last.end,
      to: last.end,
      insert: SEP + indentLines(render(items), last.indent),
      rank: -1,
    };
  }

  if (seq === undefined || pair === undefined) return undefined;
  const index = seq.items.findIndex((it) => opts.keyOf(edit.list, toJs(it)) === edit.key);
  if (index < 0) return undefined;
  const item = seq.items[index];

  if (edit.op === 'remove') {
    if (seq.flow === true || seq.items.length === 1) {
      const rest = seq.toJSON().filter((_, i) => i !== index);
      return replaceListValue(text, root, pair, rest);
    }
    const { start, end } = itemLine(text, item);
    return { from: start, to: end, insert: '', rank: 0 };
  }

  // set
  if (!isMap(item)) throw new YamlEditError(`an item of '${edit.list}' is not a mapping`);
  const field = item.items.find((p) => isScalar(p.key) && String(p.key.value) === edit.field);
  if (item.flow !== true && edit.value !== undefined) {
    if (field !== undefined && field.value !== null) {
      const [from, to] = range(field.value);
      const value = field.value as Node;
      const block = (isMap(value) || isSeq(value)) && value.flow !== true;
      const valueEnd = block ? lineEnd(text, to - 1) - 1 : to;
      const start = block ? text.indexOf(':', range(field.key)[1]) + 1 : from;
      return {
        from: start,
        to: Math.max(valueEnd, start),
        insert: (block ? ' ' : '') + inline(edit.value),
        rank: 0,
      };
    }
    if (field === undefined) {
      const first = item.items[0];
      const column = range(first?.key ?? item)[0] - lineStart(text, range(first?.key ?? item)[0]);
      const { end } = itemLine(text, item);
      const line = `${' '.repeat(column)}${render(edit.field).trimEnd()}: ${inline(edit.value)}\n`;
      return { from: end, to: end, insert: SEP + line, rank: -1 };
    }
  }
  // A flow-style entry, or a field removed: rewrite this one entry.
  const value = Object.fromEntries(
    Object.entries(item.toJSON() as Record<string, unknown>).filter(([k]) => k !== edit.field),
  );
  if (edit.value !== undefined) value[edit.field] = edit.value;
  if (item.flow === true) {
    const [from, to] = range(item);
    return { from, to, insert: inline(value), rank: 0 };
  }
  const { start, end, indent } = itemLine(text, item);
  return { from: start, to: end, insert: indentLines(render([value]), indent), rank: 0 };
}

function toJs(node: unknown): unknown {
  return node !== null && typeof node === 'object' && 'toJSON' in node
    ? (node as { toJSON(): unknown }).toJSON()
    : node;
}

function isEmptyValue(value: unknown): boolean {
  return value === null || (isScalar(value) && (value.value === null || value.value === ''));
}

/**
 * Rewrite the value of a top-level list key: `key: []` when empty, else block style under
 * the key (the key line keeps a trailing comment).
 */
function replaceListValue(
  text: string,
  root: YAMLMap,
  pair: Pair,
  items: readonly unknown[],
): Splice {
  const keyEnd = range(pair.key)[1];
  const colon = text.indexOf(':', keyEnd);
  const valueNode = pair.value as Node | null;
  const valueRange = valueNode?.range;
  const valueEnd =
    valueRange != null && valueRange[1] > colon
      ? lineEnd(text, valueRange[1] - 1)
      : lineEnd(text, colon);
  const keyLineEnd = lineEnd(text, colon);
  const comment = /#.*$/.exec(text.slice(colon + 1, keyLineEnd).trimEnd())?.[0];
  const tail = comment !== undefined ? ` ${comment}` : '';
  const body =
    items.length === 0
      ? ` []${tail}\n`
      : `${tail}\n${indentLines(render(items), seqIndent(text, root))}`;
  return { from: colon + 1, to: Math.max(valueEnd, keyLineEnd), insert: body, rank: 0 };
}

function insertList(
  text: string,
  root: YAMLMap,
  list: string,
  items: readonly unknown[],
  opts: YamlEditOptions,
): Splice {
  const block = `${list}:\n${indentLines(render(items), seqIndent(text, root))}`;
  const order = opts.listOrder ?? [];
  const rank = order.indexOf(list);
  // Among new lists inserted at one place: in the usual order, unknown ones last.
  const tie = rank < 0 ? order.length : rank;
  const following =
    rank < 0
      ? undefined
      : root.items.find((p) => {
          const r = isScalar(p.key) ? order.indexOf(String(p.key.value)) : -1;
          return r > rank;
        });
  if (following !== undefined) {
    // Before the following key and the comment lines directly above it.
    let pos = lineStart(text, range(following.key)[0]);
    while (pos > 0) {
      const prev = lineStart(text, pos - 1);
      if (!/^\s*#/.test(text.slice(prev, pos))) break;
      pos = prev;
    }
    return { from: pos, to: pos, insert: block, rank: tie };
  }
  return { from: text.length, to: text.length, insert: SEP + block, rank: tie };
}

/**
 * The comment block starting with `# <header>`: removed, then (with lines) written at the
 * end of the file after one blank line. Every other line stays as it was.
 */
function replaceCommentBlock(
  text: string,
  header: string,
  lines: readonly string[],
): string | undefined {
  const all = text.split('\n');
  const start = all.findIndex((l) => l.startsWith(`# ${header}`));
  let rest = all;
  if (start >= 0) {
    let end = start + 1;
    while (end < all.length && /^#/.test(all[end] ?? '')) end++;
    const from = start > 0 && all[start - 1] === '' ? start - 1 : start;
    rest = [...all.slice(0, from), ...all.slice(end)];
  }
  let out = rest.join('\n');
  if (lines.length > 0) {
    if (out !== '' && !out.endsWith('\n')) out += '\n';
    out += `${out === '' ? '' : '\n'}${lines.map((l) => `# ${l}`.trimEnd()).join('\n')}\n`;
  }
  return out === text ? undefined : out;
}
