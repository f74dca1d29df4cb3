import { describe, expect, it } from 'vitest';
import {
  cutToLimit,
  dropDetails,
  findDetailsBlocks,
  fitBody,
  MAX_BODY_CHARS,
  withoutAllDetails,
} from './fit-body.js';

const details = (name: string, size: number): string =>
  `<details><summary>${name}</summary>\n\n${'x'.repeat(size)}\n\n</details>`;
const opts = {
  omittedDetailsNote: (n: number) => `OMITTED ${n}`,
  cutNote: 'CUT',
};

describe('findDetailsBlocks', () => {
  it('returns top-level blocks only, nested ones inside their parent', () => {
    const text = `a\n<details>\n<details>inner</details>\n</details>\nb\n${details('t2', 3)}`;
    const blocks = findDetailsBlocks(text);
    expect(blocks).toHaveLength(2);
    expect(text.slice(blocks[0]!.start, blocks[0]!.end)).toBe(
      '<details>\n<details>inner</details>\n</details>',
    );
    expect(text.slice(blocks[1]!.start, blocks[1]!.end)).toBe(details('t2', 3));
  });

  it('ignores an unclosed block', () => {
    expect(findDetailsBlocks('<details> never closed')).toEqual([]);
  });
});

describe('dropDetails', () => {
  const summary = 'SUMMARY\n- delete x in t1';
  const text = [summary, details('t1', 100), details('t2', 100), details('t3', 100)].join('\n\n');

  it('drops the fewest trailing blocks and says how many', () => {
    const out = dropDetails(text, text.length - 50, opts.omittedDetailsNote);
    expect(out?.dropped).toBe(1);
    expect(out?.text).toContain('<summary>t1</summary>');
    expect(out?.text).toContain('<summary>t2</summary>');
    expect(out?.text).not.toContain('<summary>t3</summary>');
    expect(out?.text).toContain('OMITTED 1');
    expect(out!.text.length).toBeLessThanOrEqual(text.length - 50);
  });

  it('keeps the summary when every block must go', () => {
    const out = dropDetails(text, summary.length + 40, opts.omittedDetailsNote);
    expect(out?.dropped).toBe(3);
    expect(out?.text.startsWith(summary)).toBe(true);
    expect(out?.text).toContain('OMITTED 3');
  });

  it('gives up when even the summary is too long', () => {
    expect(dropDetails(text, 10, opts.omittedDetailsNote)).toBeUndefined();
  });

  it('withoutAllDetails removes every block and leaves one note', () => {
    const out = withoutAllDetails(text, opts.omittedDetailsNote);
    expect(findDetailsBlocks(out)).toEqual([]);
    expect(out.match(/OMITTED 3/g)).toHaveLength(1);
  });
});

describe('cutToLimit', () => {
  it('cuts at a line boundary, closes an open fence and details, and appends the note', () => {
    const text = [
      'head',
      '<details>',
      '```',
      ...Array.from({ length: 200 }, (_, i) => `line ${i}`),
    ].join('\n');
    const out = cutToLimit(text, 300, 'CUT');
    expect(out.length).toBeLessThanOrEqual(300);
    expect(out.endsWith('CUT\n')).toBe(true);
    expect(out.split('\n').filter((l) => l.startsWith('```'))).toHaveLength(2);
    expect(out).toContain('</details>');
    expect(out).toMatch(/line \d+\n```/);
  });

  it('leaves short text alone', () => {
    expect(cutToLimit('short', 300, 'CUT')).toBe('short');
  });
});

describe('fitBody', () => {
  it('keeps a body that fits', () => {
    expect(fitBody('small', undefined, opts)).toEqual({
      body: 'small',
      level: 'full',
      droppedDetails: 0,
    });
  });

  it('drops details before falling back to the compact rendering', () => {
    const text = `SUMMARY\n\n${details('t1', 70_000)}`;
    const out = fitBody(text, () => 'COMPACT', opts);
    expect(out.level).toBe('details-dropped');
    expect(out.body).toContain('SUMMARY');
    expect(out.body.length).toBeLessThanOrEqual(MAX_BODY_CHARS);
  });

  it('uses the compact rendering when the summary itself is too long', () => {
    const out = fitBody('S'.repeat(70_000), () => 'COMPACT', opts);
    expect(out).toEqual({ body: 'COMPACT', level: 'compact', droppedDetails: 0 });
  });

  it('cuts as a last resort and always ends under the limit', () => {
    const long = Array.from({ length: 20_000 }, (_, i) => `- delete \`x${i}@example.com\``).join(
      '\n',
    );
    const viaCompact = fitBody(long, () => long, opts);
    expect(viaCompact.level).toBe('cut');
    expect(viaCompact.body.length).toBeLessThan(65_536);
    const withDetails = fitBody(`${long}\n${details('t', 10)}`, undefined, opts);
    expect(withDetails.level).toBe('cut');
    expect(withDetails.droppedDetails).toBe(1);
    expect(withDetails.body.length).toBeLessThan(65_536);
    expect(withDetails.body.endsWith('CUT\n')).toBe(true);
  });
});
