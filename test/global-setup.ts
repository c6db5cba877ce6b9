/**
 * Before any test: the CLI and the console's scripts must be built (end-to-end tests run the real
 * processes, browser tests the console), and the services the suite needs must answer. Which database runs the suite is MALAN_TEST_DB
 * (pglite, the default, or postgres); see test/helpers/test-env.ts.
 */
import { execFileSync } from 'node:child_process';
import { packageRoot } from '../src/paths.js';

export default function setup() {
  for (const project of ['tsconfig.json', 'src/console/client/tsconfig.json']) {
    execFileSync(process.execPath, [`${packageRoot}/node_modules/typescript/bin/tsc`, '-p', project], { cwd: packageRoot, stdio: 'inherit' });
  }
  process.stderr.write(`malan tests: database ${process.env.MALAN_TEST_DB ?? 'pglite'}, redis ${process.env.MALAN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'}\n`);
}
