import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { createGithubClient, type GithubClient } from '../../src/github/client.js';
import { silentLogger, type Logger } from '../../src/providers/provider.js';
import {
  startFakeGithub,
  type FakeGithub,
  type FakeGithubOptions,
} from '../fakes/github/server.js';

const running: FakeGithub[] = [];
const scratchDirs: string[] = [];

/** A temp folder removed after the test. */
export async function scratchDir(prefix = 'mxpolicy-gh-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

/** A fake GitHub for one test; after the test it must have seen no contract violation. */
export async function fakeGithub(opts: FakeGithubOptions = {}): Promise<FakeGithub> {
  const gh = await startFakeGithub(opts);
  running.push(gh);
  return gh;
}

afterEach(async () => {
  const done = running.splice(0);
  await Promise.all(done.map((gh) => gh.close()));
  await Promise.all(scratchDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  for (const gh of done) expect(gh.violations).toEqual([]);
});

/** A client for the fake: no pacing between writes and millisecond Retry-After waits. */
export function clientFor(gh: FakeGithub, logger: Logger = silentLogger): GithubClient {
  return createGithubClient({
    token: gh.token,
    baseUrl: gh.baseUrl,
    logger,
    pacing: { writeMs: 0, notificationMs: 0 },
    retryAfterBaseValue: 1,
    serverErrorRetries: 0,
  });
}
