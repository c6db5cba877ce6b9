/**
 * Render jobs on the API side: compiling a job into tasks, putting queued tasks on the `render`
 * queue, and the job-level controls (pause, resume, requeue a task). Each task is a BullMQ job
 * of its own, id `<job>.<index>.<generation>`: putting a task back on the queue (a retry on
 * another worker, a requeue) bumps its generation, so it is a new queue entry and never collides
 * with the run that went before.
 */
import { and, asc, eq, inArray } from 'drizzle-orm';
import { ApiError } from '../api/api-error.js';
import { renderBlocklist, renderTasks, renderTemplates, TASK_STATUSES, type RenderTaskRow } from '../db/render-schema.js';
import { files, jobs, workers, type JobRow } from '../db/schema.js';
import type { WorkerCapabilities } from '../capabilities/worker-capabilities.js';
import { cannotTake } from '../jobs/render/requirements.js';
import type { DbOrTx } from '../db/database.js';
import { renderInputSchema, type RenderInput } from '../jobs/render/spec.js';
import { planTasks, taskCount, MAX_TASKS, type PlannedTask } from '../jobs/render/task-plan.js';
import { checkParameters, parseTemplate, TemplateError } from '../jobs/render/template.js';
import { channels, QUEUE_NAMES, type RenderTaskPayload } from '../queue/messages.js';
import { KEEP_COMPLETED, KEEP_FAILED } from '../queue/farm-queues.js';
import type { FarmContext } from './farm-context.js';
import { publishJobEvent } from './job-events.js';

/** Checked at submission: the task count, and for a template that it exists and takes these parameters. */
export async function checkRenderInput(ctx: FarmContext, input: RenderInput): Promise<{ template: unknown }> {
  if (taskCount(input) > MAX_TASKS) throw new ApiError('invalid_request', `input: ${taskCount(input) - 1} tasks is more than ${MAX_TASKS - 1}; use a larger chunk_size`);
  if (input.renderer === 'blender') return { template: null };
  const [row] = await ctx.db.select().from(renderTemplates).where(eq(renderTemplates.name, input.renderer));
  if (!row) throw new ApiError('invalid_request', `input.renderer: no renderer template '${input.renderer}' on this farm (GET /v1/render-templates lists them)`);
  try {
    checkParameters(parseTemplate(row.definition), input.parameters);
  } catch (err) {
    if (err instanceof TemplateError) throw new ApiError('invalid_request', `input.${err.message}`);
    throw err;
  }
  return { template: row.definition };
}

/** Creates the job's first tasks (once) and queues every task that waits. Idempotent: the reconciler calls it too. */
export async function enqueueRender(ctx: FarmContext, job: JobRow): Promise<void> {
  const input = renderInputSchema.parse(job.input);
  await insertTasks(ctx.db, job.id, planTasks(input));
  const waiting = await ctx.db.select().from(renderTasks).where(and(eq(renderTasks.jobId, job.id), eq(renderTasks.status, 'queued')));
  await queueTasks(ctx, job, waiting);
}

export async function insertTasks(db: DbOrTx, jobId: string, tasks: PlannedTask[]): Promise<void> {
  if (!tasks.length) return;
  await db
    .insert(renderTasks)
    .values(tasks.map((t) => ({ jobId, index: t.index, type: t.type, frameStart: t.frameStart, frameEnd: t.frameEnd, frameStep: t.frameStep, status: 'queued' as const })))
    .onConflictDoNothing();
}

const TTL = 7 * 24 * 3600;

export async function queueTasks(ctx: FarmContext, job: JobRow, tasks: RenderTaskRow[]): Promise<void> {
  if (!tasks.length) return;
  const input = renderInputSchema.parse(job.input);
  const [scene] = await ctx.db.select().from(files).where(eq(files.id, input.scene.file));
  const local = scene ? ctx.storage.localPath(scene.storageKey) : null;
  const base = {
    jobId: job.id,
    tenantId: job.tenantId,
    input: job.input,
    template: (job.execution as { template?: unknown } | null)?.template ?? null,
    fileUrls: { [input.scene.file]: ctx.signer.sign('GET', `/v1/files/${input.scene.file}/content`, TTL) },
    ...(local && scene && { localFiles: { [scene.id]: { path: local, size: scene.size } } }),
    uploadUrl: ctx.signer.sign('PUT', `/internal/jobs/${job.id}/outputs`, TTL),
    timeoutSeconds: input.timeout_seconds ?? ctx.config.MALAN_JOB_TIMEOUT_SECONDS,
  };
  const framesOf = async (t: RenderTaskRow) => (t.type === 'assembly' ? { frames: await renderedFrames(ctx, job.id) } : {});
  const entries = await Promise.all(
    tasks.map(async (t) => {
      const data: RenderTaskPayload = { ...base, index: t.index, type: t.type, frameStart: t.frameStart, frameEnd: t.frameEnd, frameStep: t.frameStep, generation: t.generation, ...(await framesOf(t)) };
      return {
        name: t.type,
        data,
        // Earlier frames first within a job (BullMQ: lower runs first); the job's priority above that.
        opts: { jobId: `${job.id}.${t.index}.${t.generation}`, priority: Math.min(2_000_000, (101 - job.priority) * 10_000 + t.index), attempts: 1, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED },
      };
    }),
  );
  await ctx.queues.render.addBulk(entries);
}

