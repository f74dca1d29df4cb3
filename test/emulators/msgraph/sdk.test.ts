import {
  BatchRequestContent,
  BatchResponseContent,
  Client,
  HTTPMessageHandler,
  type Context,
  type Middleware,
} from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMsGraphEmulator, type MsGraphEmulator } from './emulator.js';

/**
 * Microsoft's own Graph client (`@microsoft/microsoft-graph-client`) against the emulator:
 * if the emulator answered in a shape the SDK (and so Graph) does not use, or accepted
 * requests the SDK would not send, these tests would see it.
 */
describe('Microsoft Graph emulator, driven by the official Graph SDK', () => {
  let emu: MsGraphEmulator;
  let client: Client;
  const CASE = 'sdk-case';

  beforeAll(async () => {
    emu = await startMsGraphEmulator({ settleMs: 0 });
    const t = emu.addTenant('t1');
    t.addApp('app', 'secret');
    t.addCase({ id: CASE, displayName: 'SDK matter' });
    t.addUsers(Array.from({ length: 25 }, (_, i) => ({ mail: `p${i}@fabrikam.example` })));
    const res = await fetch(`${emu.authorityUrl}/t1/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'app',
        client_secret: 'secret',
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    const token = String(((await res.json()) as Record<string, unknown>)['access_token']);
    // The SDK's own auth handler adds the token only to https hosts; the emulator is plain
    // http on 127.0.0.1, so a small middleware in front of the SDK's HTTP handler does it.
    let next: Middleware | undefined;
    const bearer: Middleware = {
      async execute(ctx: Context) {
        const headers = new Headers(ctx.options?.headers);
        headers.set('Authorization', `Bearer ${token}`);
        ctx.options = { ...ctx.options, headers };
        await next?.execute(ctx);
      },
      setNext(m: Middleware) {
        next = m;
      },
    };
    bearer.setNext?.(new HTTPMessageHandler());
    client = Client.initWithMiddleware({
      baseUrl: `${emu.url}/`,
      defaultVersion: 'v1.0',
      middleware: bearer,
    });
  });
  afterAll(async () => {
    expect(emu.violations).toEqual([]);
    await emu.close();
  });

  it('pages users with $select/$top and follows @odata.nextLink to the end', async () => {
    const mails: string[] = [];
    let request = client.api('/users').select(['id', 'mail', 'accountEnabled']).top(7);
    let pages = 0;
    for (;;) {
      const page = (await request.get()) as {
        value: { mail: string }[];
        '@odata.nextLink'?: string;
      };
      pages++;
      mails.push(...page.value.map((u) => u.mail));
      const next = page['@odata.nextLink'];
      if (next === undefined) break;
      // The SDK takes an absolute link only for https (its PageIterator would prefix an
      // http one with the base URL): give it the path below the version root instead.
      expect(next.startsWith(`${emu.graphUrl}/users?`)).toBe(true);
      request = client.api(next.slice(emu.graphUrl.length));
    }
    expect(pages).toBe(4);
    expect(new Set(mails).size).toBe(25);
  });

  it('creates a hold, adds sources through BatchRequestContent, reads, patches and deletes it', async () => {
    const base = `/security/cases/ediscoveryCases/${CASE}/legalHolds`;
    const hold = (await client.api(base).post({
      displayName: 'LH-SDK',
      description: 'from the SDK',
    })) as { id: string; status: string };
    expect(hold.status).toBe('pending');
    const batch = new BatchRequestContent(
      [0, 1, 2].map((i) => ({
        id: String(i),
        request: new Request(`${emu.graphUrl}${base}/${hold.id}/userSources`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ email: `p${i}@fabrikam.example`, includedSources: 'mailbox' }),
        }),
      })),
    );
    const raw: unknown = await client.api('/$batch').post(await batch.getContent());
    const responses = new BatchResponseContent(raw as never).getResponses();
    expect([...responses.values()].map((r) => r.status)).toEqual([201, 201, 201]);
    const sources = (await client.api(`${base}/${hold.id}/userSources`).get()) as {
      value: { email: string }[];
    };
    expect(sources.value.map((s) => s.email).sort()).toEqual([
      'p0@fabrikam.example',
      'p1@fabrikam.example',
      'p2@fabrikam.example',
    ]);
    await client.api(`${base}/${hold.id}`).patch({ description: 'patched' });
    const read = (await client.api(`${base}/${hold.id}`).get()) as { description: string };
    expect(read.description).toBe('patched');
    await client
      .api(`${base}/${hold.id}/retryPolicy`)
      .post(undefined)
      .catch((e: unknown) => e);
    await client.api(`${base}/${hold.id}`).delete();
    await expect(client.api(`${base}/${hold.id}`).get()).rejects.toMatchObject({ statusCode: 404 });
  });
});
