import type { Agent as UndiciAgent } from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import api from 'undici/lib/api/index.js';

/**
 * undici's Agent without undici's index: the index also loads fetch, WebSocket, caches, mocks
 * and every interceptor (~100 ms at start-up, before a plan's first request), none of which
 * mxpolicy uses. What the index does for a dispatcher is done here, as it does it: the
 * request API (`dispatcher.request(...)`) is mixed into Dispatcher's prototype.
 * Same package files as `import { Agent } from 'undici'`: loading both is harmless.
 */
Object.assign(Dispatcher.prototype, api);

export const AgentClass: typeof UndiciAgent = Agent;
