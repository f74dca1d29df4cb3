/**
 * Per-item results inside a 2xx: vendors that take many items in one call answer 200 and
 * report each item on its own (Mimecast `data[]`/`fail[]`, Microsoft Graph `$batch`
 * responses). A provider turns its vendor's shape into one `ItemOutcome` per item sent, in
 * order, and maps those back to its changes (`converge.ts` takes them as they are).
 */
export type ItemOutcome = ItemOk | ItemFailed;

export interface ItemOk {
  ok: true;
  /** The vendor's answer for the item (e.g. the created object), if any. */
  value?: unknown;
}

export interface ItemFailed {
  ok: false;
  /** The vendor's code, e.g. `err_validation_blank`, `TooManyRequests`, or an HTTP status. */
  code: string;
  message: string;
  /**
   * Whether sending the item again may succeed (throttled, a transient server error). A
   * retryable failure means the item was NOT applied; a failure whose outcome is unknown is
   * not an `ItemFailed` but a thrown error with `mayHaveReachedServer`.
   */
  retryable: boolean;
  /** How long the vendor asked us to wait before sending it again (an inner 429). */
  retryAfterMs?: number;
}

export const itemOk = (value?: unknown): ItemOk =>
  value === undefined ? { ok: true } : { ok: true, value };

export function itemFailed(
  code: string,
  message: string,
  retryable = false,
  retryAfterMs?: number,
): ItemFailed {
  return retryAfterMs === undefined
    ? { ok: false, code, message, retryable }
    : { ok: false, code, message, retryable, retryAfterMs };
}

/** `code: message`, as a change's failure reason shows it. */
export function describeItemFailure(f: ItemFailed): string {
  return f.code !== '' && !f.message.includes(f.code) ? `${f.code}: ${f.message}` : f.message;
}

/**
 * Pair the outcomes a vendor reported with the items sent. When the vendor echoes each failed
 * item (Mimecast `fail[].key`) rather than answering by position, pass `failures` with the
 * index each belongs to: every item not named failed is ok. An outcome count that does not
 * match the items sent is an error (never guess which item an answer belongs to).
 */
export function outcomesByIndex(
  count: number,
  failures: readonly { index: number; failure: ItemFailed }[],
): ItemOutcome[] {
  const out: ItemOutcome[] = Array.from({ length: count }, () => itemOk());
  for (const { index, failure } of failures) {
    if (!Number.isInteger(index) || index < 0 || index >= count)
      throw new Error(`a failure names item ${index}, but only ${count} were sent`);
    out[index] = failure;
  }
  return out;
}
