import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appendJobSummary, STEP_SUMMARY_MAX_CHARS } from './job-summary.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function summaryFile(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mxpolicy-summary-'));
  dirs.push(dir);
  return path.join(dir, 'summary.md');
}

describe('appendJobSummary', () => {
  it('does nothing outside Actions', async () => {
    expect(await appendJobSummary(undefined, '# plan')).toBe(false);
  });

  it('appends, one block after another, each ending with a newline', async () => {
    const file = await summaryFile();
    expect(await appendJobSummary(file, '# plan')).toBe(true);
    await appendJobSummary(file, '# drift\n');
    expect(await readFile(file, 'utf8')).toBe('# plan\n# drift\n');
  });

  it('cuts a huge summary under the step limit and says so', async () => {
    const file = await summaryFile();
    await appendJobSummary(file, 'line of the plan\n'.repeat(100_000));
    const text = await readFile(file, 'utf8');
    expect(text.length).toBeLessThanOrEqual(STEP_SUMMARY_MAX_CHARS + 1);
    expect(text).toContain('The job summary was cut');
  });
});
