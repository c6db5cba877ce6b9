/** What operators read across tenants: a month's invoices side by side, and the platform's own cost. */
import { and, asc, count, eq, gt, sum } from 'drizzle-orm';
import { billingOutbox, charges } from '../db/billing-schema.js';
import { tenants } from '../db/schema.js';
import type { FarmContext } from '../services/farm-context.js';
import { formatMicros, roundToCents } from './money.js';
import { num } from './sql-rows.js';

export async function monthAcrossTenants(ctx: FarmContext, period: string) {
  const billed = await ctx.db
    .select({ tenantId: charges.tenantId, name: tenants.name, amount: sum(charges.amountMicros), n: count() })
    .from(charges)
    .innerJoin(tenants, eq(tenants.id, charges.tenantId))
    .where(and(eq(charges.period, period), eq(charges.billedTo, 'tenant')))
    .groupBy(charges.tenantId, tenants.name)
    .orderBy(tenants.name);
  const platform = await ctx.db
    .select({ meter: charges.meter, reason: charges.reason, quantity: sum(charges.billedQuantity), amount: sum(charges.amountMicros), n: count() })
    .from(charges)
    .where(and(eq(charges.period, period), eq(charges.billedTo, 'platform')))
    .groupBy(charges.meter, charges.reason)
    .orderBy(charges.meter, charges.reason);
  const billedTotal = billed.reduce((a, r) => a + num(r.amount), 0);
  const platformTotal = platform.reduce((a, r) => a + num(r.amount), 0);
  return {
    period,
    currency: ctx.config.MALAN_CURRENCY,
    tenants: billed.map((r) => ({ tenant: { id: r.tenantId, name: r.name }, subtotal: formatMicros(num(r.amount)), amount_due: formatMicros(roundToCents(num(r.amount))).slice(0, -4), charges: num(r.n) })),
    billed_total: formatMicros(billedTotal),
    // Work the farm did and did not charge for (its own failures, by policy), at list price.
    platform_cost: {
      total: formatMicros(platformTotal),
      lines: platform.map((r) => ({ meter: r.meter, reason: r.reason, quantity: Math.round(num(r.quantity) * 1e6) / 1e6, amount: formatMicros(num(r.amount)), charges: num(r.n) })),
    },
  };
}

/** The outbox read in order: an exporter keeps `next_after` and asks again from there. */
export async function outboxPage(ctx: FarmContext, after: number, limit: number) {
  const rows = await ctx.db.select().from(billingOutbox).where(gt(billingOutbox.seq, after)).orderBy(asc(billingOutbox.seq)).limit(limit);
  return { events: rows.map((r) => r.event), next_after: rows.length ? rows[rows.length - 1]!.seq : after, has_more: rows.length === limit };
}
