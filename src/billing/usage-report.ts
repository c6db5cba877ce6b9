/**
 * `GET /v1/usage`: the ledger summed over a range of days, grouped as asked (by day, meter, job
 * kind, GPU model…), with what running attempts have used so far and the tenant's quotas.
 */
import { and, count, eq, gte, inArray, lt, sql, sum, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { ApiError } from '../api/api-error.js';
import { charges } from '../db/billing-schema.js';
import type { TenantRow } from '../db/schema.js';
import type { FarmContext } from '../services/farm-context.js';
import { formatIssues } from '../services/format-issues.js';
import { csvCell } from './invoice-csv.js';
import { formatMicros } from './money.js';
import { pendingUsage } from './pending-usage.js';
import { parseDay, periodOf } from './periods.js';
import { quotaStatus } from './quotas.js';
import { num } from './sql-rows.js';

const DIMENSIONS = {
  day: sql<string>`to_char(${charges.occurredAt} at time zone 'UTC', 'YYYY-MM-DD')`,
  meter: sql<string>`${charges.meter}`,
  unit: sql<string>`${charges.unit}`,
  kind: sql<string | null>`${charges.kind}`,
  gpu_model: sql<string | null>`${charges.gpuModel}`,
  resolution: sql<string | null>`${charges.resolution}`,
  codec: sql<string | null>`${charges.codec}`,
  job: sql<string | null>`${charges.jobId}`,
  attempt: sql<number | null>`${charges.attempt}`,
  billed_to: sql<string>`${charges.billedTo}`,
  tenant: sql<string>`${charges.tenantId}`,
} as const;
type Dimension = keyof typeof DIMENSIONS;
const GROUPABLE = ['day', 'meter', 'kind', 'gpu_model', 'resolution', 'codec', 'job', 'attempt', 'billed_to', 'tenant'] as const;
const MAX_DAYS = 366;

const querySchema = z.strictObject({
  from: z.string().optional(),
  to: z.string().optional(),
  group_by: z.string().default('meter'),
  billed_to: z.enum(['tenant', 'platform', 'all'], { error: 'billed_to must be tenant, platform or all' }).default('tenant'),
  tenant: z.string().max(100).optional(),
  format: z.enum(['json', 'csv'], { error: 'format must be json or csv' }).default('json'),
});

export type UsageQuery = z.infer<typeof querySchema>;

export function parseUsageQuery(query: Record<string, string>, now = new Date()) {
  const q = querySchema.safeParse(query);
  if (!q.success) throw new ApiError('invalid_request', formatIssues(q.error));
  const groups = [...new Set(q.data.group_by.split(',').map((g) => g.trim()).filter(Boolean))];
  for (const g of groups) {
    if (!(GROUPABLE as readonly string[]).includes(g)) throw new ApiError('invalid_request', `group_by: unknown '${g.slice(0, 40)}'; any of ${GROUPABLE.join(', ')}, comma-separated`);
  }
  // Quantities of different meters do not add up: the meter (and its unit) is always a group.
  const groupBy = [...new Set<Dimension>(['meter', 'unit', ...(groups as Dimension[])])];
  const today = now.toISOString().slice(0, 10);
  const from = parseDay(q.data.from ?? `${periodOf(now)}-01`, 'from');
  const to = parseDay(q.data.to ?? today, 'to');
  if (to < from) throw new ApiError('invalid_request', 'to is before from');
  const days = (to.getTime() - from.getTime()) / 86_400_000 + 1;
  if (days > MAX_DAYS) throw new ApiError('invalid_request', `the range is ${days} days; ask for at most ${MAX_DAYS} at a time`);
  return { ...q.data, groupBy, from, to };
}

/** `tenant` null: every tenant (operators only; the caller checks). */
export async function usageReport(ctx: FarmContext, tenant: Pick<TenantRow, 'id' | 'name'> | null, q: ReturnType<typeof parseUsageQuery>, now = new Date()) {
  const end = new Date(q.to.getTime() + 86_400_000);
  const where: SQL[] = [gte(charges.occurredAt, q.from), lt(charges.occurredAt, end)];
  if (tenant) where.push(eq(charges.tenantId, tenant.id));
  if (q.billed_to !== 'all') where.push(inArray(charges.billedTo, [q.billed_to]));
  const selection = Object.fromEntries(q.groupBy.map((d) => [d, DIMENSIONS[d]]));
  const rows = await ctx.db
    .select({ ...selection, quantity: sum(charges.billedQuantity), measured: sum(charges.quantity), amount: sum(charges.amountMicros), n: count() })
    .from(charges)
    .where(and(...where))
    .groupBy(...q.groupBy.map((d) => DIMENSIONS[d]))
    .orderBy(...q.groupBy.map((d) => DIMENSIONS[d]));
  const results = rows.map((r) => {
    const { quantity, measured, amount, n, ...dims } = r as Record<string, unknown>;
    return { ...dims, quantity: round6(num(quantity)), measured_quantity: round6(num(measured)), amount: formatMicros(num(amount)), amount_micros: num(amount), charges: num(n) };
  });
  const total = results.reduce((a, r) => a + r.amount_micros, 0);
  const period = periodOf(now);
  const pending = tenant ? await pendingUsage(ctx.db, tenant.id, period, ctx.config.MALAN_CURRENCY) : null;
  return {
    object: 'usage',
    tenant: tenant ? { id: tenant.id, name: tenant.name } : 'all',
    from: q.from.toISOString().slice(0, 10),
    to: q.to.toISOString().slice(0, 10),
    group_by: q.groupBy,
    billed_to: q.billed_to,
    currency: ctx.config.MALAN_CURRENCY,
    results,
    total: formatMicros(total),
    total_micros: total,
    // Running attempts' usage so far: charged when they end.
    pending: pending && { gpu_seconds: round6(pending.gpuSeconds), cpu_seconds: round6(pending.cpuSeconds), wall_seconds: round6(pending.wallSeconds), estimated_amount: formatMicros(pending.amountMicros) },
    quotas: tenant ? await quotaStatus(ctx.db, ctx.config, tenant.id, now) : null,
  };
}

export function usageCsv(report: Awaited<ReturnType<typeof usageReport>>): string {
  const cols = [...report.group_by, 'quantity', 'measured_quantity', 'amount', 'charges'];
  const lines = [cols.join(','), ...report.results.map((r) => cols.map((c) => csvCell((r as Record<string, unknown>)[c])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;
