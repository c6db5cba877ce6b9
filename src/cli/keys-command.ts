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
  const viaApi = await throughRunningServe<{ key: string }>(config, '/internal/keys', { tenant, operator });
  if (viaApi) return { key: viaApi.result.key, via: viaApi.via };
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, home: config.home });
  try {
    await database.migrate();
    const { key } = await createKey(database.db, tenant, operator);
    return { key, via: `${database.kind} at ${database.location}` };
  } finally {
    await database.close();
  }
}

/**
 * Posts to the running serve of this MALAN_HOME when the embedded database is held by it; null
 * when there is none (or a PostgreSQL server is used), and the CLI does the work itself.
 */
export async function throughRunningServe<T>(config: Config, route: string, body: unknown): Promise<{ result: T; via: string } | null> {
  const running = config.DATABASE_URL ? null : runningServe(config.home);
  if (!running) return null;
  const token = adminToken({ signer: new UrlSigner(loadSecret(config.home, config.MALAN_SECRET), '') });
  const res = await fetch(`http://127.0.0.1:${running.port}${route}`, {
    method: 'POST',
    headers: { authorization: `Admin ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).catch(() => null);
  if (!res) return null;
  const answer = (await res.json()) as T & { error?: { message: string } };
  if (!res.ok) throw new Error(answer.error?.message ?? `the API answered ${res.status}`);
  return { result: answer, via: `through the running API, pid ${running.pid}` };
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
