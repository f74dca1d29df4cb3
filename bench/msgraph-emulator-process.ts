import { startMsGraphEmulator, type MsGraphEmulator } from '../test/emulators/msgraph/emulator.js';
import { serveEmulator } from './emulator-child.js';

/**
 * The Graph benchmark's emulator, in its own process (emulator-child.ts) so that serving
 * 50,000 sources does not steal CPU from the client being measured.
 */

export const BENCH_TENANT = '9f8e7d6c-5b4a-4039-8271-605f4e3d2c1b';
export const BENCH_CLIENT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
export const BENCH_SECRET = 'bench-client-secret';
export const BENCH_CASE = 'c0ffee00-0000-4000-8000-00000000c0de';

interface Start {
  type: 'start';
  mailboxes: number;
  withoutMail: number;
  disabled: number;
  latencyMs: number;
  settleMs: number;
  sourceLimit: number;
}
type Own = { type: 'clear-holds' } | { type: 'holds' } | { type: 'add-users'; count: number };
export type Command = Start | Own;

const mailOf = (i: number): string => `user${String(i).padStart(6, '0')}@contoso-bench.example`;

let userCount = 0;

serveEmulator<MsGraphEmulator, Start, Own>({
  start: async (cmd) => {
    const emu = await startMsGraphEmulator({
      latencyMs: cmd.latencyMs,
      settleMs: cmd.settleMs,
      sourceLimit: cmd.sourceLimit,
    });
    const t = emu.addTenant(BENCH_TENANT);
    t.addApp(BENCH_CLIENT, BENCH_SECRET);
    t.addCase({ id: BENCH_CASE, displayName: 'Bench matter' });
    // Rooms and shared resources without mail, and leavers' disabled accounts, are
    // spread through the directory (so every page has some), then the mailboxes.
    const users: { mail: string | null; accountEnabled: boolean; displayName?: string }[] = [];
    for (let i = 0; i < cmd.mailboxes; i++) {
      users.push({ mail: mailOf(i), accountEnabled: true });
      if (i % 100 === 0 && i / 100 < cmd.withoutMail)
        users.push({ mail: null, accountEnabled: true, displayName: `Room ${i}` });
      if (i % 500 === 0 && i / 500 < cmd.disabled)
        users.push({ mail: `leaver${i}@contoso-bench.example`, accountEnabled: false });
    }
    t.addUsers(users);
    userCount = cmd.mailboxes;
    return { emu, reply: { graphUrl: emu.graphUrl, authorityUrl: emu.authorityUrl } };
  },
  commands: {
    holds: (emu) => {
      const holds = emu.tenant(BENCH_TENANT).holds(BENCH_CASE);
      const emails = holds.flatMap((h) => h.sources.map((s) => s.email.toLowerCase()));
      return {
        policies: holds.length,
        sources: emails.length,
        distinct: new Set(emails).size,
        largest: Math.max(0, ...holds.map((h) => h.sources.length)),
        statuses: holds.map((h) => h.status),
      };
    },
    'add-users': (emu, cmd) => {
      emu
        .tenant(BENCH_TENANT)
        .addUsers(Array.from({ length: cmd.count }, (_, i) => ({ mail: mailOf(userCount + i) })));
      userCount += cmd.count;
      return {};
    },
    'clear-holds': (emu) => {
      emu.tenant(BENCH_TENANT).clearHolds(BENCH_CASE);
      return {};
    },
  },
});
