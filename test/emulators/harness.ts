import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What every vendor emulator (test/emulators/<vendor>/emulator.ts) shares: its HTTP server on
 * 127.0.0.1 that stops by itself, and injectable latency and faults (rules for chosen requests,
 * random rates). Each vendor keeps its routes, its state, and how a fault looks on its wire.
 */

/** A seeded pseudo-random source (mulberry32): faults and jitter repeat from run to run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The whole body of a request, as text. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/** Which requests an injected fault rule applies to, and how many of them. */
export interface RuleMatch {
  method?: string;
  /** Matched against the request's path (below the vendor's API prefix). */
  path?: RegExp;
  /** How many matching requests it applies to (default 1). */
  times?: number;
  /** Matching requests to let through first (default 0). */
  skip?: number;
}

/** An emulator's fault controls, as its tests call them. */
export interface FaultControls<R, F> {
  inject(rule: R): void;
  setFaults(faults: F): void;
  /** Drop every injected rule and random fault. */
  clearFaults(): void;
  setLatency(ms: number, jitterMs?: number): void;
}

export interface Faults<R extends RuleMatch, F extends object> {
  /** The emulator's seeded random source (faults, jitter, anything else it randomises). */
  random: () => number;
  /** The random fault rates now in force. */
  rates(): F;
  /** True with probability `rate` (absent: never). */
  chance(rate: number | undefined): boolean;
  /**
   * The first injected rule that matches the request and has uses left (counted as used),
   * `also` narrowing which rules may match.
   */
  take(method: string, path: string, also?: (rule: R) => boolean): R | undefined;
  /** Wait the set latency (plus a random part of the jitter) before answering. */
  delay(): Promise<void>;
  controls: FaultControls<R, F>;
}

export function createFaults<R extends RuleMatch, F extends object>(opts: {
  seed: number;
  latencyMs?: number | undefined;
  jitterMs?: number | undefined;
  faults?: F | undefined;
}): Faults<R, F> {
  const random = seededRandom(opts.seed);
  let latencyMs = opts.latencyMs ?? 0;
  let jitterMs = opts.jitterMs ?? 0;
  let rates = opts.faults ?? ({} as F);
  const rules: (R & { seen: number; used: number })[] = [];
  return {
    random,
    rates: () => rates,
    chance: (rate) => random() < (rate ?? 0),
    take(method, path, also) {
      for (const r of rules) {
        if (also !== undefined && !also(r)) continue;
        if (r.method !== undefined && r.method !== method) continue;
        if (r.path !== undefined && !r.path.test(path)) continue;
        if (r.used >= (r.times ?? 1)) continue;
        r.seen++;
        if (r.seen <= (r.skip ?? 0)) continue;
        r.used++;
        return r;
      }
      return undefined;
    },
    async delay() {
      const ms = latencyMs + (jitterMs > 0 ? Math.floor(random() * jitterMs) : 0);
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    },
    controls: {
      inject(rule) {
        rules.push({ ...rule, seen: 0, used: 0 });
      },
      setFaults(f) {
        rates = f;
      },
      clearFaults() {
        rates = {} as F;
        rules.length = 0;
      },
      setLatency(ms, jitter = 0) {
        latencyMs = ms;
        jitterMs = jitter;
      },
    },
  };
}

export interface EmulatorServer {
  server: Server;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Keep a request unanswered (a `timeout` fault) until the client gives up or `close`. */
  hang: (res: ServerResponse) => void;
  /** Drop every connection, unanswered requests included, and stop listening. */
  close: () => Promise<void>;
}

/**
 * Serve `handle` on 127.0.0.1 (a free port). The server is unref'ed, so a test or benchmark
 * never waits on it; a handler that throws is a bug of the emulator: `crashed` gets it in
 * words (record it and answer 500).
 */
export async function listen(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  crashed: (message: string, res: ServerResponse) => void,
): Promise<EmulatorServer> {
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      crashed(
        `emulator crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        res,
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    server,
    origin: `http://127.0.0.1:${port}`,
    hang: (res) => {
      hanging.add(res);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hanging) r.destroy();
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** The options every emulator takes (each vendor adds its own). */
export interface EmulatorBaseOptions<F> {
  /** Delay before each answer, in ms (real time). */
  latencyMs?: number;
  /** Random fault rates (seeded by `seed`). */
  faults?: F;
  /** Time source for timestamps, tokens and rate limits (share a virtual clock in tests). */
  now?: () => number;
  seed?: number;
  /**
   * Skip validating responses (benchmarks only: the check costs CPU the client needs).
   * Requests are always checked.
   */
  validateResponses?: boolean;
  onViolation?: (message: string) => void;
}
