/**
 * Records render tasks' reports and moves the job's state machine: the first task that starts
 * makes the job running; a task that fails is given to another worker until it has failed on
 * three different workers (or at once when its input is at fault); a worker that failed three
 * times on a job is blocklisted for it; when every frame task has completed the assembly task is
 * queued, and its end ends the job. Every task run is an attempt of the job (job_attempts, usage,
 * billing) numbered `renderAttempt(index, generation, run)`.
 */
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { closeAttempt } from '../billing/ledger.js';
import { failureOwner } from '../billing/policy.js';
import { renderBlocklist, renderTasks, type RenderTaskRow, type TaskFailure } from '../db/render-schema.js';
import { files, jobAttempts, jobs, type JobOutput, type JobRow } from '../db/schema.js';
import type { DbOrTx } from '../db/database.js';
import { renderInputSchema } from '../jobs/render/spec.js';
import { assemblyTask, chunkRest } from '../jobs/render/task-plan.js';
import { jobFields } from '../logger.js';
import { channels, type Report } from '../queue/messages.js';
import type { FarmContext } from './farm-context.js';
import { publishJobEvent } from './job-events.js';
import { insertTasks, queueTasks, stopRenderTasks, taskView } from './render-jobs.js';
import { insertUsage } from './report-recorder.js';
import { loseAttempts } from './job-attempts.js';
import { enqueueWebhook } from './webhooks.js';

type Started = Extract<Report, { type: 'task-started' }>;
type Progress = Extract<Report, { type: 'task-progress' }>;
type Ended = Extract<Report, { type: 'task-ended' }>;

/** Distinct workers a task may fail on before it fails for good. */
export const TASK_WORKER_FAILURES = 3;
/** Failures of one worker on one job before it takes no more of the job's tasks. */
export const BLOCKLIST_FAILURES = 3;

export async function recordTaskStarted(ctx: FarmContext, r: Started): Promise<void> {
  const at = new Date(r.at);
  const job = await ctx.db.transaction(async (tx) => {
    const task = await lockTask(tx, r.jobId, r.index);
    if (!task || task.generation !== r.generation || !['queued', 'active', 'paused'].includes(task.status)) return null;
    const added = await tx.insert(jobAttempts).values({ jobId: r.jobId, attempt: r.attempt, workerId: r.workerId, status: 'running', startedAt: at }).onConflictDoNothing().returning();
    if (!added.length) return null;
    // The task's previous run is still "running": its worker vanished and BullMQ gave the task to this one.
    if (task.attempt !== null && task.attempt !== r.attempt) await loseAttempts(tx, ctx.config, r.jobId, eq(jobAttempts.attempt, task.attempt), at, 'the worker stopped answering; the task was given to another');
    await tx.update(renderTasks).set({ status: 'active', attempt: r.attempt, workerId: r.workerId, startedAt: at, framesDone: 0, progress: 0 }).where(taskKey(r.jobId, r.index));
    const [running] = await tx
      .update(jobs)
      .set({ status: sql`case when ${jobs.status} = 'queued' then 'running' else ${jobs.status} end`, startedAt: sql`coalesce(${jobs.startedAt}, ${at.toISOString()}::timestamptz)`, attempts: sql`greatest(${jobs.attempts}, ${r.attempt})` })
      .where(and(eq(jobs.id, r.jobId), inArray(jobs.status, ['queued', 'running', 'paused'])))
      .returning();
    return running ?? null;
  });
  if (!job) return;
  await publishJobEvent(ctx, r.jobId, 'task', { index: r.index, status: 'active', worker: r.workerId, attempt: r.attempt });
  if (!job.completedAt && job.startedAt?.getTime() === at.getTime()) {
    await publishJobEvent(ctx, r.jobId, 'status', { status: 'running' });
    await enqueueWebhook(ctx, job, 'start');
  }
}

