import type { Kind, KeyedEntry, ProviderBinding, Safety } from '../model/kinds.js';
import type { Diagnostic, Location } from './diagnostics.js';

/** One policy file as read from the working tree or from a git revision. */
export interface PolicySource {
  /** Path relative to the repository root, e.g. `policies/tenants/acme-emea.yaml`. */
  path: string;
  kind: 'tenant' | 'bundle';
  /** File name without extension; must equal the `tenant:`/`bundle:` field. */
  name: string;
  text: string;
  /**
   * Why the file could not be read as a policy file (a directory, a dangling symlink or a
   * FIFO named like one, an upper-case extension): reported at the path, and the file is
   * skipped; every other file is still validated and planned.
   */
  unreadable?: { code: 'FILE_UNREADABLE' | 'FILE_EXTENSION'; message: string };
}

export interface SourceRef extends Location {
  pointer: string;
  /** Set when the entry came from a bundle the tenant includes. */
  bundle?: string;
}

export type DesiredEntry<K extends Kind = Kind> = K extends Kind
  ? KeyedEntry<K> & { source: SourceRef }
  : never;
export type DesiredEntries = { [K in Kind]: DesiredEntry<K>[] };

export interface ResolvedBinding {
  name: string;
  /** The provider type (a key of the provider registry). */
  type: string;
  kinds: Kind[];
  settings: ProviderBinding;
}

export interface TenantConfig {
  tenant: string;
  file: string;
  displayName?: string;
  domains: string[];
  include: string[];
  ownership: 'managed' | 'authoritative';
  safety: Safety;
  bindings: ResolvedBinding[];
  /** Effective desired state: the tenant's own entries plus those of its bundles. */
  entries: DesiredEntries;
  /** False when any error was found in the tenant file or a bundle it includes. */
  valid: boolean;
  /**
   * The tenant file could not be read or parsed at all: this stands in for it (named after
   * the file, no entries, invalid) so plan and apply show the tenant in error.
   */
  unloaded?: true;
}

export interface BundleConfig {
  bundle: string;
  file: string;
  description?: string;
  entries: DesiredEntries;
  valid: boolean;
}

export interface PolicySet {
  tenants: TenantConfig[];
  bundles: BundleConfig[];
  diagnostics: Diagnostic[];
}

export function emptyDesiredEntries(): DesiredEntries {
  return { blockedSenders: [], exemptions: [], holds: [], routes: [] };
}
