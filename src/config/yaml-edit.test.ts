import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { POLICY_EDIT_OPTIONS } from './policy-edit.js';
import { editYaml, newPolicyFileText, YamlEditError, type YamlEdit } from './yaml-edit.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const examples = ['tenants', 'bundles'].flatMap((dir) =>
  readdirSync(path.join(ROOT, 'policies', dir)).map((f) => `policies/${dir}/${f}`),
);
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');
const edit = (text: string, ...edits: YamlEdit[]): string =>
  editYaml(text, edits, POLICY_EDIT_OPTIONS).text;

/**
 * The one region where two texts differ, by whole lines: every line before and after it is
 * byte-identical (the property the editor promises).
 */
function changedRegion(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split('\n');
  const b = after.split('\n');
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  return { removed: a.slice(head, a.length - tail), added: b.slice(head, b.length - tail) };
}

describe('editYaml on the example policies', () => {
  it.each(examples)('%s: adding a block inserts exactly its lines, nothing else moves', (file) => {
    const before = read(file);
    const after = edit(before, {
      op: 'add',
      list: 'blockedSenders',
      items: [{ sender: 'evil.example', reason: 'phishing kit: "urgent" #1', ticket: 'INC-9' }],
    });
    const { removed, added } = changedRegion(before, after);
    expect(removed).toEqual([]);
    expect(added.map((l) => l.trim())).toEqual([
      '- sender: evil.example',
      'reason: \'phishing kit: "urgent" #1\'',
      'ticket: INC-9',
    ]);
    const data = parse(after) as { blockedSenders: unknown[] };
    expect(data.blockedSenders.at(-1)).toEqual({
      sender: 'evil.example',
      reason: 'phishing kit: "urgent" #1',
      ticket: 'INC-9',
    });
    // Same indentation as the items around it.
    const indent = (l: string): number => l.length - l.trimStart().length;
    const sibling = before.split('\n').find((l) => l.trimStart().startsWith('- sender:'));
    expect(indent(added[0] ?? '')).toBe(indent(sibling ?? ''));
  });

  it.each(examples)('%s: add then remove gives back the file byte for byte', (file) => {
    const before = read(file);
    const added = edit(before, {
      op: 'add',
      list: 'blockedSenders',
      items: [{ sender: 'Evil.Example.', reason: 'x' }],
    });
    expect(edit(added, { op: 'remove', list: 'blockedSenders', key: 'evil.example' })).toBe(before);
  });

  it('removes one entry (by its normalized key) and only its lines', () => {
    const before = read('policies/bundles/baseline.yaml');
    const after = edit(before, { op: 'remove', list: 'blockedSenders', key: '185.220.101.0/24' });
    expect(changedRegion(before, after)).toEqual({
      removed: [
        '  - sender: 185.220.101.0/24',
        '    reason: sending range of the Q3 invoice-fraud campaign',
        '    ticket: INC-4377',
      ],
      added: [],
    });
    // IPv6 keys are compared compressed and lower-cased.
    const v6 = edit(before, { op: 'remove', list: 'blockedSenders', key: '2a0b:f4c0:4f2::/48' });
    expect(v6).not.toContain('2a0b:f4c0:4f2::/48');
  });

  it('adds a list that is missing among its siblings, in the usual order', () => {
    const before = read('policies/tenants/globex.yaml');
    const after = edit(before, {
      op: 'add',
      list: 'holds',
      items: [{ id: 'LH-1', matter: 'Doe', custodians: ['a@globex.com'] }],
    });
    expect(changedRegion(before, after)).toEqual({
      removed: [],
      added: [
        'holds:',
        '  - id: LH-1',
        '    matter: Doe',
        '    custodians:',
        '      - a@globex.com',
      ],
    });
    expect(after.indexOf('holds:')).toBeLessThan(after.indexOf('routes:'));
    expect(after.indexOf('holds:')).toBeGreaterThan(after.indexOf('exemptions:'));
  });

  it('sets a new field as one line of the entry, and replaces an existing value in place', () => {
    const before = read('policies/tenants/acme-emea.yaml');
    const released = edit(before, {
      op: 'set',
      list: 'holds',
      key: 'LH-2026-017',
      field: 'released',
      value: { by: 'legal@acme.eu', reason: 'settled', date: '2026-12-01' },
    });
    expect(changedRegion(before, released)).toEqual({
      removed: [],
      added: ['    released: {by: legal@acme.eu, reason: settled, date: 2026-12-01}'],
    });
    const widened = edit(before, {
      op: 'set',
      list: 'holds',
      key: 'LH-2026-017',
      field: 'custodians',
      value: ['j.smith@acme.eu', 'legal@acme.eu', 'ceo@acme.eu'],
    });
    expect(changedRegion(before, widened)).toEqual({
      removed: ['    custodians: [j.smith@acme.eu, legal@acme.eu]'],
      added: ['    custodians: [j.smith@acme.eu, legal@acme.eu, ceo@acme.eu]'],
    });
  });

  it('removing a field rewrites that entry only', () => {
    const before = read('policies/tenants/acme-emea.yaml');
    const after = edit(before, {
      op: 'set',
      list: 'blockedSenders',
      key: 'ceo.acme@lookalike-acme.eu',
      field: 'expires',
      value: undefined,
    });
    expect(changedRegion(before, after).removed).toEqual(['    expires: 2027-01-31']);
    expect(changedRegion(before, after).added).toEqual([]);
  });

  it('keeps comments, blank lines and flow maps of a hand-written file', () => {
    const before = [
      '# header comment',
      'tenant: t # trailing',
      'providers: { sandbox: { type: sandbox } }',
      '',
      'blockedSenders: # the list',
      '- sender: a.example # first',
      '  reason: "quoted"',
      '',
      '# about b',
      '- { sender: b.example, reason: flow }',
      'exemptions: []',
      '',
    ].join('\n');
    const added = edit(before, {
      op: 'add',
      list: 'blockedSenders',
      items: [{ sender: 'c.example', reason: 'r' }],
    });
    expect(changedRegion(before, added)).toEqual({
      removed: [],
      added: ['- sender: c.example', '  reason: r'],
    });
    const exempt = edit(before, {
      op: 'add',
      list: 'exemptions',
      items: [{ sender: 'ok.example', bypass: 'spam', reason: 'r' }],
    });
    expect(changedRegion(before, exempt)).toEqual({
      removed: ['exemptions: []'],
      added: ['exemptions:', '- sender: ok.example', '  bypass: spam', '  reason: r'],
    });
    const gone = edit(before, { op: 'remove', list: 'blockedSenders', key: 'b.example' });
    expect(changedRegion(before, gone).removed).toEqual(['- { sender: b.example, reason: flow }']);
    const flowSet = edit(before, {
      op: 'set',
      list: 'blockedSenders',
      key: 'b.example',
      field: 'ticket',
      value: 'INC-1',
    });
    expect(changedRegion(before, flowSet)).toEqual({
      removed: ['- { sender: b.example, reason: flow }'],
      added: ['- {sender: b.example, reason: flow, ticket: INC-1}'],
    });
    const both = edit(gone, { op: 'remove', list: 'blockedSenders', key: 'a.example' });
    expect(both).toContain('blockedSenders: [] # the list\n');
    expect(parse(both)).toMatchObject({ blockedSenders: [], exemptions: [] });
  });

  it('does not add an item whose key is already there, and reports the miss', () => {
    const before = read('policies/bundles/baseline.yaml');
    const result = editYaml(
      before,
      [
        { op: 'add', list: 'blockedSenders', items: [{ sender: 'MAILINATOR.com', reason: 'x' }] },
        { op: 'remove', list: 'exemptions', key: 'sender:nobody@example.com' },
      ],
      POLICY_EDIT_OPTIONS,
    );
    expect(result.text).toBe(before);
    expect(result.missed).toHaveLength(2);
  });

  it('refuses text that is not a YAML mapping, with a reason', () => {
    expect(() => edit('- a\n- b\n', { op: 'remove', list: 'x', key: 'a' })).toThrow(YamlEditError);
    expect(() => edit('a: [\n', { op: 'remove', list: 'x', key: 'a' })).toThrow(/not valid YAML/);
  });

  it('creates a new bundle file that entries can be added to', () => {
    const text = newPolicyFileText('bundle', 'emergency', { description: 'added at 3 a.m.' });
    const after = edit(text, {
      op: 'add',
      list: 'blockedSenders',
      items: [{ sender: 'evil.example', reason: 'r' }],
    });
    expect(after).toBe(
      [
        '# yaml-language-server: $schema=../../schemas/bundle.schema.json',
        'bundle: emergency',
        'description: added at 3 a.m.',
        'blockedSenders:',
        '  - sender: evil.example',
        '    reason: r',
        '',
      ].join('\n'),
    );
  });
});

