import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, TOKEN, setupCloudflare, type CloudflareSetup } from './cloudflare-harness.js';

let cf: CloudflareSetup;
beforeAll(async () => {
  cf = await setupCloudflare({ kinds: ['blockedSenders'] });
});
afterAll(async () => {
  await cf.close();
});

const create = (access: 'read' | 'write', env: Record<string, string>) =>
  cf.factory.create({
    tenant: 'acme',
    binding: {
      ...cf.binding,
      settings: {
        type: 'cloudflare',
        account: ACCOUNT,
        tokenEnv: 'CF_WRITE',
        readTokenEnv: 'CF_READ',
        baseUrl: cf.emu.url,
      },
    },
    rootDir: '.',
    env,
    access,
    dispatcher: cf.dispatcher,
    logger: cf.logger,
    now: () => new Date(),
  });

describe('readTokenEnv', () => {
  it('plan and drift read with the read-only token; the write token need not exist', async () => {
    await expect(create('read', { CF_READ: TOKEN }).read('blockedSenders')).resolves.toEqual([]);
  });

  it('never falls back to the write token when reading with readTokenEnv named', async () => {
    await expect(create('read', { CF_WRITE: TOKEN }).read('blockedSenders')).rejects.toThrow(
      /CF_READ .* is not set/,
    );
  });

  it('apply uses tokenEnv, never the read-only token', async () => {
    await expect(create('write', { CF_READ: TOKEN }).read('blockedSenders')).rejects.toThrow(
      /CF_WRITE .* is not set/,
    );
    await expect(create('write', { CF_WRITE: TOKEN }).read('blockedSenders')).resolves.toEqual([]);
  });
});
