/**
 * The `render` queue's processor: one task of a render job. Before it starts a task, the worker
 * checks that it may: the job is not paused, this worker is not blocklisted for it, and it meets
 * the task's requirements (GPUs, VRAM, GPU model, tags, the renderer). Otherwise it puts the task
 * back for a moment, for another worker (or for later). A task's end is reported, never thrown:
 * retries on other workers are the API's decision (src/services/render-recorder.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DelayedError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { JobError, type JobErrorCode } from '../src/jobs/job-error.js';
import { assembleFrames } from '../src/jobs/render/assemble.js';
import type { RenderTaskRuntime } from '../src/jobs/render/render-runtime.js';
import { renderFrames } from '../src/jobs/render/run-frames.js';
import { renderInputSchema, type RenderInput } from '../src/jobs/render/spec.js';
import { cannotTake } from '../src/jobs/render/requirements.js';
import { jobFields } from '../src/logger.js';
import { channels, renderAttempt, type RenderTaskPayload } from '../src/queue/messages.js';
import { runRenderer } from '../src/render/renderer-process.js';
import { httpTransfer } from './http-transfer.js';
import type { ProcessorDeps } from './job-processor.js';
import { UsageMeter } from './usage-meter.js';

/** How long a task this worker may not take waits before it is offered again. */
const PUT_BACK_MS = 1500;

export interface RenderProcessorDeps extends Omit<ProcessorDeps, 'chunkQueue' | 'inference'> {
  redis: Redis;
  prefix: string;
  /** This worker's labels (MALAN_WORKER_TAGS), matched against requirements.tags. */
  tags: string[];
}

type TaskData = RenderTaskPayload & { putBack?: number };

