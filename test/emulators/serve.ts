/** What the demo emulators (`npm run emulator*`, test/emulators/<vendor>/serve.ts) share. */

/** A number from the environment, or undefined when unset or empty (`npm run emulator*`). */
export function envNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : Number(v);
}

/**
 * Keep a demo emulator (`npm run emulator*`) running until Ctrl-C or SIGTERM, then print
 * `summary()`, close it and exit (1 when it saw contract violations).
 */
export function serveUntilStopped(
  emu: { violations: string[]; close(): Promise<void> },
  summary: () => string,
): void {
  // The emulator's server is unref'ed (tests must not hang on it); keep this process alive.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const stop = (): void => {
    clearInterval(keepAlive);
    console.log(`\n${summary()}, ${emu.violations.length} contract violations`);
    void emu.close().then(() => process.exit(emu.violations.length > 0 ? 1 : 0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
