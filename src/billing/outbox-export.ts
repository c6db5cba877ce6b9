/**
 * Sends the outbox to an external billing system (MALAN_BILLING_EXPORT_URL), in order, as
 * CloudEvents batches (`application/cloudevents-batch+json`, what OpenMeter's /api/v1/events
 * takes). An event is marked delivered only after a 2xx, so a failure or a crash sends it again:
 * at least once, with the same id, which the receiver uses to count it once.
 */
import { and, asc, inArray, isNull } from 'drizzle-orm';
import type { Config } from '../config/env.js';
import type { Db } from '../db/database.js';
import { billingOutbox } from '../db/billing-schema.js';
import type { Logger } from '../logger.js';

const BATCH = 100;

export async function exportOnce(db: Db, config: Config, fetchFn: typeof fetch = fetch): Promise<number> {
  const url = config.MALAN_BILLING_EXPORT_URL;
  if (!url) return 0;
  let sent = 0;
  for (;;) {
    const rows = await db.select().from(billingOutbox).where(isNull(billingOutbox.deliveredAt)).orderBy(asc(billingOutbox.seq)).limit(BATCH);
    if (!rows.length) return sent;
    const res = await fetchFn(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/cloudevents-batch+json',
        ...(config.MALAN_BILLING_EXPORT_TOKEN && { Authorization: `Bearer ${config.MALAN_BILLING_EXPORT_TOKEN}` }),
      },
      body: JSON.stringify(rows.map((r) => r.event)),
      signal: AbortSignal.timeout(30_000),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`the billing export answered ${res.status} ${res.statusText}`);
    await db
      .update(billingOutbox)
      .set({ deliveredAt: new Date() })
      .where(and(inArray(billingOutbox.seq, rows.map((r) => r.seq)), isNull(billingOutbox.deliveredAt)));
    sent += rows.length;
  }
}

/** Every 2 s while it works; after a failure it waits longer each time, up to a minute. */
export function startOutboxExport(db: Db, config: Config, log: Logger): () => void {
  if (!config.MALAN_BILLING_EXPORT_URL) return () => {};
  let stopped = false;
  let delay = 2000;
  let timer: NodeJS.Timeout;
  const tick = async () => {
    try {
      const n = await exportOnce(db, config);
      if (n) log.info('billing events exported', { events: n });
      delay = 2000;
    } catch (err) {
      delay = Math.min(60_000, delay * 2);
      log.warn(`billing export failed; trying again in ${delay / 1000} s`, { error: (err as Error).message });
    }
    if (!stopped) timer = setTimeout(tick, delay).unref();
  };
  timer = setTimeout(tick, 0).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
