/** Replaces secrets in any text that may reach an error message, a log line or a report. */
export type Redactor = (text: string) => string;

export const REDACTED = '[REDACTED]';

const AUTH_HEADER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;

/**
 * Redact the given secrets wherever they appear, and any `Bearer <token>` even when the
 * secret was not registered (a vendor echoing a header back, a token from another tenant).
 */
export function createRedactor(secrets: readonly string[]): Redactor {
  // Longest first, so that a secret containing another is replaced whole.
  const list = secrets.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const s of list) out = out.split(s).join(REDACTED);
    return out.replace(AUTH_HEADER, `$1 ${REDACTED}`);
  };
}

/** Redact every string inside a JSON-like value (for structured log fields). */
export function redactValue(value: unknown, redact: Redactor): unknown {
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
