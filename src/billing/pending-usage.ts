/**
 * Usage of attempts still running (not rated yet), priced as if the tenant pays: what quotas and
 * the usage view count on top of the ledger, so a long job cannot run past a limit unseen.
 */
import { and, eq, gte, isNull, lt } from 'drizzle-orm';
import { prices } from '../db/billing-schema.js';
import { usageEvents } from '../db/schema.js';
import type { DbOrTx } from '../db/database.js';
import { periodEnd, periodStart } from './periods.js';
import { rateAttempt } from './rating.js';

export interface PendingUsage {
  gpuSeconds: number;
  cpuSeconds: number;
  wallSeconds: number;
  /** Priced at today's book, before rounding decisions of the attempt's end. */
  amountMicros: number;
}

export async function pendingUsage(db: DbOrTx, tenantId: string, period: string, currency: string): Promise<PendingUsage> {
  const events = await db
    .select()
    .from(usageEvents)
    .where(and(eq(usageEvents.tenantId, tenantId), isNull(usageEvents.ratedAt), gte(usageEvents.occurredAt, periodStart(period)), lt(usageEvents.occurredAt, periodEnd(period))));
  const out: PendingUsage = { gpuSeconds: 0, cpuSeconds: 0, wallSeconds: 0, amountMicros: 0 };
  if (!events.length) return out;
  const book = await db.select().from(prices);
  for (const e of events) {
    out.gpuSeconds += e.gpuSeconds;
    out.cpuSeconds += e.cpuSeconds;
    out.wallSeconds += e.wallSeconds;
    const lines = rateAttempt({ tenantId, jobId: e.jobId, kind: e.kind, attempt: e.attempt, events: [e], payer: { billedTo: 'tenant', reason: 'pending' }, prices: book, currency });
    out.amountMicros += lines.reduce((n, l) => n + l.amountMicros, 0);
  }
  return out;
}
