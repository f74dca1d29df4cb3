import type { Dispatcher } from 'undici';
import type { ResolvedBinding } from '../config/policy-set.js';
import type { Kind, LiveEntry } from '../model/kinds.js';
import type { ProviderType } from '../model/provider-kinds.js';
import type { Change, ChangeResult } from '../plan/types.js';

export type { LiveEntry };

export interface ProviderCapabilities {
  /** Kinds this provider can serve. */
  kinds: readonly Kind[];
  /** Kinds whose entries can only be updated (never created or deleted), e.g. routes. */
  updateOnly: readonly Kind[];
  /** Whether live objects can carry an ownership marker; without it every entry is "managed". */
  ownershipMarker: boolean;
}

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
  logger: Logger;
  now: () => Date;
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
 * It MUST NOT decide what to change: the planner owns the diff, ownership and safety rules.
 *
 * It MAY batch changes, run them concurrently, and retry transient failures.
 */
export interface Provider {
  readonly type: ProviderType;
  readonly capabilities: ProviderCapabilities;
  read(kind: Kind, opts?: { signal?: AbortSignal }): Promise<LiveEntry[]>;
  apply(
    kind: Kind,
    changes: readonly Change[],
    opts?: { signal?: AbortSignal },
  ): Promise<ChangeResult[]>;
  /** Release pooled resources, if any. */
  close?(): Promise<void>;
}

export interface ProviderFactory {
  readonly type: ProviderType;
  readonly capabilities: ProviderCapabilities;
  create(ctx: ProviderContext): Provider;
}