export async function recordTaskProgress(ctx: FarmContext, r: Progress): Promise<void> {
  const done = await ctx.db
    .update(renderTasks)
    .set({ framesDone: r.framesDone, progress: r.progress, ...(r.previewFile && { previewFile: r.previewFile }) })
    .where(and(taskKey(r.jobId, r.index), eq(renderTasks.attempt, r.attempt), eq(renderTasks.status, 'active')))
    .returning({ index: renderTasks.index });
  if (!done.length) return;
  const progress = await jobProgress(ctx.db, r.jobId);
  await ctx.db.update(jobs).set({ progress }).where(and(eq(jobs.id, r.jobId), inArray(jobs.status, ['running', 'paused'])));
  await publishJobEvent(ctx, r.jobId, 'progress', { progress, task: r.index, frames_done: r.framesDone, ...(r.previewFile && { preview: r.previewFile }) });
}

export async function recordTaskEnded(ctx: FarmContext, r: Ended): Promise<void> {
  const at = new Date(r.at);
  const after: Array<() => Promise<void>> = [];
  await ctx.db.transaction(async (tx) => {
    const [job] = await tx.select().from(jobs).where(eq(jobs.id, r.jobId)).for('update');
    const task = await lockTask(tx, r.jobId, r.index);
    if (!job || !task) return;
    await tx.insert(jobAttempts).values({ jobId: r.jobId, attempt: r.attempt, workerId: r.workerId, status: 'running', startedAt: at }).onConflictDoNothing();
    const ended = await tx
      .update(jobAttempts)
      .set({ status: r.outcome, endedAt: at, error: r.error, path: String(r.execution.path ?? '') || null })
      .where(and(eq(jobAttempts.jobId, r.jobId), eq(jobAttempts.attempt, r.attempt), inArray(jobAttempts.status, ['running', 'lost'])))
      .returning();
    if (!ended.length) return; // recorded before
    await insertUsage(tx, job, { ...r, sequence: r.usageSequence ?? 0, final: true, usage: { ...r.usage, meters: { ...r.usage.meters, ...(r.outcome === 'succeeded' && task.type === 'frames' && { framesRendered: r.outputs.length }) } } });
    const current = task.attempt === r.attempt && task.generation === r.generation && task.status === 'active';
    const superseded = current ? null : task.status === 'completed' ? 'already-succeeded' : 'later-attempt';
    await closeAttempt(tx, ctx.config, r.jobId, r.attempt, { outcome: r.outcome, errorCode: r.error?.code ?? null, superseded });
    if (!current) return;
    if (!['running', 'paused'].includes(job.status)) {
      // The job ended meanwhile (canceled, failed by another task): the task ends with it.
      await tx.update(renderTasks).set({ status: r.outcome === 'succeeded' ? 'completed' : 'canceled', endedAt: at, ...(r.outcome === 'succeeded' && { outputs: r.outputs, framesDone: r.outputs.length, progress: 1 }) }).where(taskKey(r.jobId, r.index));
      return;
    }
    if (r.outcome === 'succeeded') return completeTask(tx, ctx, job, task, r, at, after);
    if (r.outcome === 'canceled') {
      await tx.update(renderTasks).set({ status: 'canceled', endedAt: at }).where(taskKey(r.jobId, r.index));
      return;
    }
    return failTask(tx, ctx, job, task, r, at, after);
  });
  for (const step of after) await step();
  await publishJobEvent(ctx, r.jobId, 'task', { index: r.index, status: r.outcome === 'succeeded' ? 'completed' : r.outcome, attempt: r.attempt, error: r.error });
}

