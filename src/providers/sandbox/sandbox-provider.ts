import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { normalizeEntry, type RawEntryOf } from '../../model/entries.js';
import { KINDS, type Kind } from '../../model/kinds.js';
import { sandboxBindingSchema } from './binding-schema.js';
import { SANDBOX_CAPABILITIES } from './capabilities.js';
import type { SandboxBinding } from '../../model/schema-types.generated.js';
import type { Change, ChangeResult } from '../../plan/types.js';
import type {
  LiveEntry,
  Provider,
  ProviderCapabilities,
  ProviderContext,
  ProviderFactory,
} from '../provider.js';

/** Marker on entries mxpolicy owns in a sandbox state file. */
export const SANDBOX_MARKER = { managedBy: 'mxpolicy' } as const;
export const DEFAULT_SANDBOX_DIR = '.mxpolicy/sandbox';

type StoredEntry = Record<string, unknown>;
type SandboxFile = Partial<Record<Kind, unknown[]>> & Record<string, unknown>;

export class SandboxStateError extends Error {
  override name = 'SandboxStateError';
}

/** `MXPOLICY_SANDBOX_DIR` wins over the binding's `dir`; both resolve against the repo root. */
export function sandboxStateFile(
  ctx: Pick<ProviderContext, 'tenant' | 'binding' | 'rootDir' | 'env'>,
): string {
  const dir =
    ctx.env['MXPOLICY_SANDBOX_DIR'] ??
    (ctx.binding.settings as SandboxBinding).dir ??
    DEFAULT_SANDBOX_DIR;
  return path.resolve(ctx.rootDir, dir, `${ctx.tenant}.json`);
}

const REQUIRED: Record<Kind, readonly string[]> = {
  blockedSenders: ['sender', 'reason'],
  exemptions: ['bypass', 'reason'],
  holds: ['id', 'matter'],
  routes: ['domain', 'deliverTo'],
};

function toLive(kind: Kind, value: unknown, where: string): LiveEntry {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new SandboxStateError(`${where} must be an object`);
  const raw = value as StoredEntry;
  for (const field of REQUIRED[kind])
    if (typeof raw[field] !== 'string')
      throw new SandboxStateError(`${where}: '${field}' must be a string`);
  if (
    kind === 'exemptions' &&
    typeof raw['sender'] !== 'string' &&
    typeof raw['recipient'] !== 'string'
  )
    throw new SandboxStateError(`${where}: needs 'sender' or 'recipient'`);
  if (
    kind === 'holds' &&
    raw['custodians'] !== 'all' &&
    !(Array.isArray(raw['custodians']) && raw['custodians'].every((c) => typeof c === 'string'))
  )
    throw new SandboxStateError(`${where}: 'custodians' must be a list of addresses, or all`);
  const { managedBy, ...fields } = raw;
  const result = normalizeEntry(kind, fields as unknown as RawEntryOf[typeof kind]);
  if (!result.ok)
    throw new SandboxStateError(`${where}: ${result.problems.map((p) => p.message).join('; ')}`);
  return { ...result.entry, managed: managedBy === SANDBOX_MARKER.managedBy };
}

/**
 * Live state in a JSON file per tenant: `{ blockedSenders: [...], exemptions: [...], holds:
 * [...], routes: [...] }`, entries in the YAML shape plus `"managedBy": "mxpolicy"` on
 * those mxpolicy owns. A missing file is an empty tenant; a corrupt one is an error for
 * that tenant. Writes are atomic (temporary file, then rename).
 */
class SandboxProvider implements Provider {
  readonly type = 'sandbox' as const;
  readonly capabilities: ProviderCapabilities = SANDBOX_CAPABILITIES;
  private loaded: Promise<SandboxFile> | undefined;
  private readonly unread: Set<Kind>;

  constructor(
    private readonly file: string,
    kinds: readonly Kind[],
  ) {
    this.unread = new Set(kinds);
  }

  private async load(): Promise<SandboxFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new SandboxStateError(`${this.file} is not valid JSON: ${(err as Error).message}`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data))
      throw new SandboxStateError(`${this.file} must hold a JSON object`);
    const file = data as SandboxFile;
    for (const kind of KINDS) {
      const list = file[kind];
      if (list !== undefined && !Array.isArray(list))
        throw new SandboxStateError(`${this.file}: '${kind}' must be a list`);
    }
    return file;
  }

  async read(kind: Kind): Promise<LiveEntry[]> {
    this.loaded ??= this.load();
    const file = await this.loaded;
    // The file is parsed once for all kinds, and let go once every kind has been read.
    this.unread.delete(kind);
    if (this.unread.size === 0) this.loaded = undefined;
    return (file[kind] ?? []).map((raw, i) => toLive(kind, raw, `${this.file}: ${kind}[${i}]`));
  }

  async apply(kind: Kind, changes: readonly Change[]): Promise<ChangeResult[]> {
    let file: SandboxFile;
    try {
      file = await this.load();
    } catch (err) {
      const reason = `could not read ${this.file}: ${(err as Error).message}`;
      return changes.map((c) => ({ kind, key: c.key, action: c.action, status: 'failed', reason }));
    }
    const list: unknown[] = [...(file[kind] ?? [])];
    const index = new Map<string, number>();
    list.forEach((raw, i) => {
      const key = toLive(kind, raw, `${this.file}: ${kind}[${i}]`).key;
      if (!index.has(key)) index.set(key, i);
    });
    const removed = new Set<number>();
    const results: ChangeResult[] = [];
    for (const change of changes) {
      const at = index.get(change.key);
      const stored =
        change.after !== undefined ? { ...(change.after as object), ...SANDBOX_MARKER } : {};
      const result = (status: ChangeResult['status'], reason?: string): ChangeResult => ({
        kind,
        key: change.key,
        action: change.action,
        status,
        ...(reason !== undefined ? { reason } : {}),
      });
      if (change.action === 'create') {
        // Idempotent: a create that already took effect overwrites instead of duplicating.
        if (at !== undefined) list[at] = stored;
        else index.set(change.key, list.push(stored) - 1);
        results.push(result('applied'));
      } else if (change.action === 'update') {
        if (at === undefined)
          results.push(result('failed', 'entry no longer exists live; re-run plan'));
        else {
          list[at] = stored;
          results.push(result('applied'));
        }
      } else {
        if (at !== undefined) {
          removed.add(at);
          index.delete(change.key);
        }
        results.push(result('applied'));
      }
    }
    const kept = list.filter((_, i) => !removed.has(i));
    file[kind] = kept;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(tmp, JSON.stringify(file, null, 2) + '\n');
      await rename(tmp, this.file);
    } catch (err) {
      const reason = `could not write ${this.file}: ${(err as Error).message}`;
      return results.map((r) => ({ ...r, status: 'failed', reason }));
    }
    return results;
  }
}

export const sandboxProvider: ProviderFactory = {
  type: 'sandbox',
  capabilities: SANDBOX_CAPABILITIES,
  bindingSchema: sandboxBindingSchema,
  create: (ctx) => new SandboxProvider(sandboxStateFile(ctx), ctx.binding.kinds),
};
