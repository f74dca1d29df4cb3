import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/cli.js';
import type { ResolvedBinding } from '../../config/policy-set.js';
import type { Change } from '../../plan/types.js';
import { silentLogger, type Provider } from '../provider.js';
import {
  createSandboxProviderFactory,
  sandboxProvider,
  sandboxStateFile,
} from './sandbox-provider.js';

const binding: ResolvedBinding = {
  name: 'sandbox',
  type: 'sandbox',
  kinds: ['blockedSenders', 'exemptions', 'holds', 'routes'],
  settings: { type: 'sandbox', dir: 'state' },
};

async function provider(
  files: Record<string, string> = {},
): Promise<{ p: Provider; root: string; file: string }> {
  const root = await tempDir('mxpolicy-sandbox-');
  await mkdir(path.join(root, 'state'), { recursive: true });
  for (const [name, text] of Object.entries(files))
    await writeFile(path.join(root, 'state', name), text);
  const ctx = {
    tenant: 't',
    binding,
    rootDir: root,
    env: {},
    logger: silentLogger,
    now: () => new Date(),
  };
  return { p: sandboxProvider.create(ctx), root, file: sandboxStateFile(ctx) };
}

const create = (sender: string, reason = 'r'): Change => ({
  tenant: 't',
  kind: 'blockedSenders',
  key: sender,
  action: 'create',
  cause: 'desired',
  patch: [],
  after: { sender, reason },
});

