import type { Change } from './types.js';

/**
 * What a change does to the mail estate's security posture:
 * - `tighten`: more is blocked or held (a new block, hold or custodian; an exemption removed
 *   or narrowed);
 * - `loosen`: less is blocked or held, or mail goes elsewhere (a block removed, an exemption
 *   added or widened, a hold released or narrowed, any route change);
 * - `neutral`: only words change (reason, ticket, matter) or an entry is adopted as is.
 *
 * `propose --auto-merge` merges only plans without a loosening change, so when in doubt
 * (a change that both tightens and loosens, a kind this function does not know) the answer
 * is `loosen`: a person looks at it.
 */
export type ChangeEffect = 'tighten' | 'loosen' | 'neutral';

type Fields = Readonly<Record<string, unknown>>;
type Verdict = ChangeEffect | undefined;

/** Fields whose edit never changes what is filtered, held or routed. */
const WORDS = new Set(['reason', 'ticket', 'matter', 'since', 'description', 'displayName']);

/**
 * Combine per-field verdicts: any loosening wins, then any tightening, else neutral.
 * (Tighten + loosen in one change is a loosening: it needs a reviewer.)
 */
function combine(verdicts: readonly Verdict[]): ChangeEffect {
  if (verdicts.includes('loosen')) return 'loosen';
  if (verdicts.includes('tighten')) return 'tighten';
  return 'neutral';
}

/**
 * `expires` of an entry that restricts mail (a block): a later or removed date keeps the
 * restriction longer (tighten); an earlier or new date ends it sooner (loosen). For an entry
 * that relaxes filtering (an exemption) the opposite holds.
 */
function expiresVerdict(before: unknown, after: unknown, restricts: boolean): Verdict {
  if (before === after) return undefined;
  const longer =
    after === undefined ||
    (typeof before === 'string' && typeof after === 'string' && after > before);
  return longer === restricts ? 'tighten' : 'loosen';
}

function changedFields(before: Fields, after: Fields): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

function updateEffect(kind: string, before: Fields, after: Fields): ChangeEffect {
  const verdicts = changedFields(before, after).map((field): Verdict => {
    if (WORDS.has(field)) return undefined;
    const b = before[field];
    const a = after[field];
    switch (kind) {
      case 'blockedSenders':
        return field === 'expires' ? expiresVerdict(b, a, true) : 'loosen';
      case 'exemptions':
        if (field === 'expires') return expiresVerdict(b, a, false);
        if (field === 'bypass') return a === 'all' ? 'loosen' : b === 'all' ? 'tighten' : 'loosen';
        if (field === 'verifySender') return a === false ? 'loosen' : 'tighten';
        return 'loosen';
      case 'holds': {
        if (field === 'custodians') {
          // `all` holds every mailbox: widening a list to it tightens, narrowing loosens.
          if (a === 'all' || b === 'all') return a === 'all' ? 'tighten' : 'loosen';
          const was = new Set(Array.isArray(b) ? (b as unknown[]) : []);
          const now = new Set(Array.isArray(a) ? (a as unknown[]) : []);
          if ([...was].some((x) => !now.has(x))) return 'loosen';
          return [...now].some((x) => !was.has(x)) ? 'tighten' : undefined;
        }
        if (field === 'released') return a === undefined ? 'tighten' : 'loosen';
        return 'loosen';
      }
      default:
        return 'loosen';
    }
  });
  return combine(verdicts);
}

/** Classify one planned change (pure; a function of kind, action and before/after). */
export function classifyChangeEffect(
  change: Pick<Change, 'kind' | 'action' | 'before' | 'after'>,
): ChangeEffect {
  const { kind, action } = change;
  const restricts = kind === 'blockedSenders' || kind === 'holds';
  const relaxes = kind === 'exemptions';
  if (action === 'create') {
    const after = (change.after ?? {}) as Fields;
    // A hold that is created already released holds nothing (never planned today).
    if (kind === 'holds' && after['released'] !== undefined) return 'neutral';
    return restricts ? 'tighten' : 'loosen';
  }
  if (action === 'delete') return relaxes ? 'tighten' : 'loosen';
  return updateEffect(kind, (change.before ?? {}) as Fields, (change.after ?? {}) as Fields);
}
