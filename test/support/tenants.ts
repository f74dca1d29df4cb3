import type {
  DesiredEntries,
  DesiredEntry,
  ResolvedBinding,
  TenantConfig,
} from '../../src/config/policy-set.js';
import { normalizeEntry, type RawEntryOf } from '../../src/model/entries.js';
import type { Kind } from '../../src/model/kinds.js';
import type { Logger } from '../../src/providers/provider.js';

/** Build a tenant's effective desired state from YAML-shaped entries (as the loader would). */
export function desiredEntries(raw: { [K in Kind]?: RawEntryOf[K][] }): DesiredEntries {
  const out: DesiredEntries = { blockedSenders: [], exemptions: [], holds: [], routes: [] };
  for (const kind of Object.keys(raw) as Kind[]) {
    (raw[kind] ?? []).forEach((entry, i) => {
      const r = normalizeEntry(kind, entry as never);
      if (!r.ok)
        throw new Error(`test entry ${kind}[${i}]: ${r.problems.map((p) => p.message).join('; ')}`);
      const desired = {
        ...r.entry,
        source: {
          file: `policies/tenants/test.yaml`,
          line: i + 1,
          column: 3,
          pointer: `/${kind}/${i}`,
        },
      } as DesiredEntry;
      (out[kind] as DesiredEntry[]).push(desired);
    });
  }
  return out;
}

export function tenantConfig(
  tenant: string,
  binding: ResolvedBinding,
  raw: { [K in Kind]?: RawEntryOf[K][] },
  extra: Partial<TenantConfig> = {},
): TenantConfig {
  return {
    tenant,
    file: `policies/tenants/${tenant}.yaml`,
    domains: [],
    include: [],
    ownership: 'managed',
    safety: {},
    bindings: [binding],
    entries: desiredEntries(raw),
    valid: true,
    ...extra,
  };
}

export interface RecordingLogger extends Logger {
  lines: string[];
}

export function recordingLogger(): RecordingLogger {
  const lines: string[] = [];
  const push = (message: string, fields?: Record<string, unknown>): void => {
    lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  };
  return { lines, debug: push, info: push, warn: push };
}
