import type { AnyEntry, Kind } from './kinds.js';
import type { BindingTrust } from './trust.js';

/**
 * A field value a provider cannot express for a kind, stated as data so that `validate`
 * refuses it before anything is read live (octoDNS's `SUPPORTS_*`, per field).
 */
export interface ValueRule {
  /** Field of the normalized entry, e.g. `bypass`, `recipient`, `port`, `reason`. */
  field: string;
  /** When the field is present, its value must be one of these. */
  allowed?: readonly (string | number | boolean)[];
  /** The field must not be present at all (e.g. recipient exemptions on a sender-only API). */
  absent?: true;
  /** Longest string the vendor stores for the field, counted in `unit`. */
  maxLength?: number;
  /**
   * How the vendor counts `maxLength` (non-ASCII text differs): `utf16` code units (the
   * default; .NET and JavaScript string lengths), `code-points` (Unicode characters, what
   * JSON Schema's `maxLength` counts), `utf8-bytes`, or `url-encoded`: the characters the
   * value takes once URL-encoded (a value mxpolicy stores percent-encoded in a marker).
   */
  unit?: LengthUnit;
  /** The rule applies only when this other field is present (or absent). */
  when?: { field: string; present: boolean };
  /** Why, in the vendor's terms: shown to the person who wrote the entry. */
  why: string;
}

export type LengthUnit = 'utf16' | 'code-points' | 'utf8-bytes' | 'url-encoded';

const UNIT_WORDS: Record<LengthUnit, string> = {
  utf16: 'characters',
  'code-points': 'characters',
  'utf8-bytes': 'bytes in UTF-8',
  'url-encoded': 'characters once URL-encoded',
};

/** The length of `value` as a vendor counts it (pure; no I/O). */
export function measureLength(value: string, unit: LengthUnit = 'utf16'): number {
  switch (unit) {
    case 'utf16':
      return value.length;
    case 'code-points':
      // A surrogate pair is one character.
      return value.length - (value.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
    case 'utf8-bytes':
      return new TextEncoder().encode(value).length;
    case 'url-encoded':
      // A lone surrogate cannot be encoded: count it as the replacement character.
      return encodeURIComponent(
        value.replace(
          /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
          '\uFFFD',
        ),
      ).length;
  }
}

/** What a provider can do with one kind. */
export interface KindCapability {
  /**
   * `full`: entries are created, updated and deleted. `update-only`: the vendor owns the
   * lifecycle (Cloudflare's protected domains): mxpolicy only changes entries that exist.
   */
  lifecycle: 'full' | 'update-only';
  /**
   * Whether live objects carry mxpolicy's ownership marker. Without one, a live entry the
   * YAML declares is managed and any other is left alone (listed, never deleted, not even
   * in authoritative mode): nothing proves mxpolicy made it.
   */
  ownershipMarker: boolean;
  /** Values of fields the vendor cannot express. */
  values?: readonly ValueRule[];
  /**
   * `immediately`: a write is in effect when its request succeeds. `eventually`: apply may
   * report `pending`, and the provider's `settle` is polled until it ends.
   */
  settles: 'immediately' | 'eventually';
}

/** The kinds a provider serves, and how. A kind it does not list, it does not serve. */
export interface ProviderCapabilities {
  kinds: Partial<Record<Kind, KindCapability>>;
  /**
   * Which binding fields name a secret variable and which are URLs the provider dials,
   * and the vendor's own hosts (`model/trust.ts`). Without it, `*Env` fields count as
   * secrets and `*Url` fields may only point at configured hosts or 127.0.0.1.
   */
  binding?: BindingTrust;
}

/** Capabilities by binding `type` (built from the provider registry by the caller). */
export type CapabilityTable = Readonly<Record<string, ProviderCapabilities>>;

/** The kinds a provider serves, in the model's order. */
export function servedKinds(caps: ProviderCapabilities, order: readonly Kind[]): Kind[] {
  return order.filter((k) => caps.kinds[k] !== undefined);
}

/** A value rule an entry breaks, with the field and the offending value. */
export interface ValueViolation {
  field: string;
  value: unknown;
  rule: ValueRule;
  message: string;
}

/** The value rules one normalized entry breaks (empty when the provider can express it). */
export function checkEntryValues(
  entry: AnyEntry,
  rules: readonly ValueRule[] | undefined,
): ValueViolation[] {
  if (rules === undefined || rules.length === 0) return [];
  const fields = entry as unknown as Record<string, unknown>;
  const out: ValueViolation[] = [];
  for (const rule of rules) {
    if (rule.when !== undefined && (fields[rule.when.field] !== undefined) !== rule.when.present)
      continue;
    const value = fields[rule.field];
    if (value === undefined) continue;
    if (rule.absent === true)
      out.push({ field: rule.field, value, rule, message: `'${rule.field}' is not supported` });
    else if (rule.allowed !== undefined && !rule.allowed.includes(value as string))
      out.push({
        field: rule.field,
        value,
        rule,
        message: `${rule.field}: ${JSON.stringify(value)} is not supported (supported: ${rule.allowed.map((v) => JSON.stringify(v)).join(', ')})`,
      });
    else if (rule.maxLength !== undefined && typeof value === 'string') {
      const length = measureLength(value, rule.unit);
      if (length > rule.maxLength)
        out.push({
          field: rule.field,
          value,
          rule,
          message: `${rule.field} is ${length} ${UNIT_WORDS[rule.unit ?? 'utf16']}, longer than the ${rule.maxLength} stored`,
        });
    }
  }
  return out;
}
