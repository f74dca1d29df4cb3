import { lstat, mkdir, open, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
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
  return sandboxLocation(ctx).file;
}

/**
 * Where a tenant's state lives, and the folder it must stay in. A binding's `dir` (written
 * in a policy file) must resolve inside the repository root; `MXPOLICY_SANDBOX_DIR` (set by
 * whoever runs mxpolicy) may point anywhere. A tenant id only ever names its own file.
 */
function sandboxLocation(ctx: Pick<ProviderContext, 'tenant' | 'binding' | 'rootDir' | 'env'>): {
  file: string;
  confine?: string;
} {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(ctx.tenant))
    throw new SandboxStateError(`tenant id '${ctx.tenant}' cannot name a sandbox state file`);
  const fromEnv = ctx.env['MXPOLICY_SANDBOX_DIR'];
  if (fromEnv !== undefined && fromEnv !== '')
    return { file: path.resolve(ctx.rootDir, fromEnv, `${ctx.tenant}.json`) };
  const dir = (ctx.binding.settings as SandboxBinding).dir ?? DEFAULT_SANDBOX_DIR;
  const root = path.resolve(ctx.rootDir);
  const folder = path.resolve(root, dir);
  if (path.isAbsolute(dir) || folder === root || !folder.startsWith(root + path.sep))
    throw new SandboxStateError(
      `sandbox dir '${dir}' must be a folder inside the repository (relative, no '..')`,
    );
  return { file: path.join(folder, `${ctx.tenant}.json`), confine: root };
}

/** Refuse a state folder that a symbolic link takes outside the repository. */
async function assertConfined(file: string, root: string | undefined): Promise<void> {
  if (root === undefined) return;
  const realRoot = await realpath(root);
  // The deepest folder of the path that exists, resolved through any links.
  let dir = path.dirname(file);
  for (;;) {
    try {
      const real = await realpath(dir);
      if (real !== realRoot && !real.startsWith(realRoot + path.sep))
        throw new SandboxStateError(
          `${path.dirname(file)} leads outside the repository (to ${real}) through a symbolic link`,
        );
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  try {
    if ((await lstat(file)).isSymbolicLink())
      throw new SandboxStateError(`${file} is a symbolic link; a state file must be a plain file`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** How long a run waits for another run's lock on a state file before failing its changes. */
const LOCK_WAIT_MS = 30_000;
/** A lock older than this was left by a run that died: it is taken over. */
const LOCK_STALE_MS = 120_000;

/**
 * Hold `<file>.lock` (created atomically, O_EXCL) while `fn` runs: two applies on the same
 * tenant take turns, and each re-reads the state under the lock, so neither loses the
 * other's writes.
 */
async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  await mkdir(path.dirname(file), { recursive: true });
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(JSON.stringify({ pid: process.pid, at: new Date().toISOString() }));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await lstat(lock).then(
        (st) => Date.now() - st.mtimeMs,
        () => 0,
      );
      if (age > LOCK_STALE_MS) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() - started > LOCK_WAIT_MS)
        throw new SandboxStateError(
          `${lock} is held by another run for more than ${LOCK_WAIT_MS / 1000} s; nothing was written`,
        );
      await sleep(Math.min(200, 5 + attempt * 5 + Math.floor(Math.random() * 10)));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
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
/** The file operations of a state write (a test gives failing ones to prove the clean-up). */
export interface SandboxWriteIo {
  writeFile(file: string, text: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

const nodeWriteIo: SandboxWriteIo = {
  writeFile: (file, text) => writeFile(file, text),
  rename: (from, to) => rename(from, to),
};

class SandboxProvider implements Provider {
  readonly type = 'sandbox' as const;
  readonly capabilities: ProviderCapabilities = SANDBOX_CAPABILITIES;
  private loaded: Promise<SandboxFile> | undefined;
  private readonly unread: Set<Kind>;

  constructor(
    private readonly file: string,
    private readonly confine: string | undefined,
    kinds: readonly Kind[],
    private readonly io: SandboxWriteIo = nodeWriteIo,
  ) {
    this.unread = new Set(kinds);
  }

  private async load(): Promise<SandboxFile> {
    await assertConfined(this.file, this.confine);
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
    // Only a sandbox state file is ever rewritten (never a package.json a binding points at).
    const foreign = Object.keys(file).filter((k) => !(KINDS as readonly string[]).includes(k));
    if (foreign.length > 0)
      throw new SandboxStateError(
        `${this.file} is not a sandbox state file (it has ${foreign.map((k) => `'${k}'`).join(', ')}); it is never rewritten`,
      );
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
    try {
      return await withLock(this.file, () => this.applyLocked(kind, changes));
    } catch (err) {
      const reason = `could not write ${this.file}: ${(err as Error).message}`;
      return changes.map((c) => ({ kind, key: c.key, action: c.action, status: 'failed', reason }));
    }
  }

  /** Under the lock: re-read the state, apply, write atomically. */
  private async applyLocked(kind: Kind, changes: readonly Change[]): Promise<ChangeResult[]> {
    let file: SandboxFile;
    try {
      file = await this.load();
    } catch (err) {
      const reason = `could not read ${this.file}: ${(err as Error).message}`;
      return changes.map((c) => ({ kind, key: c.key, action: c.action, status: 'failed', reason }));
    }
    const list: unknown[] = [...(file[kind] ?? [])];
    // Every copy of a key, in file order. The planner keeps (and updates) the first copy of
    // a key and plans a delete for each further copy, so a delete takes the last copy left:
    // the one it planned to delete, never the one it kept.
    const index = new Map<string, number[]>();
    list.forEach((raw, i) => {
      const key = toLive(kind, raw, `${this.file}: ${kind}[${i}]`).key;
      const copies = index.get(key);
      if (copies === undefined) index.set(key, [i]);
      else copies.push(i);
    });
    const removed = new Set<number>();
    const results: ChangeResult[] = [];
    for (const change of changes) {
      const copies = index.get(change.key);
      const at = change.action === 'delete' ? copies?.at(-1) : copies?.[0];
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
        else index.set(change.key, [list.push(stored) - 1]);
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
          copies?.pop();
          if (copies?.length === 0) index.delete(change.key);
        }
        results.push(result('applied'));
      }
    }
    const kept = list.filter((_, i) => !removed.has(i));
    file[kind] = kept;
    const tmp = `${this.file}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      await this.io.writeFile(tmp, JSON.stringify(file, null, 2) + '\n');
      await this.io.rename(tmp, this.file);
    } catch (err) {
      // Leave no half-written temporary file behind next to the state.
      await rm(tmp, { force: true, recursive: true }).catch(() => undefined);
      const reason = `could not write ${this.file}: ${(err as Error).message}`;
      return results.map((r) => ({ ...r, status: 'failed', reason }));
    }
    return results;
  }
}

/** A sandbox provider type; `io` replaces the state write's file operations (tests). */
export function createSandboxProviderFactory(opts: { io?: SandboxWriteIo } = {}): ProviderFactory {
  return {
    type: 'sandbox',
    capabilities: SANDBOX_CAPABILITIES,
    bindingSchema: sandboxBindingSchema,
    create: (ctx) => {
      const { file, confine } = sandboxLocation(ctx);
      return new SandboxProvider(file, confine, ctx.binding.kinds, opts.io);
    },
  };
}

export const sandboxProvider: ProviderFactory = createSandboxProviderFactory();
