// Runs the built CLI in this process and reports its wall time and peak RSS on stderr as
// JSON (the bench parent spawns one child per run so each run has its own peak).
// The bundled CLI, as bin/mxpolicy.js runs it (scripts/bundle-cli.ts): what users wait for.
import { main } from '../dist/bin/main.js';

const started = performance.now();
const code = await main(['node', 'mxpolicy', ...process.argv.slice(2)], {
  cwd: process.cwd(),
  env: process.env,
  stdout: { write: () => true },
  stderr: { write: () => true },
  now: () => new Date(),
});
const ms = performance.now() - started;
const cpu = process.cpuUsage();
const cpuMs = (cpu.user + cpu.system) / 1000;
const maxRssMB = process.resourceUsage().maxRSS / 1024;
process.stderr.write(JSON.stringify({ code, ms, cpuMs, maxRssMB }) + '\n');
