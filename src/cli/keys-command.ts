/**
 * `malan keys create` works whether or not `serve` runs. The embedded database (PGlite) is one
 * process: when a serve of this MALAN_HOME is up, the key is made through it; otherwise (or with
 * a PostgreSQL server, which has no such limit) the CLI opens the database itself.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/env.js';
import { openDatabase } from '../db/database.js';
import { adminToken } from '../api/routes/internal.js';
import { createKey } from '../services/keys.js';
import { loadSecret, UrlSigner } from '../services/url-signer.js';

export async function createKeyCommand(config: Config, tenant: string, operator: boolean): Promise<{ key: string; via: string }> {
  const running = config.DATABASE_URL ? null : runningServe(config.home);
  if (running) {
    const token = adminToken({ signer: new UrlSigner(loadSecret(config.home, config.MALAN_SECRET), '') });
    const res = await fetch(`http://127.0.0.1:${running.port}/internal/keys`, {
      method: 'POST',
      headers: { authorization: `Admin ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant, operator }),
    }).catch(() => null);
    if (res?.ok) return { key: ((await res.json()) as { key: string }).key, via: `through the running API, pid ${running.pid}` };
    if (res) throw new Error(((await res.json()) as { error: { message: string } }).error.message);
  }
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, home: config.home });
  try {
    await database.migrate();
    const { key } = await createKey(database.db, tenant, operator);
    return { key, via: `${database.kind} at ${database.location}` };
  } finally {
    await database.close();
  }
}

function runningServe(home: string): { pid: number; port: number } | null {
  try {
    const s = JSON.parse(readFileSync(path.join(home, 'serve.json'), 'utf8')) as { pid: number; port: number };
    process.kill(s.pid, 0); // throws when no such process
    return s;
  } catch {
    return null;
  }
}
