/**
 * The BullMQ processor every kind shares: validate the payload again (the same schema as the API),
 * report the attempt, run the kind with a signal wired to cancel, timeout and shutdown, report the
 * end with usage, and steer BullMQ: bad input fails for good, infrastructure errors retry.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UnrecoverableError, WaitingChildrenError, type Job, type Queue } from 'bullmq';
import type { WorkerCapabilities } from '../src/capabilities/worker-capabilities.js';
import { JobError, type JobErrorCode } from '../src/jobs/job-error.js';
import type { FlowDoor, MediaDoor } from '../src/jobs/job-runtime.js';
import { jobKinds, isJobKind } from '../src/jobs/registry.js';
import { jobFields, type Logger } from '../src/logger.js';
import type { JobPayload, Report, UsageReport } from '../src/queue/messages.js';
import type { CancelWatch } from './cancel-watch.js';
import { httpTransfer } from './http-transfer.js';
import { kindRunners } from './kind-runners.js';
import type { Reporter } from './reporter.js';
import { inferenceDoor, type InferenceDeps } from './inference-setup.js';
import { UsageMeter } from './usage-meter.js';

const RESUMED_LOG_SEQUENCE = 500_000;

/** Fan-out over BullMQ: children on the chunk queue with this job as their parent. */
function flowDoor(bullJob: Job<JobPayload>, token: string | undefined, chunkQueue: Queue, run: { attempt: number; started: number; meter: UsageMeter }): FlowDoor {
  const p = bullJob.data;
  return {
    state: p.flow?.state ?? null,
    async suspendForChildren(state, children) {
      const elapsedSeconds = (performance.now() - run.started) / 1000;
      // The resumed run reports usage on from here, under later sequence numbers.
      const usage = await run.meter.pause();
      await bullJob.updateData({ ...p, flow: { attempt: run.attempt, state, elapsedSeconds, usage } });
      await chunkQueue.addBulk(
        children.map((child, i) => ({
          name: 'chunk',
          data: { ...child, jobId: p.jobId, tenantId: p.tenantId, attempt: run.attempt, uploadUrl: p.uploadUrl, timeoutSeconds: p.timeoutSeconds } as Record<string, unknown>,
          opts: {
            jobId: `${p.jobId}.${run.attempt}.${i}`,
            parent: { id: bullJob.id!, queue: bullJob.queueQualifiedName },
            // A piece that fails is retried alone; one that fails for good fails the job.
            attempts: 3,
            backoff: { type: 'exponential', delay: 2000 },
            failParentOnFailure: true,
            removeOnComplete: { age: 3600 },
            removeOnFail: { age: 7 * 24 * 3600 },
          },
        })),
      );
      if (await bullJob.moveToWaitingChildren(token!)) throw new WaitingChildrenError();
      run.meter.start(); // the pieces were all done already: this run goes on
    },
    async childResults<T>() {
      return Object.values(await bullJob.getChildrenValues()) as T[];
    },
  };
}

export interface ProcessorDeps {
  workerId: string;
  caps: WorkerCapabilities;
  reporter: Reporter;
  cancels: CancelWatch;
  media: MediaDoor;
  killGraceMs: number;
  readLocalInputs: boolean;
  chunkQueue: Queue;
  log: Logger;
  /** Null where this worker takes no inference jobs. */
  inference: InferenceDeps | null;
  /** How often a running attempt reports its usage so far. */
  usageIntervalMs: number;
}

type Ended = Extract<Report, { type: 'attempt-ended' }>;

