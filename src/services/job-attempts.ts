/** A job's attempts: which worker ran each, how it ended, on which path, and what it used. */
import { and, asc, eq, type SQL } from 'drizzle-orm';
import { closeAttempt } from '../billing/ledger.js';
import type { Config } from '../config/env.js';
import type { DbOrTx } from '../db/database.js';
import { jobAttempts, usageEvents, type JobRow } from '../db/schema.js';
import type { FarmContext } from './farm-context.js';

export async function listAttempts(ctx: FarmContext, job: JobRow) {
  const rows = await ctx.db.select().from(jobAttempts).where(eq(jobAttempts.jobId, job.id)).orderBy(asc(jobAttempts.attempt));
  const usage = await ctx.db.select().from(usageEvents).where(and(eq(usageEvents.jobId, job.id)));
  return rows.map((a) => {
    const u = usage.filter((e) => e.attempt === a.attempt);
    return {
      attempt: a.attempt,
      worker_id: a.workerId,
      status: a.status,
      path: a.path,
      error: a.error,
      started_at: a.startedAt.toISOString(),
      ended_at: a.endedAt?.toISOString() ?? null,
      // Who pays, decided when the attempt ended or was lost: `platform` is the farm's own cost.
      billed_to: a.billedTo,
      billing_reason: a.billingReason,
      usage: u.length
        ? {
            wall_seconds: sum(u.map((e) => e.wallSeconds)),
            cpu_seconds: sum(u.map((e) => e.cpuSeconds)),
            gpu_seconds: sum(u.map((e) => e.gpuSeconds)),
            gpu_model: u[0]!.gpuModel,
            gpu_uuid: u[0]!.gpuUuid,
            output_seconds: sum(u.map((e) => e.outputSeconds)),
            reports: u.length,
            billable: u.every((e) => e.billable),
          }
        : null,
    };
  });
}

const sum = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) * 1000) / 1000;

/**
 * Marks the job's attempts still "running" that `which` selects as lost (their worker vanished) and
 * closes them as the platform's cost. Used wherever the farm learns of a loss: a later attempt
 * started, a task went to another worker, the queue gave the job up.
 */
export async function loseAttempts(tx: DbOrTx, config: Config, jobId: string, which: SQL | undefined, at: Date, message: string): Promise<number[]> {
  const lost = await tx
    .update(jobAttempts)
    .set({ status: 'lost', endedAt: at, error: { code: 'worker_lost', message } })
    .where(and(eq(jobAttempts.jobId, jobId), eq(jobAttempts.status, 'running'), which))
    .returning({ attempt: jobAttempts.attempt });
  for (const l of lost) await closeAttempt(tx, config, jobId, l.attempt, { outcome: 'lost', errorCode: 'worker_lost', superseded: null });
  return lost.map((l) => l.attempt);
}
