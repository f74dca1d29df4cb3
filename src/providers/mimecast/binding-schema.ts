import { bindingSchema } from '../binding-schema.js';
import { MIMECAST_CAPABILITIES } from './capabilities.js';

/** API 2.0 hosts (vendor notes §2.1): global with failover, or pinned to a region. */
export const MIMECAST_HOSTS = [
  'api.services.mimecast.com',
  'uk-api.services.mimecast.com',
  'us-api.services.mimecast.com',
] as const;
export const MIMECAST_BASE_URL = 'https://api.services.mimecast.com';

/** https to a Mimecast API 2.0 host, or plain http to 127.0.0.1 (an emulator). */
export const MIMECAST_BASE_URL_PATTERN =
  '^(https://(api|uk-api|us-api)\\.services\\.mimecast\\.com(:443)?|http://127\\.0\\.0\\.1(:[0-9]{1,5})?)/?$';

export const mimecastBindingSchema = bindingSchema('mimecast', MIMECAST_CAPABILITIES, {
  title: 'MimecastBinding',
  description:
    'Mimecast (API 2.0, OAuth 2.0 client credentials): blocked-sender policies and anti-spoofing bypass policies (exemptions with bypass: spoof) of one Mimecast account.',
  typeChoice:
    '⚠️ **Live** Mimecast account (API 2.0): `apply` changes real mail flow at once. Serves blocked senders and anti-spoofing bypass exemptions (`bypass: spoof`); not routes or holds.',
  required: ['clientId', 'secretEnv'],
  properties: {
    clientId: {
      type: 'string',
      minLength: 1,
      pattern: '^\\S+$',
      patternErrorMessage: 'A client id has no spaces: copy it from the API 2.0 application.',
      description:
        'Client id of the API 2.0 application (Mimecast Administration > Services > API and Platform Integrations). Not a secret.',
    },
    secretEnv: {
      $ref: '#/$defs/envName',
      description:
        "Name of the environment variable holding the application's client secret. Never the secret itself.",
    },
    baseUrl: {
      type: 'string',
      pattern: MIMECAST_BASE_URL_PATTERN,
      patternErrorMessage:
        'Use https://api.services.mimecast.com (or uk-api / us-api.services.mimecast.com); plain http only to 127.0.0.1.',
      description:
        'API 2.0 host; default https://api.services.mimecast.com (global, with failover). https://uk-api.services.mimecast.com or https://us-api.services.mimecast.com pin a region; plain http only to 127.0.0.1 (an emulator).',
    },
  },
  snippet: {
    description:
      'A live Mimecast account (API 2.0); the client secret comes from an environment variable.',
    body: {
      clientId: '${1:mimecast-client-id}',
      secretEnv: '${2:MIMECAST_CLIENT_SECRET}',
    },
  },
});