export function createProcessor(deps: ProcessorDeps) {
  return async (bullJob: Job<JobPayload>, token?: string) => {
    const p = bullJob.data;
    // A job resumed after its pieces finished is the same attempt, run again from the top.
    const resumed = p.flow ?? null;
    const attempt = resumed?.attempt ?? Math.max(1, bullJob.attemptsStarted ?? bullJob.attemptsMade + 1);
    const started = performance.now() - (resumed?.elapsedSeconds ?? 0) * 1000;
    const log = deps.log.with({ ...jobFields(p.jobId, p.tenantId), kind: p.kind, attempt });
    // Log batches are keyed by sequence: the resumed run writes after the first one's.
    const ar = deps.reporter.forAttempt(p.jobId, attempt, resumed ? RESUMED_LOG_SEQUENCE : 0);
    const gpu = deps.caps.gpus[0] ?? null;
    const meter = new UsageMeter({
      startedAt: started,
      intervalMs: deps.usageIntervalMs,
      gpu: gpu && { name: gpu.name, uuid: gpu.uuid },
      state: resumed?.usage,
      send: (sequence, usage, at) => deps.reporter.send({ type: 'usage', jobId: p.jobId, attempt, workerId: deps.workerId, sequence, at, usage }),
    });
    const end = async (fields: Pick<Ended, 'outcome' | 'willRetry' | 'error'> & Partial<Pick<Ended, 'outputs' | 'execution' | 'output'>> & { usage?: Partial<UsageReport> }) => {
      await ar.drain();
      const last = await meter.finish(fields.usage ?? {});
      await deps.reporter.send({ type: 'attempt-ended', jobId: p.jobId, attempt, workerId: deps.workerId, at: new Date().toISOString(), outputs: [], execution: {}, ...fields, usage: last.usage, usageSequence: last.sequence });
    };

    if (await deps.cancels.isCanceled(p.jobId)) {
      log.info('skipped: the job was canceled before it started');
      return { skipped: 'canceled' };
    }
    if (resumed) {
      ar.log('info', `attempt ${attempt} resumed on worker ${deps.workerId} (${deps.caps.hostname}): its pieces are done`);
    } else {
      await deps.reporter.send({ type: 'attempt-started', jobId: p.jobId, attempt, workerId: deps.workerId, at: new Date().toISOString() });
      ar.log('info', `attempt ${attempt} started on worker ${deps.workerId} (${deps.caps.hostname})`);
    }
    log.info(resumed ? 'resumed' : 'started');

    const controller = new AbortController();
    const untrack = deps.cancels.track(p.jobId, controller);
    const timer = setTimeout(() => controller.abort('timeout'), p.timeoutSeconds * 1000);
    meter.start();
    const workDir = await mkdtemp(path.join(os.tmpdir(), `malan-${p.jobId}-`));
    try {
      if (!isJobKind(p.kind)) throw new JobError('invalid_input', `this worker does not know the kind '${p.kind}'`);
      const input = jobKinds[p.kind].inputSchema.safeParse(p.input);
      if (!input.success) throw new JobError('invalid_input', `input rejected by the worker: ${input.error.issues.map((i) => i.message).join('; ')}`);
      const result = await kindRunners[p.kind].run({
        jobId: p.jobId,
        attempt,
        input: input.data,
        caps: deps.caps,
        workDir,
        signal: controller.signal,
        killGraceMs: deps.killGraceMs,
        transfer: httpTransfer(p, attempt, { readLocal: deps.readLocalInputs }),
        media: meter.media(deps.media),
        flow: flowDoor(bullJob, token, deps.chunkQueue, { attempt, started, meter }),
        ...(p.model && deps.inference && { inference: inferenceDoor(deps.inference, p.model) }),
        log: (level, msg) => ar.log(level, msg),
        progress: (f) => ar.progress(f),
      });
      ar.log('info', `succeeded in ${((performance.now() - started) / 1000).toFixed(2)} s`);
      await end({ outcome: 'succeeded', willRetry: false, error: null, outputs: result.outputs, output: result.output, execution: result.execution, usage: result.usage });
      log.info('succeeded', { seconds: ((performance.now() - started) / 1000).toFixed(2), path: result.execution.path });
      return { outputs: result.outputs };
    } catch (err) {
      if (err instanceof WaitingChildrenError) {
        await ar.drain();
        log.info('suspended until its pieces are encoded');
        throw err; // BullMQ keeps the job waiting for its children, then hands it out again
      }
      const reason = controller.signal.aborted ? String(controller.signal.reason) : null;
      if (reason === 'canceled') {
        ar.log('warn', 'canceled: the running processes were stopped');
        await end({ outcome: 'canceled', willRetry: false, error: { code: 'canceled', message: 'canceled while running' } });
        log.info('canceled; processes stopped');
        return { canceled: true };
      }
      const { code, message, retry } = classify(err, reason, p.timeoutSeconds);
      const willRetry = retry && attempt < (bullJob.opts.attempts ?? 1);
      ar.log('error', `failed (${code}): ${message}${willRetry ? ' — will retry' : ''}`);
      await end({ outcome: 'failed', willRetry, error: { code, message } });
      log.warn('failed', { code, message, willRetry });
      if (!retry) throw new UnrecoverableError(message);
      throw err instanceof Error ? err : new Error(message);
    } finally {
      await meter.pause();
      clearTimeout(timer);
      untrack();
      await rm(workDir, { recursive: true, force: true });
    }
  };
}

function classify(err: unknown, abortReason: string | null, timeoutSeconds: number): { code: JobErrorCode; message: string; retry: boolean } {
  if (abortReason === 'timeout') return { code: 'timeout', message: `the job ran past its timeout of ${timeoutSeconds} s and was stopped`, retry: false };
  if (abortReason === 'shutdown') return { code: 'worker_lost', message: 'the worker shut down during the job; it goes to another worker', retry: true };
  if (err instanceof JobError) return { code: err.code, message: err.message, retry: err.retryable };
  return { code: 'internal', message: (err as Error)?.message ?? String(err), retry: true };
}
