/**
 * The chunk queue's processor: one piece of a split job. It logs into the job's attempt, moves
 * the job's progress as pieces finish, and when a piece fails for good it ends the job's attempt
 * itself (BullMQ then fails the waiting parent, which will not run again to say so).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { JobError, type JobErrorCode } from '../src/jobs/job-error.js';
import { runChunk } from '../src/jobs/transcode/run-split.js';
import { transcodeInputSchema } from '../src/jobs/transcode/spec.js';
import { jobFields } from '../src/logger.js';
import type { ChunkPayload } from '../src/queue/messages.js';
import { httpTransfer } from './http-transfer.js';
import type { ProcessorDeps } from './job-processor.js';

/** Each piece logs in its own range of sequence numbers within the job's attempt. */
const PIECE_LOG_SEQUENCE = 1_000_000;

export function createChunkProcessor(deps: Omit<ProcessorDeps, 'chunkQueue' | 'inference' | 'usageIntervalMs'> & { redis: Redis; prefix: string }) {
  return async (bullJob: Job<ChunkPayload>) => {
    const c = bullJob.data;
    const log = deps.log.with({ ...jobFields(c.jobId, c.tenantId), attempt: c.attempt, piece: c.index + 1 });
    // attemptsStarted, not attemptsMade: a piece taken again after its worker died has made no attempt, but has started one.
    const ar = deps.reporter.forAttempt(c.jobId, c.attempt, PIECE_LOG_SEQUENCE * (c.index + 1) + 10_000 * (bullJob.attemptsStarted ?? bullJob.attemptsMade));
    if (await deps.cancels.isCanceled(c.jobId)) throw new UnrecoverableError('the job was canceled');
    const controller = new AbortController();
    const untrack = deps.cancels.track(c.jobId, controller);
    const timer = setTimeout(() => controller.abort('timeout'), c.timeoutSeconds * 1000);
    const workDir = await mkdtemp(path.join(os.tmpdir(), `malan-${c.jobId}-piece${c.index}-`));
    try {
      ar.log('info', `piece ${c.index + 1}/${c.total} started on worker ${deps.workerId} (${deps.caps.hostname})`);
      const result = await runChunk(
        {
          jobId: c.jobId,
          attempt: c.attempt,
          input: transcodeInputSchema.parse(c.input),
          caps: deps.caps,
          workDir,
          signal: controller.signal,
          killGraceMs: deps.killGraceMs,
          transfer: httpTransfer({ fileUrls: {}, uploadUrl: c.uploadUrl }, c.attempt, { readLocal: false }),
          media: deps.media,
          flow: null,
          log: (level, msg) => ar.log(level, `piece ${c.index + 1}: ${msg}`),
          progress: () => undefined,
        },
        c,
      );
      const doneKey = `${deps.prefix}:pieces-done:${c.jobId}:${c.attempt}`;
      const done = await deps.redis.incr(doneKey);
      await deps.redis.expire(doneKey, 7 * 24 * 3600);
      await deps.reporter.send({ type: 'progress', jobId: c.jobId, attempt: c.attempt, progress: 0.05 + (0.85 * done) / c.total, at: new Date().toISOString() });
      ar.log('info', `piece ${c.index + 1}/${c.total} encoded on the ${result.path} path in ${result.usage.wallSeconds.toFixed(2)} s`);
      log.info('piece encoded', { path: result.path, seconds: result.usage.wallSeconds.toFixed(2) });
      return result;
    } catch (err) {
      const aborted = controller.signal.aborted ? String(controller.signal.reason) : null;
      const code: JobErrorCode = aborted === 'canceled' ? 'canceled' : aborted === 'timeout' ? 'timeout' : err instanceof JobError ? err.code : 'internal';
      const retry = !aborted && !(err instanceof JobError && !err.retryable);
      const final = !retry || bullJob.attemptsMade + 1 >= (bullJob.opts.attempts ?? 1);
      const message = `piece ${c.index + 1}/${c.total} failed: ${(err as Error).message}`;
      ar.log('error', `${message}${final ? '' : ' — it will be retried alone'}`);
      log.warn('piece failed', { code, message, willRetry: !final });
      if (final) {
        await ar.drain();
        await deps.reporter.send({
          type: 'attempt-ended', jobId: c.jobId, attempt: c.attempt, workerId: deps.workerId, at: new Date().toISOString(),
          outcome: aborted === 'canceled' ? 'canceled' : 'failed', willRetry: false, error: { code, message }, outputs: [], execution: { path: 'split' },
          usage: { wallSeconds: 0, cpuSeconds: 0, gpuSeconds: 0, gpuModel: 'cpu', gpuUuid: null, outputSeconds: 0 },
        });
      }
      throw retry ? err : new UnrecoverableError(message);
    } finally {
      clearTimeout(timer);
      untrack();
      await ar.drain();
      await rm(workDir, { recursive: true, force: true });
    }
  };
}
