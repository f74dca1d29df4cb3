import { bindingSchema } from '../binding-schema.js';
import { SANDBOX_CAPABILITIES } from './capabilities.js';

export const sandboxBindingSchema = bindingSchema('sandbox', SANDBOX_CAPABILITIES, {
  title: 'SandboxBinding',
  description:
    'The embedded sandbox: live state in a JSON file per tenant inside the repository, for rehearsals and tests. No account, no network.',
  typeChoice:
    'The embedded sandbox: a JSON file per tenant in the repository stands in for a gateway. **Changes no live mail system**: for rehearsals and tests. Serves every kind.',
  properties: {
    dir: {
      type: 'string',
      minLength: 1,
      description:
        'Folder of the state files, relative to the repository root (default .mxpolicy/sandbox).',
    },
  },
  snippet: {
    description: 'A sandbox: JSON files in the repository; changes no live system.',
    body: {},
  },
});
