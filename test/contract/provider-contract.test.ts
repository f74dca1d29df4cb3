import { CLOUDFLARE_CAPABILITIES } from '../../src/providers/cloudflare/capabilities.js';
import { SANDBOX_CAPABILITIES } from '../../src/providers/sandbox/capabilities.js';
import { MIMECAST_CAPABILITIES } from '../../src/providers/mimecast/capabilities.js';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/providers/provider.js';
import { builtinProviders } from '../../src/providers/registry.js';
import { ACCOUNT, setupCloudflare, TOKEN_ENV } from '../providers/cloudflare-harness.js';
import { CLIENT_ID, SECRET_ENV, setupMimecast } from '../providers/mimecast-harness.js';
import { describeProviderContract, type ContractHarness } from './provider-contract.js';

describeProviderContract('sandbox', SANDBOX_CAPABILITIES, async (): Promise<ContractHarness> => {
  const root = await mkdtemp(path.join(tmpdir(), 'mxpolicy-contract-'));
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
  const save = async (tenant: string, data: unknown): Promise<void> => {
    await mkdir(dir, { recursive: true });
    await writeFile(file(tenant), JSON.stringify(data));
  };
  return {
    providersYaml: '  gateway: { type: sandbox }',
    deps: {
      registry: builtinProviders,
      rootDir: root,
      env: {},
      logger: silentLogger,
      now: () => new Date(),
    },
    async seedUnmanagedBlockedSender(tenant, sender, reason) {
      const data = await load(tenant);
      data['blockedSenders'] = [...(data['blockedSenders'] ?? []), { sender, reason }];
      await save(tenant, data);
    },
    async seedDomain(tenant, domain, deliverTo) {
      const data = await load(tenant);
      data['routes'] = [...(data['routes'] ?? []), { domain, deliverTo, managedBy: 'mxpolicy' }];
      await save(tenant, data);
    },
    async liveKeys(tenant, kind) {
      const field = {
        blockedSenders: 'sender',
        exemptions: 'sender',
        holds: 'id',
        routes: 'domain',
      }[kind];
      return ((await load(tenant))[kind] ?? []).map((e) => String(e[field]));
    },
    close: () => rm(root, { recursive: true, force: true }),
  };
});

describeProviderContract(
  'cloudflare (emulator)',
  CLOUDFLARE_CAPABILITIES,
  async (): Promise<ContractHarness> => {
    const cf = await setupCloudflare();
    return {
      providersYaml: `  gateway: { type: cloudflare, account: ${ACCOUNT}, tokenEnv: ${TOKEN_ENV}, baseUrl: '${cf.emu.url}' }`,
      deps: {
        registry: { cloudflare: cf.factory },
        rootDir: '.',
        env: cf.env,
        dispatcher: cf.dispatcher,
        logger: cf.logger,
        now: () => new Date(cf.clock.now()),
      },
      async seedUnmanagedBlockedSender(_tenant, sender, reason) {
        cf.account.seed('block_senders', [
          { pattern: sender, pattern_type: 'DOMAIN', is_regex: false, comments: reason },
        ]);
        await Promise.resolve();
      },
      async seedDomain(_tenant, domain, deliverTo) {
        cf.account.seed('domains', [
          {
            domain,
            transport: deliverTo,
            allowed_delivery_modes: ['DIRECT'],
            drop_dispositions: ['MALICIOUS', 'SPOOF'],
            ip_restrictions: [],
            regions: ['GLOBAL'],
          },
        ]);
        await Promise.resolve();
      },
      async liveKeys(_tenant, kind) {
        await Promise.resolve();
        if (kind !== 'blockedSenders')
          throw new Error(`no live listing of ${kind} in this harness`);
        return cf.account.list('block_senders').map((o) => String(o['pattern']));
      },
      async close() {
        if (cf.emu.violations.length > 0)
          throw new Error(`contract violations: ${cf.emu.violations.join('\n')}`);
        await cf.close();
      },
    };
  },
);

describeProviderContract(
  'mimecast (emulator)',
  MIMECAST_CAPABILITIES,
  async (): Promise<ContractHarness> => {
    const mc = await setupMimecast();
    return {
      providersYaml: `  gateway: { type: mimecast, clientId: ${CLIENT_ID}, secretEnv: ${SECRET_ENV}, baseUrl: '${mc.emu.url}' }`,
      deps: {
        registry: { mimecast: mc.factory },
        rootDir: '.',
        env: mc.env,
        dispatcher: mc.dispatcher,
        logger: mc.logger,
        now: () => new Date(mc.clock.now()),
      },
      async seedUnmanagedBlockedSender(_tenant, sender, reason) {
        mc.account.seed('blockedsenders', [
          {
            option: 'block_sender',
            policy: {
              description: reason,
              from: { type: 'email_domain', emailDomain: sender },
              to: { type: 'everyone' },
            },
          },
        ]);
        await Promise.resolve();
      },
      async liveKeys(_tenant, kind) {
        await Promise.resolve();
        const family = kind === 'blockedSenders' ? 'blockedsenders' : 'antispoofing-bypass';
        return mc.account.list(family).map((p) => {
          const from = p.policy['from'] as { emailAddress?: string; emailDomain?: string };
          const ips = (p.policy['conditions'] as { sourceIPs?: string[] }).sourceIPs ?? [];
          const sender =
            from.emailAddress ?? from.emailDomain ?? (ips[0] ?? '').replace(/\/(32|128)$/, '');
          return kind === 'blockedSenders' ? sender : `sender:${sender}`;
        });
      },
      async close() {
        if (mc.emu.violations.length > 0)
          throw new Error(`contract violations: ${mc.emu.violations.join('\n')}`);
        await mc.close();
      },
    };
  },
);
