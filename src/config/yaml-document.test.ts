import fc from 'fast-check';
import jsyaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  mayBeTyped,
  NOT_SIMPLE,
  parseYamlFile,
  readSimpleYaml,
  recordItems,
} from './yaml-document.js';

/** Every detail of a value: types, key order, -0, NaN (JSON.stringify would blur some). */
function show(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(show).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .map((k) => `${JSON.stringify(k)}:${show((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  if (typeof value === 'number') return Object.is(value, -0) ? 'num:-0' : `num:${String(value)}`;
  if (value === undefined) return 'undefined';
  return `${typeof value}:${JSON.stringify(value)}`;
}

/** js-yaml's reading of a text (the reference), with the item offsets its listener records. */
function reference(text: string): { data: unknown; items: Map<string, number[]> } | 'throws' {
  const items = new Map<string, number[]>();
  try {
    const data = jsyaml.load(text, {
      schema: jsyaml.CORE_SCHEMA,
      listener: recordItems(items, text),
    });
    return { data, items };
  } catch {
    return 'throws';
  }
}

/** When the simple reader reads a text, it reads what js-yaml reads; returns whether it did. */
function agrees(text: string): boolean {
  const items = new Map<string, number[]>();
  const simple = readSimpleYaml(text, items);
  if (simple === NOT_SIMPLE) return false;
  const ref = reference(text);
  expect(ref, text).not.toBe('throws');
  if (ref === 'throws') return true;
  expect(show(simple), text).toBe(show(ref.data));
  for (const [key, value] of Object.entries(simple))
    if (Array.isArray(value) && value.length > 0)
      expect(items.get(key), `${text}\nitems of ${key}`).toEqual(ref.items.get(key));
  return true;
}

// Scalars as they may be written, many of them outside the simple subset on purpose.
/** Values policy files hold, in both sets below. */
const COMMON_SCALARS = [
  'plain',
  'two words',
  'acme.com',
  'ceo@lookalike.example',
  '203.0.113.0/24',
  '2001:db8::/32',
];
const wildScalar = fc.constantFrom(
  ...COMMON_SCALARS,
  'http://127.0.0.1:8080/x',
  'a:b',
  'a: b',
  'a :b',
  'ends:',
  'a #b',
  'a#b',
  '#x',
  'true',
  'True',
  'TRUE',
  'false',
  'yes',
  'no',
  'on',
  'null',
  'Null',
  '~',
  '0',
  '25',
  '-1',
  '+1',
  '0x1F',
  '0o17',
  '017',
  '1_000',
  '1.5',
  '1e3',
  '.inf',
  '-.inf',
  '.nan',
  '.5',
  '2026-01-01',
  '2026-01-01T00:00:00Z',
  '"quoted"',
  '"a: b # c"',
  '"with \\" escape"',
  '"back\\\\slash"',
  '"unterminated',
  "'single'",
  "'it''s'",
  "''",
  '""',
  '[]',
  '[a, b]',
  '[a,b]',
  '[ a , b ]',
  '[1, true, null]',
  '[a, b,]',
  '["a", b]',
  '[a, [b]]',
  '{a: 1}',
  '{a:1}',
  '{a: 1,}',
  '{a: 1, a: 2}',
  '{a: [1]}',
  '{"a": 1}',
  '{a: b c}',
  '{a: b, c}',
  '{true: 1}',
  '{a: }',
  '{ a: 1 } x',
  '&anchor x',
  '*alias',
  '!tag x',
  '|',
  '>',
  '-',
  '- x',
  '-x',
  '?x',
  ':x',
  '%x',
  '@x',
  '`x',
  'ü unicode',
  'a\\b',
  'a "q" b',
  "a 'q' b",
  'trailing   ',
  '',
  'x'.repeat(40),
);
// Most texts should be within the subset, so that the comparison bites.
const tameScalar = fc.constantFrom(
  ...COMMON_SCALARS,
  'a:b',
  'a#b',
  'true',
  'False',
  'null',
  '~',
  '25',
  '0x1F',
  '1.5',
  '.inf',
  '2026-01-01',
  '"quoted"',
  '"a: b # c"',
  "'single'",
  '[]',
  '[a, b]',
  '[ a , b ]',
  '[1, true, null]',
  '{}',
  '{ type: sandbox }',
  '{a: 1, b: x.y}',
  '{ maxDeletes: 100000, maxDeletePercent: 100 }',
  'ü unicode',
  'trailing   ',
);
const scalarText = fc.oneof(
  { arbitrary: tameScalar, weight: 8 },
  { arbitrary: wildScalar, weight: 1 },
);
const tameKey = fc.constantFrom(
  'tenant',
  'sender',
  'reason',
  'reasons',
  'blockedSenders',
  'a',
  'a-b',
  '_x',
);
const wildKey = fc.constantFrom(
  'tenant',
  'sender',
  'reason',
  'blockedSenders',
  'domains',
  'a-b',
  'a_b',
  '_x',
  'true',
  'null',
  'Null',
  'TRUE',
  'False',
  '1',
  '__proto__',
  'two words',
  '"q"',
  'k:',
  'x',
);
const key = fc.oneof({ arbitrary: tameKey, weight: 12 }, { arbitrary: wildKey, weight: 1 });

type Node = { scalar: string } | { list: Node[] } | { map: [string, Node][] };
const node: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarText.map((scalar) => ({ scalar })),
    fc.array(tie('node'), { maxLength: 3 }).map((list) => ({ list })),
    fc.array(fc.tuple(key, tie('node')), { maxLength: 3 }).map((map) => ({ map })),
  ),
})).node;

