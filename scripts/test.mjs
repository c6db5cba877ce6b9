#!/usr/bin/env node
// `npm test`: the whole suite twice, on the embedded database (PGlite) and on a PostgreSQL server,
// against a real Redis (MALAN_TEST_REDIS_URL, default 127.0.0.1:6379; one is started for the run
// when none answers). Extra arguments go to vitest (e.g. `npm test -- test/e2e`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const pgUrl = process.env.MALAN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const requirePostgres = process.env.CI === 'true' || process.env.MALAN_TEST_REQUIRE_POSTGRES === 'true';

const reachable = (url) =>
  new Promise((resolve) => {
    const u = new URL(url);
    const s = net.connect({ host: u.hostname, port: Number(u.port) || (u.protocol.startsWith('redis') ? 6379 : 5432) });
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.on('error', () => resolve(false));
    s.on('connect', () => (s.destroy(), resolve(true)));
  });

// What the suite runs for real: ffmpeg, a redis-server to start when none answers, Chromium for
// the player test, Blender, and Prometheus (a real server scrapes /metrics). Missing ones are
// installed from Debian's packages when this user may do so.
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const missing = [['ffmpeg', 'ffmpeg'], ['ffprobe', 'ffmpeg'], ['redis-server', 'redis-server'], ['chromium', 'chromium'], ['blender', 'blender'], ['prometheus', 'prometheus'], ['promtool', 'prometheus']].filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
if (missing.length) {
  const packages = [...new Set(missing)];
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  console.log(`malan tests: installing ${packages.join(', ')} (Debian packages)`);
  const run = (args) => spawnSync(sudo[0] ?? args[0], [...sudo.slice(1), ...(sudo.length ? args : args.slice(1))], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  if (!(run(['apt-get', 'update', '-qq']) && run(['apt-get', 'install', '-y', '-qq', ...packages]))) {
    console.warn(`!!! malan tests: could not install ${packages.join(', ')}; the tests that need them will fail and say so. Install them: apt-get install ${packages.join(' ')}`);
  }
}

let redisUrl = process.env.MALAN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let redisHome = null;
if (!(await reachable(redisUrl))) {
  // No Redis answers: start one for this run the way the farm does (embedded under a temp home).
  spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  const { resolveRedisUrl } = await import(path.join(root, 'dist/src/redis/embedded-redis.js'));
  redisHome = mkdtempSync(path.join(os.tmpdir(), 'malan-test-redis-'));
  redisUrl = await resolveRedisUrl({ home: redisHome });
  console.log(`malan tests: no Redis at ${process.env.MALAN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'}; started one at ${redisUrl}`);
}

const totals = { passed: 0, failed: 0, skipped: 0 };
function runSuite(db) {
  console.log(`\n=== malan tests on ${db === 'pglite' ? 'PGlite (embedded)' : `PostgreSQL (${pgUrl})`} ===\n`);
  const report = path.join(os.tmpdir(), `malan-vitest-${db}-${process.pid}.json`);
  const res = spawnSync(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MALAN_TEST_DB: db, MALAN_TEST_POSTGRES_URL: pgUrl, MALAN_TEST_REDIS_URL: redisUrl },
  });
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    totals.passed += r.numPassedTests;
    totals.failed += r.numFailedTests + (res.status !== 0 && r.numFailedTests === 0 ? 1 : 0);
    totals.skipped += r.numPendingTests + r.numTodoTests;
    rmSync(report, { force: true });
  } catch {
    totals.failed += 1; // vitest died before writing its report
  }
  return res.status === 0;
}

let ok = runSuite('pglite');
if (await reachable(pgUrl)) ok = runSuite('postgres') && ok;
else if (requirePostgres) {
  console.error(`\nmalan tests: PostgreSQL at ${pgUrl} does not answer, and this run requires it (CI). Start it or set MALAN_TEST_POSTGRES_URL.`);
  ok = false;
  totals.failed += 1;
} else {
  console.warn(`\n!!! malan tests: PostgreSQL at ${pgUrl} does not answer: the PostgreSQL half of the suite was NOT run.`);
  console.warn('!!! Start a server (Debian: apt-get install postgresql) or set MALAN_TEST_POSTGRES_URL, then run npm test again.');
}

if (redisHome) {
  const { releaseEmbeddedRedis } = await import(path.join(root, 'dist/src/redis/embedded-redis.js'));
  await releaseEmbeddedRedis({ home: redisHome });
}
console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(ok ? 0 : 1);
