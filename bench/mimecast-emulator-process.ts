import {
  startMimecastEmulator,
  type MimecastEmulator,
} from '../test/emulators/mimecast/emulator.js';
import { serveEmulator } from './emulator-child.js';
import { clientIdOf, secretOf } from './mimecast-data.js';

/**
 * The Mimecast benchmark's emulator, in its own process (emulator-child.ts) so that serving
 * 275,000 policies does not steal CPU from the client being measured.
 */

type Start = { type: 'start'; tenants: number; latencyMs: number };
/** Empty every account (for the next "full apply from empty" run). */
type Clear = { type: 'clear' };
export type Command = Start | Clear;

let tenants = 0;
// addAccount replaces an account with an empty one (tokens stay valid).
const addAccounts = (e: MimecastEmulator): void => {
  for (let t = 0; t < tenants; t++) e.addAccount(clientIdOf(t), secretOf(t));
};

serveEmulator<MimecastEmulator, Start, Clear>({
  start: async (cmd) => {
    tenants = cmd.tenants;
    const emu = await startMimecastEmulator({ latencyMs: cmd.latencyMs });
    addAccounts(emu);
    return { emu, reply: { url: emu.url } };
  },
  // The request log is for tests; the benchmark wants the counters only.
  stats: ({ stats: { log: _log, ...stats } }) => stats,
  commands: {
    clear: (emu) => {
      addAccounts(emu);
      return {};
    },
  },
});
