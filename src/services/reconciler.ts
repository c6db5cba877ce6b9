/**
 * Postgres holds the truth about jobs, Redis the work in flight. The reconciler closes the gap:
 * a job the database says is queued or running but no queue holds (Redis lost it, or the API died
 * between the two writes) is put on its queue again. Adding is idempotent, so a race costs nothing.
 */
import type { Job } from 'bullmq';
import { and, eq, inArray, lt } from 'drizzle-orm';
import { jobs } from '../db/schema.js';
import { loseAttempts } from './job-attempts.js';
import { isJobKind } from '../jobs/registry.js';
import { jobFields } from '../logger.js';
import type { FarmContext } from './farm-context.js';
import { enqueueJob } from './jobs.js';
import { reconcileRender } from './render-recorder.js';
import { publishJobEvent } from './job-events.js';
import { enqueueWebhook } from './webhooks.js';

/** Jobs younger than this are left alone: their queue write may still be on its way. */
const GRACE_MS = 5_000;

export async function reconcileOnce(ctx: FarmContext, now = Date.now()): Promise<{ checked: number; requeued: string[] }> {
  const candidates = await ctx.db
    .select()
    .from(jobs)
    .where(and(inArray(jobs.status, ['queued', 'running']), lt(jobs.createdAt, new Date(now - GRACE_MS))));
  const requeued: string[] = [];
  for (const job of candidates) {
    if (!isJobKind(job.kind)) continue;
    // A render job's queue entries are its tasks: they are reconciled one by one.
    if (job.kind === 'render') {
      await reconcileRender(ctx, job, GRACE_MS, now);
      continue;
    }
    const existing = await ctx.queues.byKind[job.kind].getJob(job.id);
    if (existing) {
      if (await abandonedByQueue(existing, now)) await failAbandoned(ctx, job.id, existing.failedReason);
      continue;
    }
    if (job.status === 'running') {
      // Redis lost a job while it ran (a restart without its AOF): it goes back to the queue. If its
      // worker is in fact still at it, the first end to be recorded wins; the other changes nothing.
      const back = await ctx.db.update(jobs).set({ status: 'queued' }).where(and(eq(jobs.id, job.id), eq(jobs.status, 'running'))).returning({ id: jobs.id });
      if (!back.length) continue;
    }
    await enqueueJob(ctx, job);
    requeued.push(job.id);
    // A line each, not one list: a search for one job's lines finds this one too.
    ctx.log.with(jobFields(job.id, job.tenantId)).warn('re-enqueued a job the queues had lost', { status: job.status });
  }
  return { checked: candidates.length, requeued };
}

/**
 * BullMQ fails a job without any worker saying so when its workers vanished too often (stalled
 * past maxStalledCount). No end report will come, so the job is ended here. A failure some worker
 * did report is left to its report, which may still be on its way: hence the grace.
 */
async function abandonedByQueue(bullJob: Job, now: number): Promise<boolean> {
  if (!bullJob.finishedOn || bullJob.finishedOn > now - GRACE_MS) return false;
  return (await bullJob.getState()) === 'failed';
}

export async function failAbandoned(ctx: FarmContext, jobId: string, queueReason: string | undefined): Promise<void> {
  const at = new Date();
  const error = { code: 'worker_lost' as const, message: `the job's workers stopped answering and the farm stopped retrying it (${queueReason ?? 'no reason given'})` };
  const ended = await ctx.db.transaction(async (tx) => {
    await loseAttempts(tx, ctx.config, jobId, undefined, at, error.message);
    const [job] = await tx
      .update(jobs)
      .set({ status: 'failed', error, completedAt: at })
      .where(and(eq(jobs.id, jobId), inArray(jobs.status, ['queued', 'running'])))
      .returning();
    return job ?? null;
  });
  if (!ended) return;
  ctx.log.with(jobFields(jobId, ended.tenantId)).warn('ended a job the queue had given up on', { reason: queueReason });
  await publishJobEvent(ctx, jobId, 'status', { status: 'failed', error });
  await enqueueWebhook(ctx, ended, 'completed');
}

export function startReconciler(ctx: FarmContext): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      await reconcileOnce(ctx);
    } catch (err) {
      ctx.log.error('reconciler pass failed', { error: (err as Error).message });
    } finally {
      running = false;
    }
  };
  void tick();
  const timer = setInterval(tick, ctx.config.MALAN_RECONCILE_SECONDS * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