/** Every frame the job's tasks stored, in frame order, with a signed URL each: what the assembly reads. */
async function renderedFrames(ctx: FarmContext, jobId: string) {
  const tasks = await ctx.db.select().from(renderTasks).where(and(eq(renderTasks.jobId, jobId), eq(renderTasks.type, 'frames'), eq(renderTasks.status, 'completed'))).orderBy(asc(renderTasks.index));
  return tasks
    .flatMap((t) => t.outputs)
    .sort((a, b) => a.frame - b.frame)
    .map((o) => ({ frame: o.frame, name: o.name, url: ctx.signer.sign('GET', `/v1/files/${o.file}/content`, TTL) }));
}

/** What a render job's view adds: its tasks by state, frames done, the newest preview, who is blocklisted, and why it waits. */
export async function renderSummary(ctx: FarmContext, job: JobRow) {
  const jobId = job.id;
  const tasks = await ctx.db.select().from(renderTasks).where(eq(renderTasks.jobId, jobId));
  const byStatus = Object.fromEntries(TASK_STATUSES.map((s) => [s, tasks.filter((t) => t.status === s).length]));
  const frameTasks = tasks.filter((t) => t.type === 'frames');
  const framesDone = frameTasks.reduce((n, t) => n + (t.status === 'completed' ? t.outputs.length : t.framesDone), 0);
  const newest = tasks.filter((t) => t.previewFile).sort((a, b) => (b.endedAt?.getTime() ?? Date.now()) - (a.endedAt?.getTime() ?? Date.now()) || b.index - a.index)[0];
  const blocklisted = await ctx.db.select().from(renderBlocklist).where(eq(renderBlocklist.jobId, jobId));
  return {
    tasks: { total: tasks.length, ...byStatus },
    frames_done: framesDone,
    preview_url: newest?.previewFile ? `${ctx.baseUrl}/v1/files/${newest.previewFile}/content` : null,
    blocklisted_workers: blocklisted.map((b) => ({ worker_id: b.workerId, failures: b.failures })),
    waiting_for_worker: tasks.some((t) => t.status === 'queued') && (job.status === 'queued' || job.status === 'running') ? await noWorkerCanTake(ctx, job, blocklisted.map((b) => b.workerId)) : null,
    urls: { tasks: `${ctx.baseUrl}/v1/jobs/${jobId}/tasks`, pause: `${ctx.baseUrl}/v1/jobs/${jobId}/pause`, resume: `${ctx.baseUrl}/v1/jobs/${jobId}/resume` },
  };
}

/**
 * Why no worker that is up could take this job's waiting tasks, or null when one can: a task whose
 * requirements no worker meets waits, and the job says so instead of waiting silently.
 */
async function noWorkerCanTake(ctx: FarmContext, job: JobRow, blocklisted: string[]): Promise<string | null> {
  const rows = await ctx.db.select().from(workers).where(eq(workers.status, 'up'));
  const beats = rows.length ? await ctx.redis.mget(...rows.map((w) => channels.workerHeartbeat(ctx.config.MALAN_QUEUE_PREFIX, w.id))) : [];
  const live = rows.filter((w, i) => beats[i] && w.kinds.includes('render') && !blocklisted.includes(w.id));
  if (!live.length) return 'no worker that takes render tasks is up (or every one is blocklisted for this job)';
  const input = renderInputSchema.parse(job.input);
  const template = (job.execution as { template?: unknown } | null)?.template ?? null;
  const reasons = live.map((w) => {
    const caps = w.capabilities as WorkerCapabilities & { tags?: string[] };
    return cannotTake('frames', input, template, caps, caps.tags ?? []);
  });
  if (reasons.some((r) => r === null)) return null;
  return `no worker that is up can take its tasks: ${[...new Set(reasons)].join('; ')}`;
}

export async function listTasks(ctx: FarmContext, jobId: string) {
  const rows = await ctx.db.select().from(renderTasks).where(eq(renderTasks.jobId, jobId)).orderBy(asc(renderTasks.index));
  return rows.map(taskView);
}

export function taskView(t: RenderTaskRow) {
  return {
    index: t.index,
    type: t.type,
    frames: { start: t.frameStart, end: t.frameEnd, step: t.frameStep },
    status: t.status,
    worker_id: t.workerId,
    attempt: t.attempt,
    frames_done: t.framesDone,
    progress: t.progress,
    failures: t.failures,
    outputs: t.outputs,
    seconds_per_frame: t.secondsPerFrame,
    started_at: t.startedAt?.toISOString() ?? null,
    ended_at: t.endedAt?.toISOString() ?? null,
  };
}

