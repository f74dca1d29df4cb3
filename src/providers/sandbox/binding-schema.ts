import { bindingSchema } from '../binding-schema.js';
import { SANDBOX_CAPABILITIES } from './capabilities.js';

export const sandboxBindingSchema = bindingSchema('sandbox', SANDBOX_CAPABILITIES, {
  title: 'SandboxBinding',
  description:
    'The embedded sandbox: live state in a JSON file per tenant inside the repository, for rehearsals and tests. No account, no network.',
  properties: {
    dir: {
      type: 'string',
      minLength: 1,
      description:
        'Folder of the state files, relative to the repository root (default .mxpolicy/sandbox).',
    },
  },
});
