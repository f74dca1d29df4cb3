import { blockedSenderToVendor, exemptionToVendor } from '../src/providers/cloudflare/map.js';
import {
  startCloudflareEmulator,
  type CloudflareEmulator,
} from '../test/emulators/cloudflare/emulator.js';
import {
  accountOf,
  benchData,
  benchDomains,
  tenantId,
  tokenOf,
  type BenchShape,
} from './cloudflare-data.js';
import { serveEmulator } from './emulator-child.js';

/**
 * The Cloudflare benchmarks' emulator, in its own process (emulator-child.ts) so that serving
 * 300,000 entries does not steal CPU from the client being measured.
 */

export interface Start {
  type: 'start';
  shape: BenchShape;
  latencyMs: number;
  /**
   * Seed as an acquired tenant looks: no ownership marker (the comment is the reason
   * alone), plus `regexPerTenant` regex patterns policy files cannot express.
   */
  unmanaged?: { regexPerTenant: number };
  /** One token for every account (one Cloudflare user), instead of one per tenant. */
  sharedToken?: string;
  /** Budget of each token, and the block once it is exceeded (default: none). */
  rateLimit?: { requests: number; windowMs: number };
  blockMs?: number;
  /** Accounts start with no entries (a full apply from empty); only the domain exists. */
  empty?: boolean;
  /** Tenants whose account accepts connections and never answers. */
  hang?: number[];
}

/** Answer (`created-reached`) once the emulator has created `count` objects: when those writes landed. */
type WatchCreated = { type: 'watch-created'; count: number };

export type Command = Start | WatchCreated;

/** The tenant's one protected domain, as the policies' route declares it (bench data). */
const domainOf = (t: number): Record<string, unknown> => ({
  domain: `${tenantId(t)}.mail.example`,
  transport: `mx1.${tenantId(t)}.mail.example`,
  require_tls_inbound: true,
  require_tls_outbound: true,
  allowed_delivery_modes: ['DIRECT'],
  drop_dispositions: ['MALICIOUS'],
  ip_restrictions: [],
  regions: ['GLOBAL'],
});

async function start(cmd: Start): Promise<{ emu: CloudflareEmulator; reply: { url: string } }> {
  const emu = await startCloudflareEmulator({
    latencyMs: cmd.latencyMs,
    ...(cmd.rateLimit !== undefined ? { rateLimit: cmd.rateLimit } : {}),
    ...(cmd.blockMs !== undefined ? { blockMs: cmd.blockMs } : {}),
  });
  const data = cmd.empty === true ? undefined : benchData(cmd.shape, benchDomains());
  for (let t = 0; t < cmd.shape.tenants; t++) {
    const acct = emu.addAccount(accountOf(t), cmd.sharedToken ?? tokenOf(t));
    if (cmd.hang?.includes(t) === true)
      emu.inject({
        path: new RegExp(`^/accounts/${accountOf(t)}/`),
        fault: 'timeout',
        times: Number.MAX_SAFE_INTEGER,
      });
    if (data === undefined) {
      acct.seed('domains', [domainOf(t)]);
      continue;
    }
    const mine = data.tenant(t);
    const body = <T>(m: { ok: true; body: T } | { ok: false; reason: string }): T => {
      if (!m.ok) throw new Error(m.reason);
      return m.body;
    };
    const plain = <T extends { comments: string }>(o: T, reason: string): T =>
      cmd.unmanaged !== undefined ? { ...o, comments: reason } : o;
    acct.seed('block_senders', [
      ...[...data.baseline.blockedSenders, ...mine.blockedSenders].map((e) =>
        plain(body(blockedSenderToVendor(e)), e.reason),
      ),
      ...Array.from({ length: cmd.unmanaged?.regexPerTenant ?? 0 }, (_, i) => ({
        pattern: `.*@promo${i}\\.t${t}\\.example`,
        pattern_type: 'EMAIL',
        is_regex: true,
        comments: 'regex from the old console',
      })),
    ]);
    acct.seed(
      'allow_policies',
      [...data.baseline.exemptions, ...mine.exemptions].map((e) => ({
        ...plain(body(exemptionToVendor(e)), e.reason),
      })),
    );
    acct.seed('domains', [domainOf(t)]);
  }
  return { emu, reply: { url: emu.url } };
}

serveEmulator<CloudflareEmulator, Start, WatchCreated>({
  start,
  commands: {
    'watch-created': (emu, cmd) =>
      new Promise((resolve) => {
        const started = Date.now();
        const timer = setInterval(() => {
          if (emu.stats.created < cmd.count && Date.now() - started < 600_000) return;
          clearInterval(timer);
          resolve({ type: 'created-reached', at: Date.now(), created: emu.stats.created });
        }, 5);
      }),
  },
});
