/**
 * Records workers' reports in the database, once each in effect: rows are keyed by (job, attempt,
 * sequence) and inserted with ON CONFLICT DO NOTHING, and a job's status only moves forward
 * (a late report never reopens a finished job). This is the only path from workers to the database.
 */
import { Worker, type Job } from 'bullmq';
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import { closeAttempt, rateUnrated } from '../billing/ledger.js';
import { loseAttempts } from './job-attempts.js';
import type { DbOrTx } from '../db/database.js';
import { jobFields, type Logger } from '../logger.js';
import { files, jobAttempts, jobLogs, jobs, usageEvents, workers, type JobOutput, type JobRow } from '../db/schema.js';
import { QUEUE_NAMES, type Report, type UsageReport } from '../queue/messages.js';
import type { FarmContext } from './farm-context.js';
import { publishJobEvent } from './job-events.js';
import { enqueueWebhook } from './webhooks.js';
import { recordTaskEnded, recordTaskProgress, recordTaskStarted } from './render-recorder.js';
import { recordSegmentEnded, recordSegmentStarted } from './live-publisher.js';

type Ended = Extract<Report, { type: 'attempt-ended' }>;

export async function recordReport(ctx: FarmContext, r: Report): Promise<void> {
  switch (r.type) {
    case 'attempt-started':
      return recordStarted(ctx, r);
    case 'progress': {
      const done = await ctx.db
        .update(jobs)
        .set({ progress: r.progress })
        .where(and(eq(jobs.id, r.jobId), eq(jobs.status, 'running'), eq(jobs.attempts, r.attempt)))
        .returning({ id: jobs.id });
      if (done.length) await publishJobEvent(ctx, r.jobId, 'progress', { progress: r.progress, attempt: r.attempt });
      return;
    }
    case 'log': {
      const added = await ctx.db
        .insert(jobLogs)
        .values({ jobId: r.jobId, attempt: r.attempt, sequence: r.sequence, lines: r.lines })
        .onConflictDoNothing()
        .returning({ seq: jobLogs.sequence });
      if (added.length) await publishJobEvent(ctx, r.jobId, 'log', { attempt: r.attempt, lines: r.lines });
      return;
    }
    case 'attempt-ended':
      return recordEnded(ctx, r);
    case 'usage':
      return recordUsage(ctx, r);
    case 'task-started':
      return recordTaskStarted(ctx, r);
    case 'task-progress':
      return recordTaskProgress(ctx, r);
    case 'task-ended':
      return recordTaskEnded(ctx, r);
    case 'live-segment-started':
      return recordSegmentStarted(ctx, r);
    case 'live-segment-ended':
      return recordSegmentEnded(ctx, r);
    case 'worker-up': {
      const row = { hostname: r.hostname, pid: r.pid, kinds: r.kinds, capabilities: r.capabilities, status: 'up' as const, lastSeenAt: new Date(r.at) };
      await ctx.db
        .insert(workers)
        .values({ id: r.workerId, startedAt: new Date(r.at), ...row })
        .onConflictDoUpdate({ target: workers.id, set: row });
      return;
    }
    case 'worker-down':
      await ctx.db.update(workers).set({ status: 'stopped', stoppedAt: new Date(r.at), lastSeenAt: new Date(r.at) }).where(eq(workers.id, r.workerId));
      return;
    default: {
      const never: never = r;
      throw new Error(`unknown report ${JSON.stringify(never)}`);
    }
  }
}

async function recordStarted(ctx: FarmContext, r: Extract<Report, { type: 'attempt-started' }>) {
  const at = new Date(r.at);
  const started = await ctx.db.transaction(async (tx) => {
    const added = await tx
      .insert(jobAttempts)
      .values({ jobId: r.jobId, attempt: r.attempt, workerId: r.workerId, status: 'running', startedAt: at })
      .onConflictDoNothing()
      .returning();
    if (!added.length) return null;
    // An earlier attempt still "running" has lost its worker: BullMQ found it stalled and moved on.
    await loseAttempts(tx, ctx.config, r.jobId, lt(jobAttempts.attempt, r.attempt), at, 'the worker stopped answering; the job was given to another');
    const [job] = await tx
      .update(jobs)
      .set({ status: 'running', startedAt: sql`coalesce(${jobs.startedAt}, ${at.toISOString()}::timestamptz)`, attempts: sql`greatest(${jobs.attempts}, ${r.attempt})`, progress: 0 })
      .where(and(eq(jobs.id, r.jobId), inArray(jobs.status, ['queued', 'running'])))
      .returning();
    return job ?? null;
  });
  if (!started) return;
  await publishJobEvent(ctx, r.jobId, 'status', { status: 'running', attempt: r.attempt, worker: r.workerId });
  if (r.attempt === 1) await enqueueWebhook(ctx, started, 'start');
}

