import { mkdtemp, readFile, rm, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { silentLogger } from '../../src/providers/provider.js';
import { builtinProviders } from '../../src/providers/registry.js';
import { M365_CASE, setupMsGraph } from '../providers/msgraph-harness.js';
import { describeHoldsContract, type HoldsHarness } from './holds-contract.js';

describeHoldsContract('sandbox', async (): Promise<HoldsHarness> => {
  const root = await mkdtemp(path.join(tmpdir(), 'mxpolicy-holds-'));
  const dir = path.join(root, '.mxpolicy/sandbox');
  const file = (tenant: string): string => path.join(dir, `${tenant}.json`);
  const load = async (tenant: string): Promise<Record<string, Record<string, unknown>[]>> => {
    try {
      return JSON.parse(await readFile(file(tenant), 'utf8')) as Record<
        string,
        Record<string, unknown>[]
      >;
    } catch {
      return {};
    }
  };
  return {
    providersYaml: '  vault: { type: sandbox }',
    deps: {
      registry: builtinProviders,
      rootDir: root,
      env: {},
      logger: silentLogger,
      now: () => new Date(),
    },
    async seedUnmanagedHold(tenant, id, custodians) {
      const data = await load(tenant);
      data['holds'] = [...(data['holds'] ?? []), { id, matter: 'by hand', custodians }];
      await mkdir(dir, { recursive: true });
      await writeFile(file(tenant), JSON.stringify(data));
    },
    async liveHolds(tenant) {
      return ((await load(tenant))['holds'] ?? []).map((h) => ({
        id: String(h['id']),
        custodians: h['custodians'] as string[],
      }));
    },
    close: () => rm(root, { recursive: true, force: true }),
  };
});

describeHoldsContract('msgraph (emulator)', async (): Promise<HoldsHarness> => {
  const g = await setupMsGraph();
  return {
    providersYaml: g.providersYaml(),
    deps: {
      registry: { msgraph: g.factory },
      rootDir: '.',
      env: g.env,
      dispatcher: g.dispatcher,
      logger: g.logger,
      now: () => new Date(),
      settle: { firstDelayMs: 10, maxDelayMs: 50, maxWaitMs: 5000 },
    },
    async seedUnmanagedHold(_tenant, id, custodians) {
      g.tenant.seedHold(M365_CASE, { displayName: id, description: 'by hand', emails: custodians });
      await Promise.resolve();
    },
    async liveHolds() {
      await Promise.resolve();
      return g.tenant.holds(M365_CASE).map((h) => ({
        id: h.displayName,
        custodians: h.sources.map((s) => s.email).sort(),
      }));
    },
    close: async () => {
      expect(g.emu.violations).toEqual([]);
      await g.close();
    },
  };
});
