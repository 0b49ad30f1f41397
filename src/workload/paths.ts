// Where the compiled worker scripts are. Workers must be JavaScript (Node 20 cannot start a .ts
// worker), so code running from the TypeScript sources (the tests) uses the build in dist/.
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const distRoot = here.includes(`${sep}dist${sep}`) ? resolve(here, '../..') : resolve(here, '../../dist');

export function workerFile(name: 'cpu-worker' | 'smmu-worker'): string {
  return join(distRoot, 'workers', `${name}.js`);
}
