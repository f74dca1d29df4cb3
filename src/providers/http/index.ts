export * from './backoff.js';
export * from './client.js';
export * from './clock.js';
export * from './errors.js';
export * from './rate-limiter.js';
export * from './redact.js';
