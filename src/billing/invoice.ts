/**
 * A tenant's invoice for a month, made from the ledger's charges billed to the tenant. Lines
 * group charges by meter, dimensions and unit price (a price change mid-month gives two lines);
 * amounts are integers of micros, so the lines add up to the ledger exactly.
 */
import { and, count, eq, gte, isNull, lt, sql, sum } from 'drizzle-orm';
import { charges } from '../db/billing-schema.js';
import { usageEvents, type TenantRow } from '../db/schema.js';
import type { FarmContext } from '../services/farm-context.js';
import { describeLine } from './describe-line.js';
import type { Invoice, InvoiceLine } from './invoice-shape.js';
import { METER_NAMES, type Meter } from './meters.js';
import { formatMicros, formatNanos, roundToCents } from './money.js';
import { periodEnd, periodOf, periodStart } from './periods.js';
import { num } from './sql-rows.js';

export async function buildInvoice(ctx: FarmContext, tenant: Pick<TenantRow, 'id' | 'name'>, period: string, now = new Date()): Promise<Invoice> {
  const mine = and(eq(charges.tenantId, tenant.id), eq(charges.period, period), eq(charges.billedTo, 'tenant'));
  const grouped = await ctx.db
    .select({
      meter: charges.meter,
      gpuModel: charges.gpuModel,
      resolution: charges.resolution,
      codec: charges.codec,
      unit: charges.unit,
      priceId: charges.priceId,
      unitPriceNanos: charges.unitPriceNanos,
      quantity: sum(charges.billedQuantity),
      measured: sum(charges.quantity),
      amount: sum(charges.amountMicros),
      n: count(),
    })
    .from(charges)
    .where(mine)
    .groupBy(charges.meter, charges.gpuModel, charges.resolution, charges.codec, charges.unit, charges.priceId, charges.unitPriceNanos);
  const lines: InvoiceLine[] = grouped
    .map((g) => ({
      meter: g.meter,
      description: describeLine(g.meter, g),
      gpu_model: g.gpuModel,
      resolution: g.resolution,
      codec: g.codec,
      quantity: round6(num(g.quantity)),
      measured_quantity: round6(num(g.measured)),
      unit: g.unit,
      unit_price: formatNanos(g.unitPriceNanos),
      price_id: g.priceId,
      amount: formatMicros(num(g.amount)),
      amount_micros: num(g.amount),
      charges: num(g.n),
    }))
    .sort((a, b) => METER_NAMES.indexOf(a.meter as Meter) - METER_NAMES.indexOf(b.meter as Meter) || a.description.localeCompare(b.description) || a.unit_price.localeCompare(b.unit_price));
  const subtotal = lines.reduce((n, l) => n + l.amount_micros, 0);
  const [ledger] = await ctx.db.select({ amount: sum(charges.amountMicros), n: count() }).from(charges).where(mine);
  const due = roundToCents(subtotal);
  return {
    object: 'invoice',
    id: `inv_${tenant.id.replace(/^ten_/, '')}_${period.replace('-', '')}`,
    tenant: { id: tenant.id, name: tenant.name },
    period,
    period_start: periodStart(period).toISOString(),
    period_end: periodEnd(period).toISOString(),
    status: (await isClosed(ctx, tenant.id, period, now)) ? 'closed' : 'open',
    currency: ctx.config.MALAN_CURRENCY,
    lines,
    subtotal: formatMicros(subtotal),
    subtotal_micros: subtotal,
    amount_due: formatMicros(due).slice(0, -4),
    rounding: formatMicros(due - subtotal),
    ledger: { charges: num(ledger?.n), amount: formatMicros(num(ledger?.amount)), amount_micros: num(ledger?.amount) },
    generated_at: now.toISOString(),
  };
}

/** Closed: the month is over and none of its usage still waits for its attempt to end. */
async function isClosed(ctx: FarmContext, tenantId: string, period: string, now: Date): Promise<boolean> {
  if (period >= periodOf(now)) return false;
  const [waiting] = await ctx.db
    .select({ n: count() })
    .from(usageEvents)
    .where(and(eq(usageEvents.tenantId, tenantId), isNull(usageEvents.ratedAt), gte(usageEvents.occurredAt, periodStart(period)), lt(usageEvents.occurredAt, periodEnd(period))));
  return num(waiting?.n) === 0;
}

/** The months a tenant has charges in, newest first, with their subtotals. */
export async function invoicePeriods(ctx: FarmContext, tenantId: string) {
  const rows = await ctx.db
    .select({ period: charges.period, amount: sum(charges.amountMicros), n: count() })
    .from(charges)
    .where(and(eq(charges.tenantId, tenantId), eq(charges.billedTo, 'tenant')))
    .groupBy(charges.period)
    .orderBy(sql`${charges.period} desc`);
  return rows.map((r) => ({ period: r.period, subtotal: formatMicros(num(r.amount)), charges: num(r.n) }));
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;