interface Style {
  step: number;
  compact: boolean;
  comments: boolean;
  blank: boolean;
  stray: boolean;
}

/** Block-style text of a node, with its own quirks (indentation, compact lists, comments). */
function render(n: Node, indent: number, style: Style, r: () => number): string[] {
  const pad = ' '.repeat(indent);
  const extra = (): string[] => [
    ...(style.comments && r() < 0.2 ? [`${' '.repeat(Math.floor(r() * 8))}# note: x`] : []),
    ...(style.blank && r() < 0.2 ? [' '.repeat(Math.floor(r() * 6))] : []),
    // A line at any indentation: a continuation, a stray key or item, bad indentation.
    ...(style.stray && r() < 0.15
      ? [
          `${' '.repeat(Math.floor(r() * 8))}${['more words', 'k: v', '- item', 'x:'][Math.floor(r() * 4)] ?? ''}`,
        ]
      : []),
  ];
  if ('map' in n) {
    const out: string[] = [];
    for (const [k, v] of n.map) {
      out.push(...extra());
      if ('scalar' in v) out.push(`${pad}${k}: ${v.scalar}`);
      else if ('list' in v && v.list.length > 0 && style.compact)
        out.push(`${pad}${k}:`, ...render(v, indent, style, r));
      else out.push(`${pad}${k}:`, ...render(v, indent + style.step, style, r));
    }
    return out;
  }
  if ('list' in n) {
    const out: string[] = [];
    for (const item of n.list) {
      out.push(...extra());
      if ('scalar' in item) out.push(`${pad}- ${item.scalar}`);
      else {
        const inner = render(item, indent + 2, style, r);
        const first = inner[0];
        if (first === undefined || !first.startsWith(' '.repeat(indent + 2)) || first.trim() === '')
          out.push(`${pad}-`, ...inner);
        else out.push(`${pad}- ${first.slice(indent + 2)}`, ...inner.slice(1));
      }
    }
    return out;
  }
  return [`${pad}${n.scalar}`];
}

