import { bindingSchema } from '../binding-schema.js';
import { CLOUDFLARE_CAPABILITIES } from './capabilities.js';

export const cloudflareBindingSchema = bindingSchema('cloudflare', CLOUDFLARE_CAPABILITIES, {
  title: 'CloudflareBinding',
  description:
    'Cloudflare Email Security (API v4): blocked senders, allow policies (exemptions) and protected domains (routes) of one account.',
  typeChoice:
    '⚠️ **Live** Cloudflare Email Security account: `apply` changes real mail flow at once. Serves blocked senders, exemptions and delivery routes (protected domains are only updated, never created or deleted).',
  required: ['account', 'tokenEnv'],
  properties: {
    account: {
      type: 'string',
      pattern: '^[0-9a-f]{32}$',
      patternErrorMessage:
        'A Cloudflare account id is 32 lower-case hexadecimal characters (0-9, a-f), as in the dashboard URL.',
      description: 'Cloudflare account id: 32 hexadecimal digits (dashboard URL or account home).',
    },
    tokenEnv: {
      $ref: '#/$defs/envName',
      description:
        'Name of the environment variable holding an API token with Email Security read (plan) or edit (apply) permission. Never the token itself.',
    },
    baseUrl: {
      type: 'string',
      format: 'uri',
      description:
        'API base URL; default https://api.cloudflare.com/client/v4. Plain http only to 127.0.0.1 (an emulator).',
    },
  },
  snippet: {
    description:
      'A live Cloudflare Email Security account; the API token comes from an environment variable.',
    body: {
      account: '${1:0123456789abcdef0123456789abcdef}',
      tokenEnv: '${2:CLOUDFLARE_API_TOKEN}',
    },
  },
});
