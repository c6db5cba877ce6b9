/**
 * Each test gets its own world: a fresh MALAN_HOME, its own queue prefix, and its own database —
 * a PGlite directory (MALAN_TEST_DB=pglite, the default) or a new database on the PostgreSQL
 * server (MALAN_TEST_DB=postgres, server at MALAN_TEST_POSTGRES_URL). Nothing depends on leftovers.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { parseConfig, type Config } from '../../src/config/env.js';

export { ASSETS } from './assets.js';
export const testDbKind = (process.env.MALAN_TEST_DB ?? 'pglite') as 'pglite' | 'postgres';
export const testRedisUrl = process.env.MALAN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const serverUrl = process.env.MALAN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A new, empty database on the test server, or undefined for PGlite. */
export async function freshDatabaseUrl(): Promise<string | undefined> {
  if (testDbKind === 'pglite') return undefined;
  const name = `malan_t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface TestWorld {
  home: string;
  env: Record<string, string>;
  config: Config;
}

/** The environment of a private farm: fresh home, prefix and database; Redis shared unless `embeddedRedis`. */
export async function testWorld(opts: { embeddedRedis?: boolean; env?: Record<string, string> } = {}): Promise<TestWorld> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'malan-test-'));
  const databaseUrl = await freshDatabaseUrl();
  const env: Record<string, string> = {
    MALAN_HOME: home,
    MALAN_QUEUE_PREFIX: `t${randomBytes(5).toString('hex')}`,
    MALAN_ALLOW_PRIVATE_WEBHOOKS: 'true',
    ...(databaseUrl && { DATABASE_URL: databaseUrl }),
    ...(!opts.embeddedRedis && { REDIS_URL: testRedisUrl }),
    ...opts.env,
  };
  return { home, env, config: parseConfig(env) };
}
