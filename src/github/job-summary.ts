import { appendFile } from 'node:fs/promises';
import { cutToLimit } from './fit-body.js';

/** GitHub keeps at most 1 MiB of summary per step; stay well below it. */
export const STEP_SUMMARY_MAX_CHARS = 1_000_000;

/**
 * Append markdown to the job summary (GITHUB_STEP_SUMMARY), cut under the step limit.
 * Without a path (outside Actions) it does nothing and returns false.
 */
export async function appendJobSummary(
  path: string | undefined,
  markdown: string,
): Promise<boolean> {
  if (!path) return false;
  const text = cutToLimit(
    markdown,
    STEP_SUMMARY_MAX_CHARS,
    '_The job summary was cut at 1,000,000 characters; the full output is in the artifacts._',
  );
  await appendFile(path, text.endsWith('\n') ? text : `${text}\n`, 'utf8');
  return true;
}
