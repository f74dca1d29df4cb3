import { blockedSenderToVendor, exemptionToVendor } from '../src/providers/cloudflare/map.js';
import {
  startCloudflareEmulator,
  type CloudflareEmulator,
} from '../test/emulators/cloudflare/emulator.js';
import { accountOf, benchData, benchDomains, tokenOf, type BenchShape } from './cloudflare-data.js';

/**
 * The benchmark's emulator, in its own process so that it has its own core: serving
 * 300,000 entries must not steal CPU from the client being measured. Driven over IPC.
 */

export type Command =
  | {
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
    }
  | { type: 'stats' }
  | { type: 'reset' }
  | { type: 'validate-responses'; on: boolean }
  | { type: 'close' };

let emu: CloudflareEmulator | undefined;

function reply(message: unknown): void {
  process.send?.(message);
}

process.on('message', (cmd: Command) => {
  void (async () => {
    if (cmd.type === 'start') {
      emu = await startCloudflareEmulator({
        latencyMs: cmd.latencyMs,
        ...(cmd.rateLimit !== undefined ? { rateLimit: cmd.rateLimit } : {}),
        ...(cmd.blockMs !== undefined ? { blockMs: cmd.blockMs } : {}),
      });
      const data = benchData(cmd.shape, benchDomains());
      for (let t = 0; t < cmd.shape.tenants; t++) {
        const acct = emu.addAccount(accountOf(t), cmd.sharedToken ?? tokenOf(t));
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
        acct.seed('domains', [
          {
            domain: mine.route.domain,
            transport: mine.route.deliverTo,
            require_tls_inbound: true,
            require_tls_outbound: true,
            allowed_delivery_modes: ['DIRECT'],
            drop_dispositions: ['MALICIOUS'],
            ip_restrictions: [],
            regions: ['GLOBAL'],
          },
        ]);
      }
      reply({ type: 'started', url: emu.url });
    } else if (cmd.type === 'stats') {
      reply({
        type: 'stats',
        stats: emu?.stats,
        violations: emu?.violations.length ?? 0,
        cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      });
    } else if (cmd.type === 'validate-responses') {
      emu?.setValidateResponses(cmd.on);
      reply({ type: 'validate-responses' });
    } else if (cmd.type === 'reset') {
      emu?.resetStats();
      reply({ type: 'reset' });
    } else {
      await emu?.close();
      reply({ type: 'closed' });
      process.exit(0);
    }
  })().catch((err: unknown) => {
    reply({ type: 'error', message: err instanceof Error ? err.stack : String(err) });
  });
});
