/**
 * Postgres holds the truth about jobs, Redis the work in flight. The reconciler closes the gap:
 * a job the database says is queued or running but no queue holds (Redis lost it, or the API died
 * between the two writes) is put on its queue again. Adding is idempotent, so a race costs nothing.
 */
import { and, eq, inArray, lt } from 'drizzle-orm';
import { jobs } from '../db/schema.js';
import { isJobKind } from '../jobs/registry.js';
import type { FarmContext } from './farm-context.js';
import { enqueueJob } from './jobs.js';

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
    const existing = await ctx.queues.byKind[job.kind].getJob(job.id);
    if (existing) continue;
    if (job.status === 'running') {
      // Redis lost a job while it ran (a restart without its AOF): it goes back to the queue. If its
      // worker is in fact still at it, the first end to be recorded wins; the other changes nothing.
      const back = await ctx.db.update(jobs).set({ status: 'queued' }).where(and(eq(jobs.id, job.id), eq(jobs.status, 'running'))).returning({ id: jobs.id });
      if (!back.length) continue;
    }
    await enqueueJob(ctx, job);
    requeued.push(job.id);
  }
  if (requeued.length) ctx.log.warn('re-enqueued jobs that the queues had lost', { count: requeued.length, jobs: requeued.slice(0, 10) });
  return { checked: candidates.length, requeued };
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
