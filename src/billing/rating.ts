/**
 * Rating: an attempt's usage events, once its outcome is known, become charges. Pure: the same
 * events, payer and price book always give the same charges with the same ids, so rating again
 * (a retried report, a restart) inserts nothing new.
 */
import type { NewCharge, PriceRow } from '../db/billing-schema.js';
import type { ExtraMeters } from '../db/schema.js';
import { amountMicros } from './money.js';
import { METERS, quantitiesOf, type MeterQuantity } from './meters.js';
import { periodOf } from './periods.js';
import type { Payer } from './policy.js';
import { choosePrice } from './price-choice.js';

export interface RatableEvent {
  id: string;
  occurredAt: Date;
  cpuSeconds: number;
  gpuSeconds: number;
  gpuModel: string;
  meters: ExtraMeters;
}

export interface RatingInput {
  tenantId: string;
  jobId: string;
  kind: string | null;
  attempt: number;
  events: RatableEvent[];
  payer: Payer;
  prices: readonly PriceRow[];
  currency: string;
  /** Set when events arrive after their attempt was rated: their charges get ids of their own. */
  lateEventId?: string;
}

type Group = MeterQuantity & { price: PriceRow | null; period: string; occurredAt: Date };

export function rateAttempt(r: RatingInput): NewCharge[] {
  const groups = new Map<string, Group>();
  for (const e of r.events) {
    for (const q of quantitiesOf(e)) {
      const price = choosePrice(r.prices, q, e.occurredAt, r.currency);
      const period = periodOf(e.occurredAt);
      // An attempt across a price change or a month end is split there: each side keeps its own price and invoice.
      const key = [q.meter, q.gpuModel ?? '', q.resolution ?? '', q.codec ?? '', price?.id ?? 'unpriced', period].join('|');
      const g = groups.get(key);
      if (g) {
        g.quantity += q.quantity;
        if (e.occurredAt > g.occurredAt) g.occurredAt = e.occurredAt;
      } else groups.set(key, { ...q, price, period, occurredAt: e.occurredAt });
    }
  }
  return [...groups.entries()].map(([key, g]) => {
    const quantity = round9(g.quantity);
    const billedQuantity = g.price ? billable(quantity, g.price) : quantity;
    const unitPriceNanos = g.price?.unitPriceNanos ?? 0;
    return {
      id: `${r.jobId}:${r.attempt}:${key}${r.lateEventId ? `:late:${r.lateEventId}` : ''}`,
      tenantId: r.tenantId,
      jobId: r.jobId,
      kind: r.kind,
      attempt: r.attempt,
      meter: g.meter,
      gpuModel: g.gpuModel,
      resolution: g.resolution,
      codec: g.codec,
      quantity,
      billedQuantity,
      unit: METERS[g.meter].unit,
      priceId: g.price?.id ?? null,
      unitPriceNanos,
      amountMicros: amountMicros(billedQuantity, unitPriceNanos),
      currency: r.currency,
      billedTo: r.payer.billedTo,
      reason: g.price ? r.payer.reason : `${r.payer.reason}; no price for this meter`,
      period: g.period,
      occurredAt: g.occurredAt,
    };
  });
}

/** The price's rounding to its increment, then its minimum (for anything used at all). */
export function billable(quantity: number, p: Pick<PriceRow, 'rounding' | 'increment' | 'minimum'>): number {
  let q = quantity;
  if (p.increment > 0 && p.rounding !== 'none') {
    const steps = q / p.increment;
    // A millionth of a step over (float noise in sums of increments) is not another step.
    q = Math.max(0, (p.rounding === 'up' ? Math.ceil(steps - 1e-6) : Math.round(steps)) * p.increment);
  }
  if (quantity > 0 && q < p.minimum) q = p.minimum;
  return round9(q);
}

const round9 = (n: number) => Math.round(n * 1e9) / 1e9 + 0; // + 0: never -0
