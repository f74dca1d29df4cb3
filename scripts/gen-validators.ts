import { writeFile } from 'node:fs/promises';
import { generateValidators, generatedValidatorsPath } from './validators-source.js';

await writeFile(generatedValidatorsPath, generateValidators());
console.log(`wrote ${generatedValidatorsPath}`);
