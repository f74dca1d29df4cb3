/**
 * Keep a comment or issue body under GitHub's limit (65,536 characters; longer bodies are
 * rejected with 422). The plan markdown puts the summary and every delete first and the
 * per-tenant `<details>` after, so details go first; then a compact rendering; then, as a
 * last resort, a cut at a line boundary. Every step says what was left out and where the
 * whole thing is (the plan artifact).
 */

/** GitHub rejects bodies of more than 65,536 characters. */
export const GITHUB_BODY_LIMIT = 65_536;
/** What we aim for: strictly below the limit (JS length counts UTF-16 units, never fewer). */
export const MAX_BODY_CHARS = GITHUB_BODY_LIMIT - 1;

export type FitLevel = 'full' | 'details-dropped' | 'summary' | 'compact' | 'cut';

export interface FittedBody {
  body: string;
  level: FitLevel;
  /** How many `<details>` blocks were left out (0 unless level is details-dropped). */
  droppedDetails: number;
}

export interface FitOptions {
  /** Maximum length of the result (default MAX_BODY_CHARS). */
  maxChars?: number;
  /** The markdown line that replaces `n` dropped `<details>` blocks. */
  omittedDetailsNote: (n: number) => string;
  /** The markdown line appended when text had to be cut. */
  cutNote: string;
}

export interface Span {
  start: number;
  end: number;
}

const OPEN = /<details\b/gi;
const CLOSE = /<\/details\s*>/gi;

/** Top-level `<details>…</details>` blocks (nested ones belong to their parent). */
export function findDetailsBlocks(markdown: string): Span[] {
  const tokens: { at: number; end: number; open: boolean }[] = [];
  for (const m of markdown.matchAll(OPEN)) tokens.push({ at: m.index, end: m.index, open: true });
  for (const m of markdown.matchAll(CLOSE))
    tokens.push({ at: m.index, end: m.index + m[0].length, open: false });
  tokens.sort((a, b) => a.at - b.at);
  const blocks: Span[] = [];
  let depth = 0;
  let start = 0;
  for (const t of tokens) {
    if (t.open) {
      if (depth === 0) start = t.at;
      depth++;
    } else if (depth > 0) {
      depth--;
      if (depth === 0) blocks.push({ start, end: t.end });
    }
  }
  return blocks;
}

function tidy(text: string): string {
  return text.replace(/\n{3,}/g, '\n\n');
}

/** Remove `blocks` (in order) and put `note` where the first of them was. */
function removeBlocks(markdown: string, blocks: readonly Span[], note: string): string {
  const first = blocks[0];
  if (!first) return markdown;
  let text = markdown.slice(0, first.start) + `\n\n${note}\n\n`;
  let cursor = first.end;
  for (const b of blocks.slice(1)) {
    text += markdown.slice(cursor, b.start);
    cursor = b.end;
  }
  return tidy(text + markdown.slice(cursor));
}

/**
 * Drop the fewest trailing `<details>` blocks so the text fits; undefined when even dropping
 * all of them is not enough.
 */
export function dropDetails(
  markdown: string,
  maxChars: number,
  note: (n: number) => string,
): { text: string; dropped: number } | undefined {
  const blocks = findDetailsBlocks(markdown);
  let removed = 0;
  for (let k = 1; k <= blocks.length; k++) {
    const block = blocks[blocks.length - k];
    if (!block) break;
    removed += block.end - block.start;
    // tidy() only shortens, so this estimate is an upper bound of the final length.
    if (markdown.length - removed + note(k).length + 4 <= maxChars) {
      return { text: removeBlocks(markdown, blocks.slice(blocks.length - k), note(k)), dropped: k };
    }
  }
  return undefined;
}

/** The text with every top-level `<details>` block removed and one note where the first was. */
export function withoutAllDetails(markdown: string, note: (n: number) => string): string {
  const blocks = findDetailsBlocks(markdown);
  return removeBlocks(markdown, blocks, note(blocks.length));
}

/** Cut at a line boundary, close an open code fence or `<details>`, and append the note. */
export function cutToLimit(text: string, maxChars: number, cutNote: string): string {
  if (text.length <= maxChars) return text;
  const reserve = cutNote.length + 64;
  let kept = text.slice(0, Math.max(0, maxChars - reserve));
  const nl = kept.lastIndexOf('\n');
  if (nl > 0) kept = kept.slice(0, nl);
  const fences = kept.split('\n').filter((l) => l.trimStart().startsWith('```')).length;
  if (fences % 2 === 1) kept += '\n```';
  const open = [...kept.matchAll(OPEN)].length - [...kept.matchAll(CLOSE)].length;
  for (let i = 0; i < open; i++) kept += '\n</details>';
  return `${kept}\n\n${cutNote}\n`;
}

/**
 * The longest faithful body within the limit: the full markdown; else without trailing
 * details; else the compact rendering; else the compact rendering cut.
 */
export function fitBody(
  full: string,
  compact: (() => string) | undefined,
  opts: FitOptions,
): FittedBody {
  const max = opts.maxChars ?? MAX_BODY_CHARS;
  if (full.length <= max) return { body: full, level: 'full', droppedDetails: 0 };
  const dropped = dropDetails(full, max, opts.omittedDetailsNote);
  if (dropped)
    return { body: dropped.text, level: 'details-dropped', droppedDetails: dropped.dropped };
  if (compact) {
    const small = compact();
    if (small.length <= max) return { body: small, level: 'compact', droppedDetails: 0 };
    return { body: cutToLimit(small, max, opts.cutNote), level: 'cut', droppedDetails: 0 };
  }
  const blocks = findDetailsBlocks(full).length;
  const base = withoutAllDetails(full, opts.omittedDetailsNote);
  return { body: cutToLimit(base, max, opts.cutNote), level: 'cut', droppedDetails: blocks };
}
