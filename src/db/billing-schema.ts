/**
 * Billing's tables. Usage events (schema.ts) are the raw facts workers measured; when an attempt's
 * outcome is known its events are rated into charges, each priced by the price book entry in force
 * when the usage happened and keeping that price. Charges go out as CloudEvents through an outbox.
 */
import { bigint, bigserial, doublePrecision, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { tenants } from './schema.js';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const prices = pgTable(
  'prices',
  {
    id: text('id').primaryKey(),
    /** One of the meters in src/billing/meters.ts. */
    meter: text('meter').notNull(),
    /** Null: any GPU model (or not a GPU meter); a name matches the model workers report. */
    gpuModel: text('gpu_model'),
    /** For output minutes: the resolution class (SD, HD, UHD, 8K) and codec; null matches any. */
    resolution: text('resolution'),
    codec: text('codec'),
    /** Price of one unit of the meter, in billionths of the currency (exact integer arithmetic). */
    unitPriceNanos: bigint('unit_price_nanos', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    /** How an attempt's quantity is rounded before pricing, to a multiple of `increment`. */
    rounding: text('rounding').$type<'none' | 'up' | 'nearest'>().notNull().default('none'),
    increment: doublePrecision('increment').notNull().default(0),
    /** Least quantity billed for an attempt that used anything (e.g. 1 GPU-second). */
    minimum: doublePrecision('minimum').notNull().default(0),
    effectiveFrom: at('effective_from').notNull(),
    note: text('note').notNull().default(''),
    createdBy: text('created_by').notNull().default('malan'),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [index('prices_meter_idx').on(t.meter, t.effectiveFrom)],
);

export type BilledTo = 'tenant' | 'platform';

export const charges = pgTable(
  'charges',
  {
    /** Deterministic (job, attempt, meter, dimensions, price, period): rating twice inserts nothing. */
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    jobId: text('job_id'),
    kind: text('kind'),
    attempt: integer('attempt'),
    meter: text('meter').notNull(),
    gpuModel: text('gpu_model'),
    resolution: text('resolution'),
    codec: text('codec'),
    /** What was measured, and what is billed after the price's rounding and minimum. */
    quantity: doublePrecision('quantity').notNull(),
    billedQuantity: doublePrecision('billed_quantity').notNull(),
    unit: text('unit').notNull(),
    priceId: text('price_id'),
    unitPriceNanos: bigint('unit_price_nanos', { mode: 'number' }).notNull(),
    /** In millionths of the currency: what invoices add up, exactly. */
    amountMicros: bigint('amount_micros', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    /** `platform`: recorded as the farm's own cost (a platform failure), not charged to the tenant. */
    billedTo: text('billed_to').$type<BilledTo>().notNull(),
    reason: text('reason').notNull(),
    /** `YYYY-MM` (UTC) of the usage: the invoice it belongs to. */
    period: text('period').notNull(),
    occurredAt: at('occurred_at').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [index('charges_tenant_period_idx').on(t.tenantId, t.period), index('charges_job_idx').on(t.jobId)],
);

export const tenantQuotas = pgTable('tenant_quotas', {
  tenantId: text('tenant_id')
    .primaryKey()
    .references(() => tenants.id),
  /** Jobs queued or running at once; null: no limit. */
  maxConcurrentJobs: integer('max_concurrent_jobs'),
  /** GPU-seconds a calendar month (UTC); null: no limit. */
  gpuSecondsPerMonth: doublePrecision('gpu_seconds_per_month'),
  /** Spending a calendar month, millionths of the currency; null: no limit. */
  spendingLimitMicros: bigint('spending_limit_micros', { mode: 'number' }),
  updatedAt: at('updated_at').notNull().defaultNow(),
});

/** Charges as CloudEvents, written in the charge's transaction, delivered at least once by id. */
export const billingOutbox = pgTable(
  'billing_outbox',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    /** The CloudEvent id (the charge id): a receiver that keeps ids drops a second delivery. */
    eventId: text('event_id').notNull(),
    event: jsonb('event').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    deliveredAt: at('delivered_at'),
  },
  (t) => [uniqueIndex('billing_outbox_event_idx').on(t.eventId), index('billing_outbox_pending_idx').on(t.deliveredAt, t.seq)],
);

export type PriceRow = typeof prices.$inferSelect;
export type ChargeRow = typeof charges.$inferSelect;
export type NewCharge = typeof charges.$inferInsert;