async function completeTask(tx: DbOrTx, ctx: FarmContext, job: JobRow, task: RenderTaskRow, r: Ended, at: Date, after: Array<() => Promise<void>>) {
  await tx
    .update(renderTasks)
    .set({ status: 'completed', outputs: r.outputs, framesDone: r.outputs.length, progress: 1, endedAt: at, secondsPerFrame: r.secondsPerFrame ?? null, ...(r.previewFile && { previewFile: r.previewFile }) })
    .where(taskKey(r.jobId, r.index));
  if (task.type === 'assembly') return finishJob(tx, ctx, job, r, at, after);
  const input = renderInputSchema.parse(job.input);
  // The measuring frame is in: the rest are sized by its time and queued (or wait, if the job is paused).
  const measured = input.task_seconds !== undefined && task.index === 0;
  if (measured) await insertTasks(tx, job.id, chunkRest(input, r.secondsPerFrame ?? 1));
  const tasks = await tx.select().from(renderTasks).where(eq(renderTasks.jobId, job.id));
  const frameTasks = tasks.filter((t) => t.type === 'frames');
  if (measured && job.status === 'paused') await tx.update(renderTasks).set({ status: 'paused' }).where(and(eq(renderTasks.jobId, job.id), eq(renderTasks.status, 'queued')));
  else if (measured) {
    const rest = tasks.filter((t) => t.index > 0 && t.status === 'queued');
    after.push(() => queueTasks(ctx, job, rest));
  }
  if (frameTasks.every((t) => t.status === 'completed' || t.status === 'failed') && !tasks.some((t) => t.type === 'assembly')) {
    const assembly = assemblyTask(Math.max(...tasks.map((t) => t.index)) + 1, input);
    await insertTasks(tx, job.id, [assembly]);
    const [row] = await tx.select().from(renderTasks).where(taskKey(job.id, assembly.index));
    if (row && job.status !== 'paused') after.push(() => queueTasks(ctx, job, [row]));
    else if (row) await tx.update(renderTasks).set({ status: 'paused' }).where(taskKey(job.id, assembly.index));
  }
  const progress = await jobProgress(tx, job.id);
  await tx.update(jobs).set({ progress }).where(eq(jobs.id, job.id));
}

async function finishJob(tx: DbOrTx, ctx: FarmContext, job: JobRow, r: Ended, at: Date, after: Array<() => Promise<void>>) {
  const tasks = await tx.select().from(renderTasks).where(and(eq(renderTasks.jobId, job.id), eq(renderTasks.type, 'frames'))).orderBy(asc(renderTasks.index));
  const frames = tasks.flatMap((t) => t.outputs).sort((a, b) => a.frame - b.frame);
  const assembled = r.outputs;
  const ids = [...frames, ...assembled].map((o) => o.file);
  const rows = ids.length ? await tx.select().from(files).where(and(inArray(files.id, ids), eq(files.tenantId, job.tenantId))) : [];
  const byId = new Map(rows.map((f) => [f.id, f]));
  const output = (o: { file: string; name: string }, role: string): JobOutput[] => {
    const f = byId.get(o.file);
    return f ? [{ file: f.id, role, name: f.name, content_type: f.contentType, size: f.size }] : [];
  };
  const outputs = [...assembled.flatMap((o) => output(o, o.name.endsWith('.mp4') ? 'preview' : 'poster')), ...frames.flatMap((o) => output(o, 'frame'))];
  const failed = (await tx.select().from(renderTasks).where(and(eq(renderTasks.jobId, job.id), eq(renderTasks.status, 'failed')))).map((t) => t.index);
  // What ran where: the paths (cpu, optix, cuda) of the runs that rendered frames.
  const runs = await tx.select({ path: jobAttempts.path, worker: jobAttempts.workerId }).from(jobAttempts).where(and(eq(jobAttempts.jobId, job.id), eq(jobAttempts.status, 'succeeded')));
  const renderer = renderInputSchema.parse(job.input).renderer;
  const [done] = await tx
    .update(jobs)
    .set({
      status: 'succeeded', outputs, progress: 1, completedAt: at, error: null,
      execution: { ...(job.execution ?? {}), ...r.execution, renderer, paths: [...new Set(runs.map((x) => x.path).filter(Boolean))], workers: [...new Set(runs.map((x) => x.worker))], frames: frames.length, failed_tasks: failed },
    })
    .where(and(eq(jobs.id, job.id), inArray(jobs.status, ['running', 'paused'])))
    .returning();
  if (done) after.push(() => publishJobEvent(ctx, job.id, 'status', { status: 'succeeded' }), () => enqueueWebhook(ctx, done, 'completed'));
}

