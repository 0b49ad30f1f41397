// The tool's name and version, from the package.json above this file (in src/ or dist/src/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackage(): { name: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name: string; version: string };
      if (pkg.name === 'tlbsync-emu') return pkg;
    }
    const up = dirname(dir);
    if (up === dir) return { name: 'tlbsync-emu', version: '0.0.0' };
    dir = up;
  }
}

export const TOOL = findPackage();
