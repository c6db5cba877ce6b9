/**
 * The ledger's writes. When an attempt's outcome is known its payer is decided once
 * (`closeAttempt`) and its usage events are rated into charges in the same transaction, each
 * charge with its CloudEvent in the outbox. Ids are deterministic and every insert is
 * ON CONFLICT DO NOTHING, so a retried report or a restart adds nothing twice.
 */
import { and, eq, isNull } from 'drizzle-orm';
import type { Config } from '../config/env.js';
import type { DbOrTx } from '../db/database.js';
import { billingOutbox, charges, prices, type NewCharge } from '../db/billing-schema.js';
import { jobAttempts, usageEvents } from '../db/schema.js';
import { chargeEvent } from './cloud-events.js';
import { payerOf, policyFrom, type AttemptEnding, type Payer } from './policy.js';
import { rateAttempt } from './rating.js';

/** Decides who pays for the attempt (unless decided before) and rates its unrated usage. */
export async function closeAttempt(tx: DbOrTx, config: Config, jobId: string, attempt: number, ending: AttemptEnding): Promise<Payer> {
  const decided = payerOf(ending, policyFrom(config));
  await tx
    .update(jobAttempts)
    .set({ billedTo: decided.billedTo, billingReason: decided.reason })
    .where(and(eq(jobAttempts.jobId, jobId), eq(jobAttempts.attempt, attempt), isNull(jobAttempts.billedTo)));
  const [row] = await tx.select().from(jobAttempts).where(and(eq(jobAttempts.jobId, jobId), eq(jobAttempts.attempt, attempt)));
  const payer = row?.billedTo ? { billedTo: row.billedTo, reason: row.billingReason ?? decided.reason } : decided;
  await rateUnrated(tx, config, jobId, attempt, payer);
  return payer;
}

/**
 * Rates the attempt's events not rated yet. Events that come after their attempt was rated (a
 * report retried late) are rated alone, with charge ids of their own.
 */
export async function rateUnrated(tx: DbOrTx, config: Config, jobId: string, attempt: number, payer: Payer): Promise<NewCharge[]> {
  const events = await tx
    .select()
    .from(usageEvents)
    .where(and(eq(usageEvents.jobId, jobId), eq(usageEvents.attempt, attempt), isNull(usageEvents.ratedAt)))
    .for('update');
  if (!events.length) return [];
  const [rated] = await tx.select({ id: charges.id }).from(charges).where(and(eq(charges.jobId, jobId), eq(charges.attempt, attempt))).limit(1);
  const book = await tx.select().from(prices);
  const base = { tenantId: events[0]!.tenantId, jobId, kind: events[0]!.kind, attempt, payer, prices: book, currency: config.MALAN_CURRENCY };
  const lines = rated ? events.flatMap((e) => rateAttempt({ ...base, events: [e], lateEventId: e.id })) : rateAttempt({ ...base, events });
  await insertCharges(tx, config, lines);
  await tx
    .update(usageEvents)
    .set({ ratedAt: new Date(), billable: payer.billedTo === 'tenant' })
    .where(and(eq(usageEvents.jobId, jobId), eq(usageEvents.attempt, attempt), isNull(usageEvents.ratedAt)));
  return lines;
}

/** Charges and their outbox events, once each. */
export async function insertCharges(tx: DbOrTx, config: Config, lines: NewCharge[]): Promise<void> {
  if (!lines.length) return;
  const added = await tx.insert(charges).values(lines).onConflictDoNothing().returning();
  if (added.length) await tx.insert(billingOutbox).values(added.map((c) => ({ eventId: c.id, event: chargeEvent(c, config.MALAN_BILLING_SOURCE) }))).onConflictDoNothing();
}
