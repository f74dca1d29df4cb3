import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { Diagnostic, Location } from './diagnostics.js';
import { toPointer } from './diagnostics.js';

export type PathSegment = string | number;

/** A parsed YAML file that can say where any value in it is. */
export interface YamlFile {
  file: string;
  /** The plain data, or undefined when the file did not parse. */
  data: unknown;
  diagnostics: Diagnostic[];
  /** Position of the value at `path`; with `key: true`, of the map key naming it. */
  locate(path: readonly PathSegment[], opts?: { key?: boolean }): Location;
}

export function parseYamlFile(file: string, text: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    keepSourceTokens: false,
  });
  const at = (offset: number): Location => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
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
  for (const warn of doc.warnings) {
    diagnostics.push({
      ...at(warn.pos[0]),
      pointer: '',
      code: 'YAML_SYNTAX',
      message: firstLine(warn.message),
      severity: 'warning',
    });
  }
  // Duplicate keys are reported, but the rest of the file is still worth checking.
  const ok = doc.errors.every((e) => e.code === 'DUPLICATE_KEY');
  const data: unknown = ok ? doc.toJS({ maxAliasCount: 100 }) : undefined;

  const locate = (path: readonly PathSegment[], opts: { key?: boolean } = {}): Location => {
    let node: unknown = doc.contents;
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
    const range = (target as Node | null)?.range;
    return at(range?.[0] ?? 0);
  };
  return { file, data, diagnostics, locate };
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