describe('editYaml addValues and comment (import)', () => {
  const base =
    'tenant: acme # the tenant\ndomains: [acme.example]\nblockedSenders:\n  - sender: a.example\n    reason: r\n';

  it('addValues creates a list of scalars in its place, appends to a block list, skips present ones', () => {
    const once = edit(base, { op: 'addValues', list: 'include', values: ['baseline'] });
    expect(once).toBe(
      'tenant: acme # the tenant\ndomains: [acme.example]\ninclude:\n  - baseline\nblockedSenders:\n  - sender: a.example\n    reason: r\n',
    );
    const twice = edit(once, { op: 'addValues', list: 'include', values: ['baseline', 'extra'] });
    expect(changedRegion(once, twice)).toEqual({ removed: [], added: ['  - extra'] });
    expect(
      editYaml(
        twice,
        [{ op: 'addValues', list: 'include', values: ['extra'] }],
        POLICY_EDIT_OPTIONS,
      ).missed,
    ).toHaveLength(1);
    const flow = edit(base, { op: 'addValues', list: 'domains', values: ['acme.eu'] });
    expect(parse(flow)).toMatchObject({ domains: ['acme.example', 'acme.eu'] });
  });

  it('comment writes its block at the end, replaces it by its header, removes it with no lines', () => {
    const one = edit(base, { op: 'comment', header: 'import:', lines: ['import: 1', '- x'] });
    expect(one).toBe(`${base}\n# import: 1\n# - x\n`);
    const two = edit(one, { op: 'comment', header: 'import:', lines: ['import: 2'] });
    expect(two).toBe(`${base}\n# import: 2\n`);
    expect(edit(two, { op: 'comment', header: 'import:', lines: [] })).toBe(base);
    // Other comments are not touched; items added later land before the block.
    const added = edit(two, {
      op: 'add',
      list: 'blockedSenders',
      items: [{ sender: 'b.example', reason: 'r' }],
    });
    expect(added).toBe(`${base}  - sender: b.example\n    reason: r\n\n# import: 2\n`);
    expect(parse(added)).toMatchObject({ blockedSenders: [{}, { sender: 'b.example' }] });
  });
});

