import { bindingSchema } from '../binding-schema.js';
import { MSGRAPH_CAPABILITIES } from './capabilities.js';

export const msgraphBindingSchema = bindingSchema('msgraph', MSGRAPH_CAPABILITIES, {
  title: 'MsgraphBinding',
  description:
    'Microsoft 365 through Microsoft Graph eDiscovery: litigation holds as hold policies (legalHolds) in one eDiscovery (Premium) case. The app registration needs the application permissions eDiscovery.ReadWrite.All (eDiscovery.Read.All is enough for plan and drift) and User.Read.All (for custodians: all).',
  typeChoice:
    '⚠️ **Live** Microsoft 365 tenant (Graph eDiscovery): `apply` places and releases real litigation holds. Serves holds only; `custodians: all` follows the directory.',
  required: ['tenantId', 'clientId', 'secretEnv', 'case'],
  properties: {
    tenantId: {
      type: 'string',
      minLength: 1,
      pattern: '^[A-Za-z0-9.-]+$',
      patternErrorMessage:
        'A tenant is its id (a GUID) or a verified domain: letters, digits, dots and dashes only.',
      description:
        'Microsoft Entra tenant: its id (a GUID) or a verified domain, e.g. contoso.onmicrosoft.com.',
    },
    clientId: {
      type: 'string',
      minLength: 1,
      description: 'Application (client) id of the app registration mxpolicy signs in as.',
    },
    secretEnv: {
      $ref: '#/$defs/envName',
      description:
        "Name of the environment variable holding the app registration's client secret. Never the secret itself.",
    },
    case: {
      type: 'string',
      minLength: 1,
      description:
        "Id of the eDiscovery case holding mxpolicy's holds (Purview > eDiscovery > the case; Graph: /security/cases/ediscoveryCases/{id}). A case that does not exist or is closed makes the tenant error.",
    },
    baseUrl: {
      type: 'string',
      format: 'uri',
      description:
        'Graph base URL; default https://graph.microsoft.com/v1.0. Plain http only to 127.0.0.1 (an emulator).',
    },
    authorityUrl: {
      type: 'string',
      format: 'uri',
      description:
        'Microsoft Entra authority; default https://login.microsoftonline.com (tokens from {authorityUrl}/{tenantId}/oauth2/v2.0/token). Plain http only to 127.0.0.1.',
    },
    maxSourcesPerPolicy: {
      type: 'integer',
      minimum: 1,
      maximum: 10000,
      description:
        "Most mailboxes mxpolicy puts in one hold policy (Purview's limit; default 1000). A hold with more custodians becomes several policies: ID, ID#2 … (ID#1 … #k for custodians: all).",
    },
  },
  snippet: {
    description:
      'Litigation holds in Microsoft 365 (Graph eDiscovery); the client secret comes from an environment variable.',
    body: {
      tenantId: '${1:contoso.onmicrosoft.com}',
      clientId: '${2:00000000-0000-0000-0000-000000000000}',
      secretEnv: '${3:GRAPH_CLIENT_SECRET}',
      case: '${4:ediscovery-case-id}',
    },
  },
});