async function failTask(tx: DbOrTx, ctx: FarmContext, job: JobRow, task: RenderTaskRow, r: Ended, at: Date, after: Array<() => Promise<void>>) {
  const failure: TaskFailure = { worker: r.workerId, run: r.attempt, at: r.at, code: r.error?.code ?? 'internal', message: r.error?.message ?? 'failed' };
  const failures = [...task.failures, failure];
  const workers = new Set(failures.map((f) => f.worker));
  // Another worker cannot fix bad input (a corrupt scene): such a failure is final at once.
  const final = (r.error && failureOwner(r.error.code) === 'input') || workers.size >= TASK_WORKER_FAILURES;
  const retry = !final;
  await tx
    .update(renderTasks)
    .set({ failures, endedAt: at, status: retry ? (job.status === 'paused' ? 'paused' : 'queued') : 'failed', generation: retry ? task.generation + 1 : task.generation })
    .where(taskKey(r.jobId, r.index));
  await blocklistIfRepeated(tx, ctx, job, r.workerId, after);
  if (retry) {
    const [again] = await tx.select().from(renderTasks).where(taskKey(r.jobId, r.index));
    if (again && again.status === 'queued') after.push(() => queueTasks(ctx, job, [again]));
    return;
  }
  const input = renderInputSchema.parse(job.input);
  const failedTasks = await tx.select().from(renderTasks).where(and(eq(renderTasks.jobId, job.id), eq(renderTasks.status, 'failed')));
  const assembly = task.type === 'assembly';
  if (!assembly && failedTasks.length <= (input.max_failed_tasks ?? 0)) return;
  const how = workers.size > 1 ? `on ${workers.size} workers` : `on worker ${r.workerId}`;
  const what = assembly ? 'the assembly of the frames' : `task ${task.index} (frames ${task.frameStart}–${task.frameEnd})`;
  const error = { code: failure.code, message: `${what} failed ${how}: ${failure.message}` };
  const [failedJob] = await tx
    .update(jobs)
    .set({ status: 'failed', error, completedAt: at })
    .where(and(eq(jobs.id, job.id), inArray(jobs.status, ['running', 'paused'])))
    .returning();
  if (!failedJob) return;
  after.push(
    async () => {
      // The other tasks stop: waiting ones leave the queue, running ones are killed.
      await stopRenderTasks(ctx, job.id, 'canceled');
      await ctx.redis.set(channels.canceledKey(ctx.config.MALAN_QUEUE_PREFIX, job.id), '1', 'EX', 7 * 24 * 3600);
      await ctx.redis.publish(channels.cancel(ctx.config.MALAN_QUEUE_PREFIX), job.id);
    },
    () => publishJobEvent(ctx, job.id, 'status', { status: 'failed', error }),
    () => enqueueWebhook(ctx, failedJob, 'completed'),
  );
}

async function blocklistIfRepeated(tx: DbOrTx, ctx: FarmContext, job: JobRow, workerId: string, after: Array<() => Promise<void>>) {
  const jobId = job.id;
  const tasks = await tx.select({ failures: renderTasks.failures }).from(renderTasks).where(eq(renderTasks.jobId, jobId));
  // A worker that was stopped or lost did not fail the work: only its own failures count.
  const count = tasks.reduce((n, t) => n + t.failures.filter((f) => f.worker === workerId && f.code !== 'worker_lost').length, 0);
  if (count < BLOCKLIST_FAILURES) return;
  const added = await tx.insert(renderBlocklist).values({ jobId, workerId, failures: count }).onConflictDoNothing().returning();
  if (!added.length) return;
  after.push(async () => {
    await ctx.redis.sadd(channels.blocklistKey(ctx.config.MALAN_QUEUE_PREFIX, jobId), workerId);
    await ctx.redis.expire(channels.blocklistKey(ctx.config.MALAN_QUEUE_PREFIX, jobId), 30 * 24 * 3600);
    ctx.log.with(jobFields(jobId, job.tenantId)).warn('worker blocklisted for a render job', { worker: workerId, failures: count });
  });
}

