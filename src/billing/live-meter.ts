/**
 * Live channel-hours: when an event ends, its time on air (first segment in → end) is charged to
 * its tenant once (charge id `live:<channel>`). The encoding itself is the farm's to plan; what a
 * studio buys is a channel on air with its ladder.
 */
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import type { Config } from '../config/env.js';
import type { Db } from '../db/database.js';
import { prices } from '../db/billing-schema.js';
import { liveChannels } from '../db/live-schema.js';
import { insertCharges } from './ledger.js';
import { meteredCharge } from './storage-meter.js';

export async function meterEndedChannels(db: Db, config: Config): Promise<number> {
  const ended = await db
    .select()
    .from(liveChannels)
    .where(and(eq(liveChannels.status, 'ended'), isNotNull(liveChannels.startedAt), isNotNull(liveChannels.endedAt), sql`not exists (select 1 from charges where charges.id = 'live:' || ${liveChannels.id})`));
  if (!ended.length) return 0;
  const book = await db.select().from(prices).where(eq(prices.meter, 'live_channel_hours'));
  const lines = ended.map((c) =>
    meteredCharge(config, book, {
      id: `live:${c.id}`,
      tenantId: c.tenantId,
      meter: 'live_channel_hours',
      quantity: Math.max(0, c.endedAt!.getTime() - c.startedAt!.getTime()) / 3_600_000,
      at: c.endedAt!,
      reason: `live channel ${c.name ?? c.id} on air ${c.startedAt!.toISOString()} – ${c.endedAt!.toISOString()}`,
    }),
  );
  await db.transaction((tx) => insertCharges(tx, config, lines));
  return lines.length;
}
