/**
 * The one door to the database: embedded PGlite under MALAN_HOME by default, PostgreSQL when
 * DATABASE_URL is set. Both speak the same drizzle schema and migrations.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { migrationsFolder } from '../paths.js';
import * as schema from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** Where the data lives, for logs: a directory or the URL without its password. */
  location: string;
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export async function openDatabase(opts: { databaseUrl?: string; home: string }): Promise<Database> {
  if (opts.databaseUrl) {
    const client = postgres(opts.databaseUrl, { max: 10, onnotice: () => {} });
    const db = drizzlePostgres({ client, schema }) as unknown as Db;
    return {
      db,
      kind: 'postgres',
      location: opts.databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@'),
      migrate: () => migratePostgres(drizzlePostgres({ client }), { migrationsFolder }),
      close: () => client.end({ timeout: 5 }),
    };
  }
  const dataDir = path.join(opts.home, 'db');
  mkdirSync(dataDir, { recursive: true });
  const client = new PGlite(dataDir);
  await client.waitReady;
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    location: dataDir,
    migrate: () => migratePglite(drizzlePglite({ client }), { migrationsFolder }),
    close: () => client.close(),
  };
}

/** A transaction, or the database itself where no transaction is open: code that writes in either takes this. */
export type DbOrTx = Db | Parameters<Parameters<Db['transaction']>[0]>[0];
