/** A job's attempts: which worker ran each, how it ended, on which path, and what it used. */
import { and, asc, eq } from 'drizzle-orm';
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
