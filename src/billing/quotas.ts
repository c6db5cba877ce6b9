/**
 * Per-tenant limits, checked when a job is submitted: jobs in flight (429, retry when one ends),
 * GPU-seconds a month and spending a month (402, until the month resets). Usage counts the
 * ledger plus what running attempts have reported so far.
 */
import { and, eq, inArray, sql, sum } from 'drizzle-orm';
import { ApiError } from '../api/api-error.js';
import type { Config } from '../config/env.js';
import type { DbOrTx } from '../db/database.js';
import { charges, tenantQuotas } from '../db/billing-schema.js';
import { jobs } from '../db/schema.js';
import { formatMicros } from './money.js';
import { pendingUsage } from './pending-usage.js';
import { periodEnd, periodOf } from './periods.js';
import { num } from './sql-rows.js';

export interface QuotaStatus {
  concurrent_jobs: { limit: number | null; used: number };
  gpu_seconds: { limit: number | null; used: number; period: string; resets_at: string };
  spending: { limit: string | null; used: string; currency: string; period: string; resets_at: string };
}

export async function quotaStatus(db: DbOrTx, config: Config, tenantId: string, now = new Date()): Promise<QuotaStatus> {
  const period = periodOf(now);
  const resets = periodEnd(period).toISOString();
  const [limits] = await db.select().from(tenantQuotas).where(eq(tenantQuotas.tenantId, tenantId));
  const inFlight = await jobsInFlight(db, tenantId);
  const [billed] = await db
    .select({ gpu: sum(sql`case when ${charges.meter} = 'gpu_seconds' then ${charges.billedQuantity} else 0 end`), amount: sum(charges.amountMicros) })
    .from(charges)
    .where(and(eq(charges.tenantId, tenantId), eq(charges.period, period), eq(charges.billedTo, 'tenant')));
  const pending = await pendingUsage(db, tenantId, period, config.MALAN_CURRENCY);
  return {
    concurrent_jobs: { limit: limits?.maxConcurrentJobs ?? null, used: inFlight },
    gpu_seconds: { limit: limits?.gpuSecondsPerMonth ?? null, used: round3(num(billed?.gpu) + pending.gpuSeconds), period, resets_at: resets },
    spending: {
      limit: limits?.spendingLimitMicros != null ? formatMicros(limits.spendingLimitMicros) : null,
      used: formatMicros(num(billed?.amount) + pending.amountMicros),
      currency: config.MALAN_CURRENCY,
      period,
      resets_at: resets,
    },
  };
}

/** Whether the tenant has any limit: most have none, and their submissions skip the check. */
export async function hasQuotas(db: DbOrTx, tenantId: string): Promise<boolean> {
  const [limits] = await db.select().from(tenantQuotas).where(eq(tenantQuotas.tenantId, tenantId));
  return !!limits && (limits.maxConcurrentJobs !== null || limits.gpuSecondsPerMonth !== null || limits.spendingLimitMicros !== null);
}

/**
 * Refuses a submission over a limit, with which limit and when it resets. Run inside the
 * transaction that inserts the job, after taking the tenant's lock, so two submissions at once
 * cannot both take the last slot.
 */
export async function enforceQuotas(tx: DbOrTx, config: Config, tenantId: string, now = new Date()): Promise<void> {
  const [limits] = await tx.select().from(tenantQuotas).where(eq(tenantQuotas.tenantId, tenantId));
  if (!limits || (limits.maxConcurrentJobs === null && limits.gpuSecondsPerMonth === null && limits.spendingLimitMicros === null)) return;
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`malan-quota:${tenantId}`}))`);
  if (limits.maxConcurrentJobs !== null) {
    const inFlight = await jobsInFlight(tx, tenantId);
    if (inFlight >= limits.maxConcurrentJobs) {
      throw new ApiError(
        'rate_limited',
        `concurrent jobs limit reached: ${inFlight} of ${limits.maxConcurrentJobs} jobs are queued or running; submit again when one of them ends (GET /v1/jobs?status=running), or ask an operator to raise the limit`,
        { 'Retry-After': '10' },
      );
    }
  }
  if (limits.gpuSecondsPerMonth === null && limits.spendingLimitMicros === null) return;
  const s = await quotaStatus(tx, config, tenantId, now);
  const retryAfter = String(Math.max(1, Math.ceil((periodEnd(periodOf(now)).getTime() - now.getTime()) / 1000)));
  if (limits.gpuSecondsPerMonth !== null && s.gpu_seconds.used >= limits.gpuSecondsPerMonth) {
    throw new ApiError(
      'payment_required',
      `monthly GPU-seconds limit reached: ${s.gpu_seconds.used} of ${limits.gpuSecondsPerMonth} GPU-seconds used in ${s.gpu_seconds.period}; it resets at ${s.gpu_seconds.resets_at} (UTC), or an operator can raise it`,
      { 'Retry-After': retryAfter },
    );
  }
  if (limits.spendingLimitMicros !== null && Number(s.spending.used) * 1e6 >= limits.spendingLimitMicros) {
    throw new ApiError(
      'payment_required',
      `monthly spending limit reached: ${s.spending.used} of ${s.spending.limit} ${s.spending.currency} spent in ${s.spending.period}; it resets at ${s.spending.resets_at} (UTC), or an operator can raise it`,
      { 'Retry-After': retryAfter },
    );
  }
}

async function jobsInFlight(db: DbOrTx, tenantId: string): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)` }).from(jobs).where(and(eq(jobs.tenantId, tenantId), inArray(jobs.status, ['queued', 'running'])));
  return num(row?.n);
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
