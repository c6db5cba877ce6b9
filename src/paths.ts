/** Where the package's own files are, from source (tsx/vitest) or from dist/ alike. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

export const packageRoot = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
export const migrationsFolder = path.join(packageRoot, 'src/db/migrations');
/** The CLI entry as built by `npm run build`; the processes the farm spawns run it. */
export const cliEntry = path.join(packageRoot, 'dist/src/cli/main.js');