/** Frames done over frames to render; the assembly is the last 5%. */
async function jobProgress(db: DbOrTx, jobId: string): Promise<number> {
  const tasks = await db.select().from(renderTasks).where(eq(renderTasks.jobId, jobId));
  const frameTasks = tasks.filter((t) => t.type === 'frames');
  const total = frameTasks.reduce((n, t) => n + Math.floor((t.frameEnd - t.frameStart) / t.frameStep) + 1, 0);
  const done = frameTasks.reduce((n, t) => n + (t.status === 'completed' ? Math.floor((t.frameEnd - t.frameStart) / t.frameStep) + 1 : t.framesDone), 0);
  const assembly = tasks.find((t) => t.type === 'assembly');
  return Math.round((0.95 * (total ? done / total : 0) + (assembly?.status === 'completed' ? 0.05 : 0.05 * (assembly?.progress ?? 0))) * 1000) / 1000;
}

/**
 * The reconciler's pass over a render job: tasks the database says are queued go on the queue
 * (adding an existing id is a no-op), and an active task whose queue entry failed or vanished with
 * no report from its worker (BullMQ gave up on it after its workers kept dying) is ended as a
 * failure of that worker, so the usual retry on another worker follows.
 */
export async function reconcileRender(ctx: FarmContext, job: JobRow, graceMs: number, now = Date.now()): Promise<void> {
  const tasks = await ctx.db.select().from(renderTasks).where(eq(renderTasks.jobId, job.id));
  const queued = tasks.filter((t) => t.status === 'queued');
  if (queued.length) await queueTasks(ctx, job, queued);
  for (const t of tasks.filter((x) => x.status === 'active' && x.attempt !== null && x.startedAt && x.startedAt.getTime() < now - graceMs)) {
    const entry = await ctx.queues.render.getJob(`${job.id}.${t.index}.${t.generation}`);
    const state = entry ? await entry.getState() : 'missing';
    if (state !== 'failed' && state !== 'missing') continue;
    if (entry?.finishedOn && entry.finishedOn > now - graceMs) continue; // its worker's report may be on its way
    ctx.log.with(jobFields(job.id, job.tenantId)).warn('a render task was lost with its worker; it goes to another', { task: t.index, worker: t.workerId ?? undefined, state });
    await recordTaskEnded(ctx, {
      type: 'task-ended', jobId: job.id, index: t.index, generation: t.generation, attempt: t.attempt!, workerId: t.workerId ?? 'unknown', at: new Date(now).toISOString(),
      outcome: 'failed', error: { code: 'worker_lost', message: `the worker stopped answering and the queue gave the task up (${entry?.failedReason ?? 'its entry is gone'})` },
      outputs: [], usage: { wallSeconds: 0, cpuSeconds: 0, gpuSeconds: 0, gpuModel: 'cpu', gpuUuid: null, outputSeconds: 0 }, usageSequence: 999_999, execution: {},
    });
  }
}

const taskKey = (jobId: string, index: number) => and(eq(renderTasks.jobId, jobId), eq(renderTasks.index, index));

async function lockTask(tx: DbOrTx, jobId: string, index: number): Promise<RenderTaskRow | undefined> {
  const [task] = await tx.select().from(renderTasks).where(taskKey(jobId, index)).for('update');
  return task;
}

export { taskView };
