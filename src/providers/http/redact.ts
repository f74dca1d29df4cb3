/**
 * Replaces secrets in any text that may reach an error message, a log line or a report.
 * Secrets learnt later (a freshly fetched access token) are added with `add`; every text
 * redacted after that hides them too.
 */
export interface Redactor {
  (text: string): string;
  /** Never show `secret` again (strings shorter than 4 characters are ignored). */
  add(secret: string): void;
}

export const REDACTED = '[REDACTED]';

const AUTH_HEADER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;

/**
 * Redact the given secrets wherever they appear, and any `Bearer <token>` even when the
 * secret was not registered (a vendor echoing a header back, a token from another tenant).
 * Form-encoded and URL-encoded spellings of each secret are hidden as well.
 */
export function createRedactor(secrets: readonly string[] = []): Redactor {
  const known = new Set<string>();
  // Longest first, so that a secret containing another is replaced whole.
  let list: string[] = [];
  const add = (secret: string): void => {
    if (secret.length < 4) return;
    const spellings = [
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2),
    ];
    let grew = false;
    for (const s of spellings)
      if (!known.has(s)) {
        known.add(s);
        grew = true;
      }
    if (grew) list = [...known].sort((a, b) => b.length - a.length);
  };
  for (const s of secrets) add(s);
  const redact = ((text: string): string => {
    let out = text;
    for (const s of list) out = out.split(s).join(REDACTED);
    return out.replace(AUTH_HEADER, `$1 ${REDACTED}`);
  }) as Redactor;
  redact.add = add;
  return redact;
}

/** Redact every string inside a JSON-like value (for structured log fields). */
export function redactValue(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, redact));
  if (value instanceof Error) return redact(value.message);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = /authorization|token|secret|password|api[-_]?key/i.test(k)
        ? REDACTED
        : redactValue(v, redact);
    }
    return out;
  }
  return value;
}