describe('readSimpleYaml', () => {
  it('leaves as a string only what no implicit type of the core schema resolves', () => {
    const types = (
      jsyaml.CORE_SCHEMA as unknown as { compiledImplicit: { resolve(s: string): boolean }[] }
    ).compiledImplicit;
    expect(types).toHaveLength(4);
    const text = fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.stringMatching(/^[-+.~0-9a-zA-Z_]{0,6}$/),
      fc.constantFrom(
        '~',
        'null',
        'NULL',
        'true',
        'False',
        '.inf',
        '-.Inf',
        '.NaN',
        '0x1f',
        '+0o7',
      ),
    );
    fc.assert(
      fc.property(text, (s) => {
        if (!mayBeTyped(s)) for (const t of types) expect(t.resolve(s), s).toBe(false);
      }),
      { numRuns: 20_000 },
    );
  });

  it('reads what js-yaml reads, item offsets included, or leaves the text to js-yaml', () => {
    let simple = 0;
    let total = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(key, node), { minLength: 1, maxLength: 5 }),
        fc.record({
          step: fc.integer({ min: 1, max: 4 }),
          compact: fc.boolean(),
          comments: fc.boolean(),
          blank: fc.boolean(),
          stray: fc.boolean(),
        }),
        fc.integer(),
        fc.boolean(),
        (pairs, style, seed, finalNewline) => {
          let s = seed;
          const r = (): number => ((s = (s * 1103515245 + 12345) >>> 0), s / 2 ** 32);
          const lines = render({ map: pairs }, 0, style, r);
          const text = lines.join('\n') + (finalNewline ? '\n' : '');
          total++;
          if (agrees(text)) simple++;
        },
      ),
      { numRuns: 10_000 },
    );
    // The comparison means something only if many texts were within the subset.
    expect(simple / total).toBeGreaterThan(0.1);
  });

  it("reads yaml's own stringify output of policy-like data, as js-yaml does", () => {
    const entry = fc.record(
      {
        sender: fc.oneof(scalarText, fc.string(), fc.string({ unit: 'binary', maxLength: 8 })),
        reason: fc.oneof(scalarText, fc.string()),
        verifySender: fc.boolean(),
        port: fc.integer(),
        ratio: fc.double(),
        expires: fc.constantFrom('2026-01-01', null),
      },
      { requiredKeys: ['sender'] },
    );
    fc.assert(
      fc.property(
        fc.record({
          tenant: scalarText,
          domains: fc.array(scalarText, { maxLength: 3 }),
          blockedSenders: fc.array(entry, { maxLength: 5 }),
          providers: fc.dictionary(fc.string({ maxLength: 4 }), fc.dictionary(key, scalarText)),
        }),
        fc.boolean(),
        (doc, flow) => {
          agrees(stringify(doc, flow ? { collectionStyle: 'flow' } : {}));
          agrees(stringify(doc, { indentSeq: false }));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('takes the common shapes itself (the point of it) and leaves the rest', () => {
    const common = [
      '# yaml-language-server: $schema=../../schemas/tenant.schema.json',
      'tenant: acme',
      'providers:',
      '  gw:',
      '    type: cloudflare',
      '    baseUrl: http://127.0.0.1:9/client/v4',
      '  sb: { type: sandbox }',
      'domains: [acme.com, acme-usa.com]',
      'include:',
      '- baseline',
      'blockedSenders:',
      '  - sender: w2@acme-payroll.net',
      '    reason: "invoice fraud, report #4"',
      '',
      '  # a comment between items',
      '  - sender: 203.0.113.0/24',
      "    reason: 'range'",
      '    expires: 2026-01-01',
      'routes:',
      '  - domain: acme.com',
      '    port: 2525',
      '    requireTls: true',
      '',
    ].join('\n');
    expect(agrees(common)).toBe(true);
    for (const text of [
      'a: &x 1\nb: *x\n',
      'a: |\n  text\n',
      'a: "esc\\n"\n',
      '---\na: 1\n',
      'a: 1\na: 2\n',
      'a: b # comment\n',
      'a:\n\tb: 1\n',
      'a: multi\n  line\n',
      '{a: 1}\n',
      '',
    ])
      expect(readSimpleYaml(text, new Map()), text).toBe(NOT_SIMPLE);
  });

  it('leaves every text with a control or bidirectional character to js-yaml', () => {
    const hidden = ['\u0001', '\u001b', '\u007f', '\u0085', '\u061c', '\u200e', '\u200f'];
    hidden.push('\u202a', '\u202e', '\u2066', '\u2069');
    for (const c of hidden) {
      for (const text of [`a: x${c}y\n`, `a: "x${c}y"\n`, `a:\n  - x${c}\n`]) {
        expect(readSimpleYaml(text, new Map()), JSON.stringify(text)).toBe(NOT_SIMPLE);
        expect(parseYamlFile('t.yaml', text).noHiddenCharacters).toBeUndefined();
      }
    }
    expect(parseYamlFile('t.yaml', 'a: x\\y\n').noHiddenCharacters).toBe(true);
  });

  it('gives the same file, positions and problems as before through parseYamlFile', () => {
    const text =
      'tenant: t\nblockedSenders:\n  - sender: a.com\n    reason: x\n  - sender: b.com\n';
    const yaml = parseYamlFile('t.yaml', text);
    expect(yaml.locateItem('blockedSenders', 1)).toEqual({ file: 't.yaml', line: 5, column: 5 });
    expect(yaml.locate(['blockedSenders', 1, 'sender'])).toEqual({
      file: 't.yaml',
      line: 5,
      column: 13,
    });
  });
});
