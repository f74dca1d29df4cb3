import type { Dispatcher } from 'undici';
import type { ResolvedBinding } from '../config/policy-set.js';
import type { ProviderCapabilities } from '../model/capabilities.js';
import type { Kind, LiveEntry } from '../model/kinds.js';
import type { Change, ChangeResult } from '../plan/types.js';

export type { LiveEntry, ProviderCapabilities };

/** A JSON Schema (2020-12) object, as a provider declares its binding. */
export type JsonSchemaObject = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
};

export interface ProviderContext {
  tenant: string;
  binding: ResolvedBinding;
  /** Repository root: relative paths in bindings resolve against it. */
  rootDir: string;
  /** Environment to read secrets from (by the names the binding gives). Never log values. */
  env: Readonly<Record<string, string | undefined>>;
  /** HTTP dispatcher to use (a shared pool, or a MockAgent in tests). */
  dispatcher?: Dispatcher;
  /** Ends every read and write of the command (its deadline, or Ctrl-C). */
  signal?: AbortSignal;
  /**
   * When that deadline fires (epoch ms), if known: a wait the vendor imposes (a rate-limit
   * block) that ends later fails at once, naming the wait.
   */
  deadlineAt?: number;
  /**
   * `read` for plan and drift (nothing will be written: use the binding's read-only
   * credential when it names one, e.g. `readTokenEnv`); `write` (default) for apply.
   */
  access?: 'read' | 'write';
  logger: Logger;
  now: () => Date;
}

export interface ApplyOptions {
  signal?: AbortSignal;
  /**
   * Call once every write has been answered when only a check remains before `apply`
   * resolves (e.g. a re-read for copies a concurrent run created): the caller may then start
   * other tenants' work. `apply` still resolves only when the check is done.
   */
  onWritesSent?: () => void;
}

/**
 * A live system that holds some kinds of entries for one tenant binding.
 *
 * An implementation MUST:
 * - return from `read` every live entry of the kind (all pages) in the model's normalized
 *   shape (see `model/entries.ts`), so that an unchanged entry diffs to nothing; or throw.
 *   Never return a partial list: the planner would take the missing entries for deleted.
 * - set `managed` from its ownership marker, and write the marker on every entry it creates
 *   or updates.
 * - return from `apply` exactly one result per change, in order, each applied / failed
 *   (with a reason) / skipped; a failure of one change must not hide the others' results.
 * - make a retried `apply` safe: re-applying a change that already took effect must not
 *   create a duplicate.
 * - keep secrets out of errors, logs and results.
 *
 * - for a kind that `settles: 'eventually'`, report a write the vendor accepted but has not
 *   finished as `pending` (with `ref`, what `settle` needs to find it), and implement
 *   `settle`.
 *
 * It MUST NOT decide what to change: the planner owns the diff, ownership and safety rules.
 * It MUST NOT serve a kind, or accept a value, its capabilities do not declare: `validate`
 * refuses those before anything is read.
 *
 * It MAY batch changes, run them concurrently, and retry transient failures.
 */
export interface Provider {
  readonly type: string;
  readonly capabilities: ProviderCapabilities;
  read(kind: Kind, opts?: { signal?: AbortSignal }): Promise<LiveEntry[]>;
  /**
   * Optional targeted read, for plans limited to known keys (`--changed-since`, `propose`):
   * every live entry of `kind` whose key is one of `keys` (every copy of each), found with
   * the vendor's filters. It MAY return other entries too (a filter that matches substrings,
   * or the full listing when that costs fewer requests): the caller keeps exactly the keys it
   * asked for. Like `read`, it never returns part of an answer: it throws. A provider without
   * it is read in full for the kinds a targeted plan needs.
   */
  readKeys?(
    kind: Kind,
    keys: readonly string[],
    opts?: { signal?: AbortSignal },
  ): Promise<LiveEntry[]>;
  apply(kind: Kind, changes: readonly Change[], opts?: ApplyOptions): Promise<ChangeResult[]>;
  /**
   * Where a status is pending now: one look at the vendor, returning a result for each
   * pending one given (still `pending`, or ended `applied`/`failed`). The caller polls, with
   * backoff, within a bound; what is still pending then is reported as pending.
   */
  settle?(
    kind: Kind,
    pending: readonly ChangeResult[],
    opts?: { signal?: AbortSignal },
  ): Promise<ChangeResult[]>;
  /** Release pooled resources and timers. Called once when the command ends. */
  close?(): Promise<void>;
}

/**
 * A provider type: its binding schema, its capabilities, and how to make a provider for one
 * tenant binding. One folder under `src/providers/`, one line in the registry.
 */
export interface ProviderFactory {
  readonly type: string;
  readonly capabilities: ProviderCapabilities;
  /**
   * JSON Schema of the binding (`providers.<name>` in a tenant file): `type` as a `const`,
   * the optional `kinds`, every field with a description, `additionalProperties: false`.
   * The tenant schema's `providerBinding` is assembled from these (`npm run gen:schemas`).
   */
  readonly bindingSchema: JsonSchemaObject;
  create(ctx: ProviderContext): Provider;
}
