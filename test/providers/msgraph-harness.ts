import type { Agent } from 'undici';
import type { ResolvedBinding } from '../../src/config/policy-set.js';
import { createHttpDispatcher } from '../../src/providers/http/client.js';
import {
  createMsGraphProviderFactory,
  type MsGraphProviderOptions,
} from '../../src/providers/msgraph/msgraph-provider.js';
import type { Provider, ProviderFactory } from '../../src/providers/provider.js';
import { loadGraphContract, type GraphContract } from '../emulators/msgraph/contract.js';
import {
  startMsGraphEmulator,
  type MsGraphEmulator,
  type MsGraphEmulatorOptions,
  type TenantState,
} from '../emulators/msgraph/emulator.js';
import { recordingLogger, type RecordingLogger } from '../support/tenants.js';

export const M365_TENANT = '5f1c7e2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b';
export const M365_CLIENT = '8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a';
export const M365_SECRET = 'graph-test-secret~Qx81b7c0ffee';
export const M365_SECRET_ENV = 'M365_SECRET_TEST';
export const M365_CASE = '3c2b1a09-8f7e-4d6c-b5a4-938271605f4e';

// Compiling the contract's validators takes a moment: once per test file is enough.
let contract: GraphContract | undefined;

export interface MsGraphSetup {
  emu: MsGraphEmulator;
  tenant: TenantState;
  dispatcher: Agent;
  factory: ProviderFactory;
  logger: RecordingLogger;
  binding: ResolvedBinding;
  env: Record<string, string>;
  /** The `providers:` block for a tenant file. */
  providersYaml(extra?: string): string;
  provider(): Provider;
  close(): Promise<void>;
}

/** A Graph emulator (one tenant, one open case, a small directory) and a factory wired to it. */
export async function setupMsGraph(
  opts: {
    emulator?: MsGraphEmulatorOptions;
    provider?: MsGraphProviderOptions;
    users?: readonly string[];
    maxSourcesPerPolicy?: number;
  } = {},
): Promise<MsGraphSetup> {
  contract ??= loadGraphContract();
  const emu = await startMsGraphEmulator({ settleMs: 5, contract, ...opts.emulator });
  const tenant = emu.addTenant(M365_TENANT);
  tenant.addApp(M365_CLIENT, M365_SECRET);
  tenant.addCase({ id: M365_CASE, displayName: 'Doe v. Acme' });
  tenant.addUsers(
    (opts.users ?? ['ann', 'bob', 'carol', 'dave', 'erin'].map((u) => `${u}@acme.example`)).map(
      (mail) => ({ mail }),
    ),
  );
  const dispatcher = createHttpDispatcher({ connections: 8, connectTimeoutMs: 2000 });
  const factory = createMsGraphProviderFactory({
    random: () => 0.5,
    retry: { baseDelayMs: 5, maxDelayMs: 50 },
    headersTimeoutMs: 5000,
    ...opts.provider,
  });
  const logger = recordingLogger();
  const settings = {
    type: 'msgraph' as const,
    tenantId: M365_TENANT,
    clientId: M365_CLIENT,
    secretEnv: M365_SECRET_ENV,
    case: M365_CASE,
    baseUrl: emu.graphUrl,
    authorityUrl: emu.authorityUrl,
    ...(opts.maxSourcesPerPolicy !== undefined
      ? { maxSourcesPerPolicy: opts.maxSourcesPerPolicy }
      : {}),
  };
  const binding: ResolvedBinding = { name: 'm365', type: 'msgraph', kinds: ['holds'], settings };
  const env = { [M365_SECRET_ENV]: M365_SECRET };
  return {
    emu,
    tenant,
    dispatcher,
    factory,
    logger,
    binding,
    env,
    providersYaml: (extra = '') =>
      `  m365: { type: msgraph, tenantId: ${M365_TENANT}, clientId: ${M365_CLIENT}, secretEnv: ${M365_SECRET_ENV}, case: ${M365_CASE}, baseUrl: '${emu.graphUrl}', authorityUrl: '${emu.authorityUrl}'${opts.maxSourcesPerPolicy !== undefined ? `, maxSourcesPerPolicy: ${opts.maxSourcesPerPolicy}` : ''}${extra} }`,
    provider: () =>
      factory.create({
        tenant: 'acme',
        binding,
        rootDir: '.',
        env,
        dispatcher,
        logger,
        now: () => new Date(),
      }),
    close: async () => {
      await emu.close();
      await dispatcher.close();
    },
  };
}