describe('sandbox provider', () => {
  it('treats a missing file as an empty tenant', async () => {
    const { p } = await provider();
    expect(await p.read('blockedSenders')).toEqual([]);
  });

  it('normalizes hand-edited entries and reads the ownership marker', async () => {
    const { p } = await provider({
      't.json': JSON.stringify({
        blockedSenders: [
          { sender: ' Evil.Example. ', reason: 'r', managedBy: 'mxpolicy' },
          { sender: '10.1.2.3/8', reason: 'r' },
        ],
      }),
    });
    expect(await p.read('blockedSenders')).toEqual([
      {
        kind: 'blockedSenders',
        key: 'evil.example',
        value: { sender: 'evil.example', reason: 'r' },
        managed: true,
      },
      {
        kind: 'blockedSenders',
        key: '10.0.0.0/8',
        value: { sender: '10.0.0.0/8', reason: 'r' },
        managed: false,
      },
    ]);
  });

  it.each([
    ['not JSON', '{ nope', /is not valid JSON/],
    ['not an object', '[1, 2]', /must hold a JSON object/],
    ['a kind that is not a list', '{"blockedSenders": {}}', /'blockedSenders' must be a list/],
    [
      'an entry missing a field',
      '{"blockedSenders": [{"sender": "x.example"}]}',
      /blockedSenders\[0\]: 'reason' must be a string/,
    ],
    [
      'an invalid pattern',
      '{"blockedSenders": [{"sender": "192.168.007.1", "reason": "r"}]}',
      /not a valid IP address/,
    ],
  ])('refuses a corrupt file (%s)', async (_name, text, message) => {
    const { p } = await provider({ 't.json': text });
    await expect(p.read('blockedSenders')).rejects.toThrow(message);
  });

  it('writes entries in the YAML shape with the marker, atomically, keeping other entries', async () => {
    const { p, file } = await provider({
      't.json': JSON.stringify({
        blockedSenders: [{ sender: 'console.example', reason: 'by hand' }],
        routes: [],
      }),
    });
    const results = await p.apply('blockedSenders', [create('new.example')]);
    expect(results).toEqual([
      { kind: 'blockedSenders', key: 'new.example', action: 'create', status: 'applied' },
    ]);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      blockedSenders: [
        { sender: 'console.example', reason: 'by hand' },
        { sender: 'new.example', reason: 'r', managedBy: 'mxpolicy' },
      ],
      routes: [],
    });
    expect((await readdir(path.dirname(file))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('is idempotent: a repeated create overwrites instead of duplicating; a repeated delete succeeds', async () => {
    const { p, file } = await provider();
    await p.apply('blockedSenders', [create('x.example')]);
    await p.apply('blockedSenders', [create('x.example', 'again')]);
    expect(
      (JSON.parse(await readFile(file, 'utf8')) as { blockedSenders: unknown[] }).blockedSenders,
    ).toEqual([{ sender: 'x.example', reason: 'again', managedBy: 'mxpolicy' }]);
    const del: Change = {
      tenant: 't',
      kind: 'blockedSenders',
      key: 'x.example',
      action: 'delete',
      cause: 'desired',
      patch: [],
    };
    expect((await p.apply('blockedSenders', [del, del])).map((r) => r.status)).toEqual([
      'applied',
      'applied',
    ]);
    expect(
      (JSON.parse(await readFile(file, 'utf8')) as { blockedSenders: unknown[] }).blockedSenders,
    ).toEqual([]);
  });

  it('fails an update of an entry that vanished, with a reason, and applies the rest', async () => {
    const { p } = await provider();
    const update: Change = {
      tenant: 't',
      kind: 'blockedSenders',
      key: 'gone.example',
      action: 'update',
      cause: 'desired',
      patch: [{ op: 'replace', path: '/reason', value: 'r' }],
      before: { sender: 'gone.example', reason: 'x' },
      after: { sender: 'gone.example', reason: 'r' },
    };
    const results = await p.apply('blockedSenders', [update, create('ok.example')]);
    expect(results.map((r) => [r.key, r.status, r.reason])).toEqual([
      ['gone.example', 'failed', 'entry no longer exists live; re-run plan'],
      ['ok.example', 'applied', undefined],
    ]);
  });

  it('reports every change failed when the file cannot be written', async () => {
    const { p, root } = await provider();
    await writeFile(path.join(root, 'blocker'), 'a file where a folder should be');
    const blocked = sandboxProvider.create({
      tenant: 't',
      binding: { ...binding, settings: { type: 'sandbox', dir: 'blocker/sub' } },
      rootDir: root,
      env: {},
      logger: silentLogger,
      now: () => new Date(),
    });
    const results = await blocked.apply('blockedSenders', [
      create('a.example'),
      create('b.example'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(results[0]?.reason).toMatch(/^could not (read|write) .*blocker\/sub\/t\.json: ENOTDIR/);
    expect(await p.read('blockedSenders')).toEqual([]);
  });

  it.each([
    ['the temporary file is written in part', 'write'],
    ['the rename fails', 'rename'],
  ] as const)(
    'leaves no temporary file behind when a write fails (%s), and the state unchanged',
    async (_what, failing) => {
      const { p, root } = await provider();
      expect(
        (await p.apply('blockedSenders', [create('kept.example')])).map((r) => r.status),
      ).toEqual(['applied']);
      const before = await readFile(path.join(root, 'state', 't.json'), 'utf8');
      const broken = createSandboxProviderFactory({
        io: {
          async writeFile(file, text) {
            // Half of the text reaches the disk, then the disk is full.
            await writeFile(file, failing === 'write' ? text.slice(0, text.length / 2) : text);
            if (failing === 'write') throw new Error('ENOSPC: no space left on device');
          },
          rename() {
            return Promise.reject(new Error('EXDEV: cross-device link not permitted'));
          },
        },
      }).create({
        tenant: 't',
        binding,
        rootDir: root,
        env: {},
        logger: silentLogger,
        now: () => new Date(),
      });
      const results = await broken.apply('blockedSenders', [create('new.example')]);
      expect(results.map((r) => r.status)).toEqual(['failed']);
      expect(results[0]?.reason).toMatch(failing === 'write' ? /ENOSPC/ : /EXDEV/);
      // Only the state file is left (the lock is released too), as it was before.
      expect(await readdir(path.join(root, 'state'))).toEqual(['t.json']);
      expect(await readFile(path.join(root, 'state', 't.json'), 'utf8')).toBe(before);
    },
  );

  it('takes MXPOLICY_SANDBOX_DIR over the binding dir', () => {
    const file = sandboxStateFile({
      tenant: 'acme',
      binding,
      rootDir: '/repo',
      env: { MXPOLICY_SANDBOX_DIR: '/tmp/live' },
    });
    expect(file).toBe('/tmp/live/acme.json');
    expect(sandboxStateFile({ tenant: 'acme', binding, rootDir: '/repo', env: {} })).toBe(
      '/repo/state/acme.json',
    );
  });
});

describe('sandbox duplicates', () => {
  it('deletes the extra copy the planner planned to delete, keeping the first', async () => {
    const marker = { managedBy: 'mxpolicy' };
    const { p, file } = await provider({
      't.json': JSON.stringify({
        blockedSenders: [
          { sender: 'x.example', reason: 'kept', ...marker },
          { sender: 'other.example', reason: 'r', ...marker },
          { sender: 'x.example', reason: 'extra copy', ...marker },
        ],
      }),
    });
    const results = await p.apply('blockedSenders', [
      {
        tenant: 't',
        kind: 'blockedSenders',
        key: 'x.example',
        action: 'delete',
        cause: 'desired',
        patch: [],
        before: { sender: 'x.example', reason: 'extra copy' },
      },
    ]);
    expect(results.map((r) => r.status)).toEqual(['applied']);
    const state = JSON.parse(await readFile(file, 'utf8')) as {
      blockedSenders: { reason: string }[];
    };
    expect(state.blockedSenders.map((e) => e.reason)).toEqual(['kept', 'r']);
  });
});
