/**
 * Storage GB-days: once a UTC day is over, each tenant's stored bytes at its end are charged for
 * that day (charge id `storage:<tenant>:<day>`, so a second pass or a second API adds nothing).
 * Files are kept until deleted and a deleted row is gone, so a day is measured from the files
 * there when it is metered: a file removed before then is not counted.
 */
import { and, eq, like, lt, max, ne, sql, sum } from 'drizzle-orm';
import type { Config } from '../config/env.js';
import type { Db } from '../db/database.js';
import { charges, prices, type NewCharge, type PriceRow } from '../db/billing-schema.js';
import { files, tenants } from '../db/schema.js';
import { MODELS_TENANT } from '../services/model-import.js';
import type { Logger } from '../logger.js';
import { insertCharges } from './ledger.js';
import { METERS, type Meter } from './meters.js';
import { amountMicros } from './money.js';
import { periodOf } from './periods.js';
import { choosePrice } from './price-choice.js';
import { billable } from './rating.js';
import { num } from './sql-rows.js';

const DAY_MS = 86_400_000;
/** How many past days a first pass fills in. */
const BACKFILL_DAYS = 62;

export async function meterStorage(db: Db, config: Config, now = new Date()): Promise<number> {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const owners = await db.select({ id: tenants.id }).from(tenants).where(ne(tenants.name, MODELS_TENANT));
  if (!owners.length) return 0;
  const last = await db
    .select({ tenantId: charges.tenantId, id: max(charges.id) })
    .from(charges)
    .where(and(eq(charges.meter, 'storage_gb_days'), like(charges.id, 'storage:%')))
    .groupBy(charges.tenantId);
  const lastDay = new Map(last.map((r) => [r.tenantId, Date.parse(`${r.id!.split(':')[2]}T00:00:00Z`)]));
  const book = await db.select().from(prices).where(eq(prices.meter, 'storage_gb_days'));
  const lines: NewCharge[] = [];
  for (const { id } of owners) {
    const firstFile = await db.select({ at: sql<string>`min(${files.createdAt})` }).from(files).where(eq(files.tenantId, id));
    if (!firstFile[0]?.at) continue;
    const firstDay = Math.max(dayOf(new Date(firstFile[0].at)), today - BACKFILL_DAYS * DAY_MS, (lastDay.get(id) ?? -Infinity) + DAY_MS);
    for (let day = firstDay; day < today; day += DAY_MS) {
      const [stored] = await db.select({ bytes: sum(files.size) }).from(files).where(and(eq(files.tenantId, id), lt(files.createdAt, new Date(day + DAY_MS))));
      const gbDays = num(stored?.bytes) / 1e9;
      if (gbDays <= 0) continue;
      const date = new Date(day).toISOString().slice(0, 10);
      lines.push(meteredCharge(config, book, { id: `storage:${id}:${date}`, tenantId: id, meter: 'storage_gb_days', quantity: gbDays, at: new Date(day + DAY_MS - 1), reason: `files stored at the end of ${date}` }));
    }
  }
  for (let i = 0; i < lines.length; i += 500) await db.transaction((tx) => insertCharges(tx, config, lines.slice(i, i + 500)));
  return lines.length;
}

/**
 * A charge the farm meters itself (not an attempt's usage): priced from the book at its time,
 * billed to the tenant, under an id that makes a second pass add nothing.
 */
export function meteredCharge(config: Config, book: PriceRow[], c: { id: string; tenantId: string; meter: Meter; quantity: number; at: Date; reason: string }): NewCharge {
  const price = choosePrice(book, { meter: c.meter, gpuModel: null, resolution: null, codec: null }, c.at, config.MALAN_CURRENCY);
  const billed = price ? billable(c.quantity, price) : c.quantity;
  return {
    id: c.id,
    tenantId: c.tenantId,
    meter: c.meter,
    quantity: Math.round(c.quantity * 1e9) / 1e9,
    billedQuantity: billed,
    unit: METERS[c.meter].unit,
    priceId: price?.id ?? null,
    unitPriceNanos: price?.unitPriceNanos ?? 0,
    amountMicros: amountMicros(billed, price?.unitPriceNanos ?? 0),
    currency: config.MALAN_CURRENCY,
    billedTo: 'tenant',
    reason: c.reason,
    period: periodOf(c.at),
    occurredAt: c.at,
  };
}

const dayOf = (d: Date) => Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());

export function startStorageMeter(db: Db, config: Config, log: Logger): () => void {
  const tick = () =>
    meterStorage(db, config)
      .then((n) => n && log.info('storage metered', { days: n }))
      .catch((err: Error) => log.error('storage metering failed; it is tried again within the hour', { error: err.message }));
  void tick();
  const timer = setInterval(tick, 3600_000);
  timer.unref();
  return () => clearInterval(timer);
}