export function createRenderTaskProcessor(deps: RenderProcessorDeps) {
  return async (bullJob: Job<TaskData>, token?: string) => {
    const t = bullJob.data;
    if (await deps.cancels.isCanceled(t.jobId)) return { skipped: 'canceled' };
    const input = renderInputSchema.safeParse(t.input);
    const why = input.success ? await whyNot(deps, t, input.data) : null;
    if (why) {
      // Back on the queue without a run: its run number counts only the runs that started.
      await bullJob.updateData({ ...t, putBack: (t.putBack ?? 0) + 1 });
      await bullJob.moveToDelayed(Date.now() + PUT_BACK_MS, token);
      throw new DelayedError(why);
    }
    const run = Math.max(1, (bullJob.attemptsStarted ?? 1) - (t.putBack ?? 0));
    const attempt = renderAttempt(t.index, t.generation, run);
    const log = deps.log.with({ ...jobFields(t.jobId, t.tenantId), task: t.index, attempt });
    const ar = deps.reporter.forAttempt(t.jobId, attempt);
    const started = performance.now();
    const gpu = deps.caps.gpus[0] ?? null;
    const meter = new UsageMeter({
      startedAt: started,
      intervalMs: deps.usageIntervalMs,
      gpu: gpu && { name: gpu.name, uuid: gpu.uuid },
      send: (sequence, usage, at) => deps.reporter.send({ type: 'usage', jobId: t.jobId, attempt, workerId: deps.workerId, sequence, at, usage }),
    });
    const end = async (fields: { outcome: 'succeeded' | 'failed' | 'canceled'; error: { code: JobErrorCode; message: string } | null; outputs?: Array<{ frame: number; file: string; name: string }>; previewFile?: string; secondsPerFrame?: number; cpuSeconds?: number; execution?: Record<string, unknown> }) => {
      await ar.drain();
      const last = await meter.finish({ cpuSeconds: fields.cpuSeconds ?? 0 });
      await deps.reporter.send({
        type: 'task-ended', jobId: t.jobId, index: t.index, generation: t.generation, attempt, workerId: deps.workerId, at: new Date().toISOString(),
        outcome: fields.outcome, error: fields.error, outputs: fields.outputs ?? [], previewFile: fields.previewFile, secondsPerFrame: fields.secondsPerFrame,
        usage: last.usage, usageSequence: last.sequence, execution: fields.execution ?? {},
      });
    };
    if (!input.success) {
      await end({ outcome: 'failed', error: { code: 'invalid_input', message: `input rejected by the worker: ${input.error.issues.map((i) => i.message).join('; ')}` } });
      return { failed: true };
    }
    await deps.reporter.send({ type: 'task-started', jobId: t.jobId, index: t.index, generation: t.generation, attempt, workerId: deps.workerId, at: new Date().toISOString() });
    const what = t.type === 'assembly' ? 'assembly' : `frames ${t.frameStart}–${t.frameEnd}`;
    ar.log('info', `task ${t.index} (${what}) started on worker ${deps.workerId} (${deps.caps.hostname}), run ${run}`);
    const controller = new AbortController();
    const untrack = deps.cancels.track(t.jobId, controller);
    const timer = setTimeout(() => controller.abort('timeout'), t.timeoutSeconds * 1000);
    const workDir = await mkdtemp(path.join(os.tmpdir(), `malan-${t.jobId}-task${t.index}-`));
    let lastReport = 0;
    const rt: RenderTaskRuntime = {
      jobId: t.jobId,
      attempt,
      input: input.data,
      task: t,
      caps: deps.caps,
      workDir,
      signal: controller.signal,
      killGraceMs: deps.killGraceMs,
      transfer: httpTransfer(t, attempt, { readLocal: deps.readLocalInputs }),
      media: meter.media(deps.media),
      renderer: meter.renderer({ run: runRenderer }),
      log: (level, msg) => ar.log(level, msg),
      report: (framesDone, fraction, previewFile) => {
        const now = Date.now();
        if (now - lastReport < 500 && fraction < 1 && !previewFile) return;
        lastReport = now;
        void deps.reporter.send({ type: 'task-progress', jobId: t.jobId, index: t.index, attempt, framesDone, progress: Math.min(1, fraction), ...(previewFile && { previewFile }), at: new Date().toISOString() }).catch(() => undefined);
      },
    };
    meter.start();
    try {
      const outcome = t.type === 'assembly' ? await assembleFrames(rt) : await renderFrames(rt);
      ar.log('info', `task ${t.index} completed in ${((performance.now() - started) / 1000).toFixed(2)} s`);
      await end({ outcome: 'succeeded', error: null, ...outcome });
      log.info('task completed', { frames: outcome.outputs.length });
      return { frames: outcome.outputs.length };
    } catch (err) {
      const reason = controller.signal.aborted ? String(controller.signal.reason) : null;
      if (reason === 'canceled') {
        ar.log('warn', 'canceled: the renderer was stopped');
        await end({ outcome: 'canceled', error: { code: 'canceled', message: 'canceled while rendering' } });
        return { canceled: true };
      }
      const code: JobErrorCode = reason === 'timeout' ? 'timeout' : reason === 'shutdown' ? 'worker_lost' : err instanceof JobError ? err.code : 'internal';
      const message = reason === 'timeout' ? `the task ran past its timeout of ${t.timeoutSeconds} s and was stopped` : reason === 'shutdown' ? 'the worker shut down during the task' : ((err as Error).message ?? String(err));
      ar.log('error', `task ${t.index} failed (${code}): ${message}`);
      await end({ outcome: 'failed', error: { code, message } });
      log.warn('task failed', { code, message });
      return { failed: code };
    } finally {
      await meter.pause();
      clearTimeout(timer);
      untrack();
      await rm(workDir, { recursive: true, force: true });
    }
  };
}

/** Why this worker may not start the task now, or null. */
async function whyNot(deps: RenderProcessorDeps, t: TaskData, input: RenderInput): Promise<string | null> {
  if (await deps.redis.exists(channels.pausedKey(deps.prefix, t.jobId))) return 'the job is paused';
  if (await deps.redis.sismember(channels.blocklistKey(deps.prefix, t.jobId), deps.workerId)) return 'this worker is blocklisted for the job';
  return cannotTake(t.type, input, t.template, deps.caps, deps.tags);
}
