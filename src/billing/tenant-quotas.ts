/** Operators set a tenant's limits; omitted fields stay as they are, null removes a limit. */
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { ApiError } from '../api/api-error.js';
import type { Db } from '../db/database.js';
import { tenantQuotas } from '../db/billing-schema.js';
import { formatIssues } from '../services/format-issues.js';
import { parseAmount } from './money.js';

const quotasSchema = z.strictObject({
  max_concurrent_jobs: z.number({ error: 'max_concurrent_jobs must be a whole number or null' }).int({ error: 'max_concurrent_jobs must be a whole number' }).min(0).max(1_000_000).nullable().optional(),
  gpu_seconds_per_month: z.number({ error: 'gpu_seconds_per_month must be a number or null' }).min(0).max(1e10).nullable().optional(),
  spending_limit: z.union([z.string(), z.number()], { error: 'spending_limit must be an amount such as "250.00", or null' }).nullable().optional(),
});

export async function setQuotas(db: Db, tenantId: string, body: unknown): Promise<void> {
  const parsed = quotasSchema.safeParse(body);
  if (!parsed.success) throw new ApiError('invalid_request', formatIssues(parsed.error));
  const q = parsed.data;
  const changes = {
    ...(q.max_concurrent_jobs !== undefined && { maxConcurrentJobs: q.max_concurrent_jobs }),
    ...(q.gpu_seconds_per_month !== undefined && { gpuSecondsPerMonth: q.gpu_seconds_per_month }),
    ...(q.spending_limit !== undefined && { spendingLimitMicros: q.spending_limit === null ? null : parseAmount(q.spending_limit, 'spending_limit') }),
    updatedAt: new Date(),
  };
  await db
    .insert(tenantQuotas)
    .values({ tenantId, ...changes })
    .onConflictDoUpdate({ target: tenantQuotas.tenantId, set: changes });
}

export async function quotaLimits(db: Db, tenantId: string) {
  const [row] = await db.select().from(tenantQuotas).where(eq(tenantQuotas.tenantId, tenantId));
  return row ?? null;
}
