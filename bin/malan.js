#!/usr/bin/env node
// The `malan` command: runs the built CLI (npm install builds it; `npm run build` after changes).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write('malan: not built yet; run `npm run build` (or `npm ci`, which builds) in the project folder\n');
  process.exit(1);
}
await import(entry);
