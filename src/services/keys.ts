/** Tenants and their API keys. A key is shown once; only its sha256 is stored. */
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { apiKeys, tenants } from '../db/schema.js';
import { newId } from '../ids.js';

export interface Principal {
  tenantId: string;
  tenantName: string;
  keyId: string;
  operator: boolean;
}

export const TENANT_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

export async function createKey(db: Db, tenantName: string, operator: boolean): Promise<{ key: string; tenantId: string; keyId: string }> {
  if (!TENANT_NAME.test(tenantName)) {
    throw new Error(`tenant name "${tenantName}" is invalid: use lower-case letters, digits and dashes (at most 63)`);
  }
  const tenantId = await ensureTenant(db, tenantName);
  const key = `mk_${randomBytes(30).toString('base64url')}`;
  const keyId = newId('key');
  await db.insert(apiKeys).values({ id: keyId, tenantId, keyHash: hashKey(key), keyPrefix: key.slice(0, 8), operator });
  return { key, tenantId, keyId };
}

export async function ensureTenant(db: Db, name: string): Promise<string> {
  await db
    .insert(tenants)
    .values({ id: newId('ten'), name, webhookSecret: `whsec_${randomBytes(24).toString('base64')}` })
    .onConflictDoNothing({ target: tenants.name });
  const [row] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, name));
  return row!.id;
}

/** The principal a bearer key stands for, or null for an unknown or revoked key. */
export async function authenticate(db: Db, key: string): Promise<Principal | null> {
  return principalWhere(db, eq(apiKeys.keyHash, hashKey(key)));
}

/** The principal of a key by its id (for sessions that carry the id, never the key), while it is not revoked. */
export async function principalOfKeyId(db: Db, keyId: string): Promise<Principal | null> {
  return principalWhere(db, eq(apiKeys.id, keyId));
}

async function principalWhere(db: Db, which: SQL): Promise<Principal | null> {
  const [row] = await db
    .select({ keyId: apiKeys.id, tenantId: apiKeys.tenantId, operator: apiKeys.operator, tenantName: tenants.name })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(and(which, isNull(apiKeys.revokedAt)));
  return row ?? null;
}
