/**
 * Check a vendor endpoint from a binding (a base URL, a token URL): credentials travel to it,
 * so it must be https, or plain http only to this machine (emulators, tests).
 * Returns the parsed URL, or throws an Error whose message names `what`.
 */
export function requireSecureUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${what} '${value}' is not a URL`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw new Error(`${what} must be https (plain http only to 127.0.0.1/localhost)`);
  if (url.username !== '' || url.password !== '')
    throw new Error(`${what} must not carry a user name or password`);
  return url;
}