/** Pause: no task of the job starts any more; those running finish (as Flamenco and OpenCue do). */
export async function pauseRender(ctx: FarmContext, job: JobRow): Promise<JobRow> {
  if (job.kind !== 'render') throw new ApiError('conflict', 'only render jobs can be paused');
  if (job.status === 'paused') return job;
  if (job.status !== 'queued' && job.status !== 'running') throw new ApiError('conflict', `the job is ${job.status}; only a queued or running job can be paused`);
  await ctx.redis.set(channels.pausedKey(ctx.config.MALAN_QUEUE_PREFIX, job.id), '1', 'EX', 30 * 24 * 3600);
  const [paused] = await ctx.db.transaction(async (tx) => {
    await tx.update(renderTasks).set({ status: 'paused' }).where(and(eq(renderTasks.jobId, job.id), eq(renderTasks.status, 'queued')));
    return tx.update(jobs).set({ status: 'paused' }).where(and(eq(jobs.id, job.id), inArray(jobs.status, ['queued', 'running']))).returning();
  });
  await publishJobEvent(ctx, job.id, 'status', { status: 'paused' });
  return paused ?? job;
}

export async function resumeRender(ctx: FarmContext, job: JobRow): Promise<JobRow> {
  if (job.kind !== 'render') throw new ApiError('conflict', 'only render jobs can be paused and resumed');
  if (job.status !== 'paused') throw new ApiError('conflict', `the job is ${job.status}, not paused`);
  const [resumed] = await ctx.db.transaction(async (tx) => {
    await tx.update(renderTasks).set({ status: 'queued' }).where(and(eq(renderTasks.jobId, job.id), eq(renderTasks.status, 'paused')));
    return tx.update(jobs).set({ status: job.startedAt ? 'running' : 'queued' }).where(and(eq(jobs.id, job.id), eq(jobs.status, 'paused'))).returning();
  });
  await ctx.redis.del(channels.pausedKey(ctx.config.MALAN_QUEUE_PREFIX, job.id));
  // Tasks put back while paused wait a second or two in BullMQ's delayed set: start them now.
  const delayed = await ctx.queues.render.getDelayed(0, 10_000);
  await Promise.all(delayed.filter((d) => d.data.jobId === job.id).map((d) => d.promote().catch(() => undefined)));
  await publishJobEvent(ctx, job.id, 'status', { status: resumed?.status ?? job.status });
  return resumed ?? job;
}

/** Requeue a task that failed, was canceled or completed (to render its frames again), while the job runs. */
export async function requeueTask(ctx: FarmContext, job: JobRow, index: number): Promise<RenderTaskRow> {
  if (job.kind !== 'render') throw new ApiError('conflict', 'only render jobs have tasks');
  if (job.status !== 'running' && job.status !== 'queued' && job.status !== 'paused') throw new ApiError('conflict', `the job is ${job.status}; tasks of a job that ended cannot be requeued`);
  const [task] = await ctx.db.select().from(renderTasks).where(and(eq(renderTasks.jobId, job.id), eq(renderTasks.index, index)));
  if (!task) throw new ApiError('not_found', `task ${index} of job ${job.id} was not found`);
  if (task.type === 'assembly') throw new ApiError('conflict', 'the assembly runs by itself once every frame is rendered');
  if (task.status === 'queued' || task.status === 'active' || task.status === 'paused') throw new ApiError('conflict', `task ${index} is ${task.status} already`);
  const [again] = await ctx.db
    .update(renderTasks)
    .set({ status: job.status === 'paused' ? 'paused' : 'queued', generation: task.generation + 1, failures: [], framesDone: 0, progress: 0, endedAt: null })
    .where(and(eq(renderTasks.jobId, job.id), eq(renderTasks.index, index), eq(renderTasks.generation, task.generation)))
    .returning();
  if (!again) throw new ApiError('conflict', `task ${index} changed meanwhile; read it again`);
  if (again.status === 'queued') await queueTasks(ctx, job, [again]);
  await publishJobEvent(ctx, job.id, 'task', taskView(again));
  return again;
}

/** Stops every task of a job: waiting ones leave the queue; running ones stop on the cancel message. */
export async function stopRenderTasks(ctx: FarmContext, jobId: string, status: 'canceled'): Promise<void> {
  await ctx.db.update(renderTasks).set({ status }).where(and(eq(renderTasks.jobId, jobId), inArray(renderTasks.status, ['queued', 'paused'])));
  const tasks = await ctx.db.select().from(renderTasks).where(eq(renderTasks.jobId, jobId));
  // Every generation: an earlier entry of a task may still wait (put back by a worker that could not take it).
  const ids = tasks.flatMap((t) => Array.from({ length: t.generation + 1 }, (_, g) => `${jobId}.${t.index}.${g}`));
  await Promise.all(ids.map(async (id) => (await ctx.queues.render.getJob(id))?.remove().catch(() => undefined)));
  await ctx.redis.del(channels.pausedKey(ctx.config.MALAN_QUEUE_PREFIX, jobId));
}