async function recordEnded(ctx: FarmContext, r: Ended) {
  const at = new Date(r.at);
  const finished = await ctx.db.transaction(async (tx) => {
    const [job] = await tx.select().from(jobs).where(eq(jobs.id, r.jobId)).for('update');
    if (!job) return null;
    await tx
      .insert(jobAttempts)
      .values({ jobId: r.jobId, attempt: r.attempt, workerId: r.workerId, status: 'running', startedAt: at })
      .onConflictDoNothing();
    const updatedAttempt = await tx
      .update(jobAttempts)
      .set({ status: r.outcome, endedAt: at, error: r.error, path: String(r.execution.path ?? '') || null })
      .where(and(eq(jobAttempts.jobId, r.jobId), eq(jobAttempts.attempt, r.attempt), inArray(jobAttempts.status, ['running', 'lost'])))
      .returning();
    if (!updatedAttempt.length) return null; // this report was recorded before
    await insertUsage(tx, job, { ...r, sequence: r.usageSequence ?? 0, final: true });
    // Another attempt already succeeded, or the job moved on: this one's time is platform cost.
    const superseded = job.status === 'succeeded' ? 'already-succeeded' : r.attempt < job.attempts ? 'later-attempt' : null;
    await closeAttempt(tx, ctx.config, r.jobId, r.attempt, { outcome: r.outcome, errorCode: r.error?.code ?? null, superseded });
    if (job.status !== 'queued' && job.status !== 'running') return null;
    const next = nextJobState(r, job.attempts);
    if (!next) return null;
    let outputs: JobOutput[] = [];
    if (next.status === 'succeeded' && r.outputs.length) {
      const rows = await tx.select().from(files).where(and(inArray(files.id, r.outputs.map((o) => o.file)), eq(files.tenantId, job.tenantId)));
      outputs = r.outputs.flatMap((o) => {
        const f = rows.find((row) => row.id === o.file);
        return f ? [{ file: f.id, role: o.role, name: f.name, content_type: f.contentType, size: f.size, ...(o.rendition && { rendition: o.rendition }) }] : [];
      });
    }
    const [updated] = await tx
      .update(jobs)
      .set({ ...next, outputs, execution: r.execution, ...(next.status === 'succeeded' && r.output !== undefined && { result: r.output }), completedAt: next.status === 'queued' ? null : at, progress: next.status === 'succeeded' ? 1 : job.progress })
      .where(eq(jobs.id, r.jobId))
      .returning();
    return updated ?? null;
  });
  if (!finished) return;
  await publishJobEvent(ctx, r.jobId, 'status', { status: finished.status, error: finished.error, attempt: r.attempt });
  if (finished.status !== 'queued') await enqueueWebhook(ctx, finished, 'completed');
}

/** A running attempt's increment; rated at once if its attempt was already rated (it came late). */
async function recordUsage(ctx: FarmContext, r: Extract<Report, { type: 'usage' }>) {
  await ctx.db.transaction(async (tx) => {
    const [job] = await tx.select().from(jobs).where(eq(jobs.id, r.jobId));
    if (!job || !(await insertUsage(tx, job, { ...r, final: false }))) return;
    const [attempt] = await tx.select().from(jobAttempts).where(and(eq(jobAttempts.jobId, r.jobId), eq(jobAttempts.attempt, r.attempt)));
    if (attempt?.billedTo) await rateUnrated(tx, ctx.config, r.jobId, r.attempt, { billedTo: attempt.billedTo, reason: attempt.billingReason ?? '' });
  });
}

/** One usage event, keyed (job, attempt, sequence); false when it was recorded before. */
export async function insertUsage(tx: DbOrTx, job: JobRow, r: { jobId: string; attempt: number; sequence: number; workerId: string; at: string; usage: UsageReport; final: boolean }): Promise<boolean> {
  const { meters, ...compute } = r.usage;
  const added = await tx
    .insert(usageEvents)
    .values({
      id: `${r.jobId}:${r.attempt}:${r.sequence}`,
      jobId: r.jobId,
      tenantId: job.tenantId,
      kind: job.kind,
      attempt: r.attempt,
      sequence: r.sequence,
      workerId: r.workerId,
      ...compute,
      meters: meters ?? {},
      final: r.final,
      occurredAt: new Date(r.at),
    })
    .onConflictDoNothing()
    .returning({ id: usageEvents.id });
  return added.length > 0;
}

function nextJobState(r: Ended, currentAttempt: number) {
  if (r.attempt < currentAttempt) return null; // a stale attempt's ending does not decide the job
  if (r.outcome === 'succeeded') return { status: 'succeeded' as const, error: null };
  if (r.outcome === 'canceled') return { status: 'canceled' as const, error: r.error };
  if (r.willRetry) return { status: 'queued' as const, error: r.error };
  return { status: 'failed' as const, error: r.error };
}

export function startReportRecorder(ctx: FarmContext, connection: Redis): Worker {
  const log = ctx.log.child('reports');
  const worker = new Worker(
    QUEUE_NAMES.reports,
    async (job: Job<Report>) => {
      await recordReport(ctx, job.data);
    },
    // One at a time: reports are recorded in the order workers sent them, so a job's last log lines
    // are in before its end is (each write is a few milliseconds; the farm's writer is one process anyway).
    { connection, prefix: ctx.config.MALAN_QUEUE_PREFIX, concurrency: 1, removeOnComplete: { age: 3600, count: 50_000 }, removeOnFail: { age: 7 * 24 * 3600 } },
  );
  worker.on('failed', (job, err) => void logFailedReport(ctx, log, job?.data, err));
  return worker;
}

// A report names its job but not the job's tenant: the line looks it up, and goes without it
// when the database is what failed.
async function logFailedReport(ctx: FarmContext, log: Logger, r: Report | undefined, err: Error) {
  const jobId = r && 'jobId' in r ? r.jobId : undefined;
  const tenant = jobId ? await ctx.db.select({ tenantId: jobs.tenantId }).from(jobs).where(eq(jobs.id, jobId)).then(([row]) => row?.tenantId, () => undefined) : undefined;
  const about = { ...(jobId && jobFields(jobId, tenant)), ...(r && 'workerId' in r && { worker: r.workerId }) };
  log.with(about).error('could not record a report; it will be retried', { report: r?.type, error: err.message });
}