describe('editYaml renders many items fast, as stringify would', () => {
  it('writes flat items exactly as the yaml library does, whatever their strings', () => {
    const odd = [
      'true',
      'No',
      '1.5',
      '203.0.113.7',
      'a: b',
      'x #y',
      ' lead',
      'trail ',
      'two  spaces',
      "it's",
      '"q"',
      'multi\nline',
      '2027-01-31',
      'null',
      '- dash',
      'ok value',
      'news@partner.example',
      'café',
    ];
    const items = odd.flatMap((s, i) => [
      { sender: s, reason: `r${i}` },
      { sender: `s${i}.example`, bypass: 'spam', verifySender: i % 2 === 0, reason: s, port: 25 },
    ]);
    for (const item of items) {
      const viaEdit = edit('tenant: t\n', { op: 'add', list: 'blockedSenders', items: [item] });
      const viaLibrary = `tenant: t\nblockedSenders:\n${stringify([item], { lineWidth: 0, indent: 2 }).replace(/^/gm, '  ').replace(/ +$/, '')}`;
      expect(viaEdit).toBe(viaLibrary);
      expect(parse(viaEdit)).toEqual({ tenant: 't', blockedSenders: [item] });
    }
  });
});

describe('editYaml parses once for a run of edits of different lists', () => {
  const bases = [
    'tenant: t\n',
    'tenant: t\ndomains: [t.example]',
    '# head\ntenant: t # c\ndomains: [t.example]\n\n# routes below\nroutes:\n  - domain: t.example\n    deliverTo: mx.t.example\n',
    'tenant: t\ninclude: [base]\nblockedSenders:\n  - sender: a.example\n    reason: r\n  - { sender: b.example, reason: s }\nexemptions: []\nholds:\n  - id: LH-1\n    matter: m\n    custodians: [a@t.example]\n',
    'tenant: t\nblockedSenders:\n    - sender: a.example\n      reason: r\n# tail comment\n',
    'tenant: t\nexemptions: [{ sender: x.example, bypass: spam, reason: q }]\nunknownKey: 1\n',
  ];
  const sender = fc.constantFrom('a.example', 'b.example', 'c.example', 'x.example', '10.0.0.0/8');
  const editArb: fc.Arbitrary<YamlEdit> = fc.oneof(
    fc.record({
      op: fc.constant('add' as const),
      list: fc.constantFrom('blockedSenders', 'exemptions'),
      items: fc.array(
        sender.map((x) => ({ sender: x, reason: `r ${x}` })),
        { maxLength: 3 },
      ),
    }),
    fc.record({
      op: fc.constant('add' as const),
      list: fc.constant('holds'),
      items: fc.array(
        fc.constantFrom('LH-1', 'LH-2').map((id) => ({
          id,
          matter: 'm',
          custodians: ['b@t.example'],
        })),
        { maxLength: 2 },
      ),
    }),
    fc.record({
      op: fc.constant('add' as const),
      list: fc.constant('routes'),
      items: fc.constant([{ domain: 'u.example', deliverTo: 'mx.u.example' }]),
    }),
    fc.record({
      op: fc.constant('addValues' as const),
      list: fc.constantFrom('include', 'domains'),
      values: fc.array(fc.constantFrom('base', 'extra', 't.example'), { maxLength: 2 }),
    }),
    fc.record({
      op: fc.constant('remove' as const),
      list: fc.constantFrom('blockedSenders', 'exemptions'),
      key: fc.constantFrom('a.example', 'b.example', 'sender:x.example'),
    }),
    fc.record({
      op: fc.constant('set' as const),
      list: fc.constant('holds'),
      key: fc.constant('LH-1'),
      field: fc.constantFrom('custodians', 'since', 'matter'),
      value: fc.constantFrom('all', '2026-01-01', undefined, ['a@t.example', 'z@t.example']),
    }),
    fc.record({
      op: fc.constant('comment' as const),
      header: fc.constant('import:'),
      lines: fc.constantFrom([], ['import: 1'], ['import: 2', '- x']),
    }),
  );

  it('gives the text the edits give one after the other, and the same misses', () => {
    fc.assert(
      fc.property(fc.constantFrom(...bases), fc.array(editArb, { maxLength: 6 }), (base, edits) => {
        let one = base;
        const missedOne: YamlEdit[] = [];
        for (const e of edits) {
          const r = editYaml(one, [e], POLICY_EDIT_OPTIONS);
          one = r.text;
          missedOne.push(...r.missed);
        }
        const all = editYaml(base, edits, POLICY_EDIT_OPTIONS);
        // The same data, keys in the same order, the same misses...
        const data = parse(all.text) as Record<string, unknown>;
        const oneData = parse(one) as Record<string, unknown>;
        expect(data).toEqual(oneData);
        expect(Object.keys(data)).toEqual(Object.keys(oneData));
        expect(all.missed).toEqual(missedOne);
        // ...and byte for byte the same text, but in two cases where one run reads the
        // file as it was: several lists created at one place (one at a time, a later one
        // lands above comment lines the earlier one had below it), and a list emptied
        // before another is created (one at a time, the file's indentation is gone).
        const created = edits.filter(
          (e) => e.op !== 'comment' && !new RegExp(`^${e.list}:`, 'm').test(base),
        );
        if (
          new Set(created.map((e) => (e as { list: string }).list)).size <= 1 &&
          !edits.some((e) => e.op === 'remove')
        )
          expect(all.text).toBe(one);
      }),
      { numRuns: 400 },
    );
  });
});
