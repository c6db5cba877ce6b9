/**
 * The price book: operators add entries, each effective from a time on; nothing is edited or
 * deleted, so a charge's price id always tells what it was priced with. An entry cannot start in
 * the past: usage already measured keeps the prices it was measured under.
 */
import { createHash } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { ApiError } from '../api/api-error.js';
import type { Config } from '../config/env.js';
import type { Db } from '../db/database.js';
import { prices, type PriceRow } from '../db/billing-schema.js';
import { newId } from '../ids.js';
import { formatIssues } from '../services/format-issues.js';
import { isMeter, METER_NAMES, METERS, RESOLUTION_CLASSES } from './meters.js';
import { formatNanos, parseUnitPrice } from './money.js';
import { choosePrice } from './price-choice.js';

/** How far back a new entry's start may lie: the clock of the operator's machine and the farm's differ a little. */
const CLOCK_SKEW_MS = 5 * 60_000;
const MAX_AHEAD_MS = 10 * 366 * 24 * 3600_000;

const dimension = z.string().min(1).max(200).regex(/^[^\u0000-\u001f]+$/, { error: 'no control characters' });

const newPriceSchema = z.strictObject({
  meter: z.string({ error: `meter is required: one of ${METER_NAMES.join(', ')}` }),
  unit_price: z.union([z.string(), z.number()], { error: 'unit_price is required: a decimal string such as "0.001525" (per unit of the meter)' }),
  currency: z.string().optional(),
  gpu_model: dimension.nullable().optional(),
  resolution: z.enum(RESOLUTION_CLASSES, { error: `resolution must be one of ${RESOLUTION_CLASSES.join(', ')}` }).nullable().optional(),
  codec: z.enum(['h264', 'hevc', 'av1'], { error: 'codec must be h264, hevc or av1' }).nullable().optional(),
  rounding: z.enum(['none', 'up', 'nearest'], { error: 'rounding must be none, up or nearest' }).default('none'),
  increment: z.number({ error: 'increment must be a number (the rounding step, in the meter\'s unit)' }).min(0).max(86_400).default(0),
  minimum: z.number({ error: 'minimum must be a number (in the meter\'s unit)' }).min(0).max(1_000_000).default(0),
  effective_from: z.iso.datetime({ offset: true, error: 'effective_from must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z' }).optional(),
  note: z.string().max(500).default(''),
});

export async function addPrice(db: Db, config: Config, body: unknown, operator: string, idempotencyKey: string | undefined, now = new Date()): Promise<{ price: PriceRow; created: boolean }> {
  const parsed = newPriceSchema.safeParse(body);
  if (!parsed.success) throw new ApiError('invalid_request', formatIssues(parsed.error));
  const p = parsed.data;
  if (!isMeter(p.meter)) throw new ApiError('invalid_request', `meter: unknown meter '${p.meter}'; one of ${METER_NAMES.join(', ')}`);
  const unitPriceNanos = parseUnitPrice(p.unit_price);
  if (p.currency !== undefined && p.currency !== config.MALAN_CURRENCY) {
    throw new ApiError('invalid_request', `currency: this farm bills in ${config.MALAN_CURRENCY} (MALAN_CURRENCY); a price in ${p.currency.slice(0, 8)} cannot be used`);
  }
  if (p.gpu_model != null && p.meter !== 'gpu_seconds') throw new ApiError('invalid_request', 'gpu_model: only gpu_seconds prices differ by GPU model');
  if ((p.resolution != null || p.codec != null) && p.meter !== 'output_minutes') throw new ApiError('invalid_request', 'resolution and codec: only output_minutes prices differ by them');
  if (p.rounding !== 'none' && p.increment === 0) throw new ApiError('invalid_request', `increment: rounding '${p.rounding}' needs the step to round to (e.g. 1 for whole ${METERS[p.meter].unit}s)`);
  const from = p.effective_from ? new Date(p.effective_from) : now;
  if (from.getTime() < now.getTime() - CLOCK_SKEW_MS) {
    throw new ApiError('invalid_request', `effective_from ${p.effective_from} is in the past: usage already measured keeps its prices; give a time from now on`);
  }
  if (from.getTime() > now.getTime() + MAX_AHEAD_MS) throw new ApiError('invalid_request', `effective_from ${p.effective_from} is more than ten years ahead`);
  // A retried request with the same Idempotency-Key finds the entry it made.
  const id = idempotencyKey ? `price_${createHash('sha256').update(`${operator}\n${idempotencyKey}`).digest('hex').slice(0, 26)}` : newId('price');
  const row = {
    id,
    meter: p.meter,
    gpuModel: p.gpu_model ?? null,
    resolution: p.resolution ?? null,
    codec: p.codec ?? null,
    unitPriceNanos,
    currency: config.MALAN_CURRENCY,
    rounding: p.rounding,
    increment: p.increment,
    minimum: p.minimum,
    effectiveFrom: from,
    note: p.note,
    createdBy: operator,
  };
  const [added] = await db.insert(prices).values(row).onConflictDoNothing().returning();
  if (added) return { price: added, created: true };
  const [existing] = await db.select().from(prices).where(eq(prices.id, id));
  if (!existing) throw new ApiError('conflict', 'this price is being created; retry');
  return { price: existing, created: false };
}

export async function listPrices(db: Db, meter?: string): Promise<PriceRow[]> {
  if (meter !== undefined && !isMeter(meter)) throw new ApiError('invalid_request', `meter: unknown meter '${meter.slice(0, 40)}'; one of ${METER_NAMES.join(', ')}`);
  return db.select().from(prices).where(meter ? and(eq(prices.meter, meter)) : undefined).orderBy(prices.meter, desc(prices.effectiveFrom));
}

/** The entries in force at `at`: for each meter and dimensions, the latest that has begun. */
export function inForce(rows: readonly PriceRow[], at: Date, currency: string): PriceRow[] {
  return rows.filter((p) => p.currency === currency && choosePrice(rows, p, at, currency)?.id === p.id);
}

export function priceView(p: PriceRow, now = new Date()) {
  return {
    id: p.id,
    meter: p.meter,
    unit: isMeter(p.meter) ? METERS[p.meter].unit : p.meter,
    gpu_model: p.gpuModel,
    resolution: p.resolution,
    codec: p.codec,
    unit_price: formatNanos(p.unitPriceNanos),
    currency: p.currency,
    rounding: p.rounding,
    increment: p.increment,
    minimum: p.minimum,
    effective_from: p.effectiveFrom.toISOString(),
    upcoming: p.effectiveFrom.getTime() > now.getTime(),
    note: p.note,
    created_by: p.createdBy,
    created_at: p.createdAt.toISOString(),
  };
}
