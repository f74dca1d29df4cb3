import {
  startMimecastEmulator,
  type MimecastEmulator,
} from '../test/emulators/mimecast/emulator.js';
import { clientIdOf, secretOf } from './mimecast-data.js';

/**
 * The Mimecast benchmark's emulator, in its own process so that serving 275,000 policies
 * does not steal CPU from the client being measured. Driven over IPC.
 */

export type Command =
  | { type: 'start'; tenants: number; latencyMs: number }
  | { type: 'stats' }
  | { type: 'reset' }
  /** Empty every account (for the next "full apply from empty" run). */
  | { type: 'clear' }
  | { type: 'validate-responses'; on: boolean }
  | { type: 'close' };

let emu: MimecastEmulator | undefined;
let tenants = 0;

function reply(message: unknown): void {
  process.send?.(message);
}

const addAccounts = (e: MimecastEmulator): void => {
  for (let t = 0; t < tenants; t++) e.addAccount(clientIdOf(t), secretOf(t));
};

process.on('message', (cmd: Command) => {
  void (async () => {
    if (cmd.type === 'start') {
      tenants = cmd.tenants;
      emu = await startMimecastEmulator({ latencyMs: cmd.latencyMs });
      addAccounts(emu);
      reply({ type: 'started', url: emu.url });
    } else if (cmd.type === 'stats') {
      const { log: _log, ...stats } = emu?.stats ?? { log: [] };
      reply({
        type: 'stats',
        stats,
        violations: emu?.violations.length ?? 0,
        firstViolation: emu?.violations[0],
        cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      });
    } else if (cmd.type === 'validate-responses') {
      emu?.setValidateResponses(cmd.on);
      reply({ type: 'validate-responses' });
    } else if (cmd.type === 'reset') {
      emu?.resetStats();
      reply({ type: 'reset' });
    } else if (cmd.type === 'clear') {
      // addAccount replaces an account with an empty one (tokens stay valid).
      if (emu !== undefined) addAccounts(emu);
      reply({ type: 'clear' });
    } else {
      await emu?.close();
      reply({ type: 'closed' });
      process.exit(0);
    }
  })().catch((err: unknown) => {
    reply({ type: 'error', message: err instanceof Error ? err.stack : String(err) });
  });
});
