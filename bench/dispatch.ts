/**
 * Dispatch latency on an idle worker: from the moment a job is accepted to the moment a worker
 * starts it, one job at a time. The farm's figure is `started_at - created_at` from the job
 * resource (created_at: the database's now() in the INSERT; started_at: the worker's clock when
 * its processor stamps the attempt-started report). Bare BullMQ's: `queue.add` called → a bare
 * Worker's processor entered, on this process's monotonic clock.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { ApiClient } from '../test/helpers/api-client.js';
import { QUEUE_NAMES, type JobPayload } from '../src/queue/messages.js';
import { KEEP_COMPLETED, kindJobOptions } from '../src/queue/farm-queues.js';
import { redisConnection } from '../src/queue/redis.js';
import { followJob } from './follow-job.js';
import { round, sleep, summarize, type Summary } from './measure.js';

/** Between jobs, so that the worker is back in its blocking wait (idle) when the next one comes. */
const IDLE_PAUSE_MS = 50;

export interface FarmDispatchSample {
  jobId: string;
  /** started_at - created_at: the measure. */
  createdToStartedMs: number;
  /** created_at → BullMQ job.timestamp (the API's clock at queue.add): the INSERT, URL signing, payload building. */
  apiMs: number;
  /** job.timestamp → job.processedOn (the worker's clock in moveToActive): Redis, the worker waking. */
  queueMs: number;
  /** processedOn → started_at: the processor's prelude before it stamps the start (cancel check). */
  workerMs: number;
  /** The attempt-started report on its way to the database (not part of the measure, but of what clients see):
   * started_at → the recorder picking it up (report job's processedOn), → recorded (its finishedOn). */
  reportWaitMs: number | null;
  reportRecordMs: number | null;
  /** Client side: POST round trip; POST sent → `running` seen on SSE; → terminal seen. */
  postMs: number;
  runningSeenMs: number | null;
  runningSeenLate: boolean;
  doneSeenMs: number;
}

export interface DispatchResult<S> {
  samples: S[];
  latency: Summary;
  parts: Record<string, Summary>;
}

export async function farmDispatch(opts: {
  api: ApiClient;
  baseUrl: string;
  key: string;
  redisUrl: string;
  prefix: string;
  body: unknown;
  n: number;
  warmup: number;
  tag: string;
}): Promise<DispatchResult<FarmDispatchSample> & { payload: JobPayload }> {
  const connection = redisConnection(opts.redisUrl, 'malan-bench-farm-reader');
  const farmQueue = new Queue('transcode', { connection, prefix: opts.prefix });
  const reportsQueue = new Queue(QUEUE_NAMES.reports, { connection, prefix: opts.prefix });
  const samples: FarmDispatchSample[] = [];
  let payload: JobPayload | undefined;
  try {
    for (let i = 0; i < opts.warmup + opts.n; i++) {
      const t0 = performance.now();
      const res = await opts.api.post('/v1/jobs', opts.body, { 'idempotency-key': `${opts.tag}-d-${i}` });
      const postMs = performance.now() - t0;
      if (res.status !== 201) throw new Error(`POST /v1/jobs answered ${res.status}: ${JSON.stringify(res.body)}`);
      const id = res.body.id as string;
      const seen = await followJob(opts.baseUrl, opts.key, id, 120_000);
      const job = (await opts.api.get(`/v1/jobs/${id}`)).body;
      if (job.status !== 'succeeded') throw new Error(`dispatch job ${id} ended ${job.status}: ${JSON.stringify(job.error)}`);
      const bull = await farmQueue.getJob(id);
      if (!bull?.processedOn) throw new Error(`the farm's BullMQ job ${id} is gone or has no processedOn`);
      const report = await reportsQueue.getJob(`started.${id}.1`);
      payload ??= bull.data as JobPayload;
      const created = Date.parse(job.created_at);
      const started = Date.parse(job.started_at);
      if (i >= opts.warmup) {
        samples.push({
          jobId: id,
          createdToStartedMs: started - created,
          apiMs: bull.timestamp - created,
          queueMs: bull.processedOn - bull.timestamp,
          workerMs: started - bull.processedOn,
          reportWaitMs: report?.processedOn ? report.processedOn - started : null,
          reportRecordMs: report?.processedOn && report.finishedOn ? report.finishedOn - report.processedOn : null,
          postMs: round(postMs),
          runningSeenMs: seen.runningAt === null ? null : round(seen.runningAt - t0),
          runningSeenLate: seen.runningFromSnapshot,
          doneSeenMs: round(seen.terminalAt - t0),
        });
      }
      await sleep(IDLE_PAUSE_MS);
    }
  } finally {
    await farmQueue.close();
    await reportsQueue.close();
    connection.disconnect();
  }
  const running = samples.filter((s) => s.runningSeenMs !== null && !s.runningSeenLate).map((s) => s.runningSeenMs!);
  if (!payload) throw new Error('no dispatch job ran');
  return {
    payload,
    samples,
    latency: summarize(samples.map((s) => s.createdToStartedMs)),
    parts: {
      api: summarize(samples.map((s) => s.apiMs)),
      queue: summarize(samples.map((s) => s.queueMs)),
      worker: summarize(samples.map((s) => s.workerMs)),
      reportWait: summarize(samples.flatMap((s) => (s.reportWaitMs === null ? [] : [s.reportWaitMs]))),
      reportRecord: summarize(samples.flatMap((s) => (s.reportRecordMs === null ? [] : [s.reportRecordMs]))),
      post: summarize(samples.map((s) => s.postMs)),
      runningSeen: summarize(running),
      doneSeen: summarize(samples.map((s) => s.doneSeenMs)),
    },
  };
}

export interface BareDispatchSample {
  /** queue.add called → processor entered (monotonic clock, this process). */
  addToStartMs: number;
  /** job.timestamp → job.processedOn, as for the farm's `queue` part. */
  queueMs: number;
}

/** The same sequence on bare BullMQ: one queue, one Worker with the farm worker's options, the farm's payload. */
export async function bareDispatch(opts: { redisUrl: string; prefix: string; payload: JobPayload; n: number; warmup: number; tag: string }): Promise<DispatchResult<BareDispatchSample>> {
  const queueConnection = redisConnection(opts.redisUrl, 'malan-bench-bare-dispatch-queue');
  const workerConnection = redisConnection(opts.redisUrl, 'malan-bench-bare-dispatch-worker');
  const queue = new Queue('transcode', { connection: queueConnection, prefix: opts.prefix });
  const entered = new Map<string, (at: number, job: Job) => void>();
  const worker = new Worker(
    'transcode',
    async (job: Job) => {
      entered.get(job.id!)?.(performance.now(), job);
      return null;
    },
    // The farm worker's options (workers/worker-main.ts), so that both take the same BullMQ paths.
    { connection: workerConnection, prefix: opts.prefix, concurrency: 1, lockDuration: 30_000, stalledInterval: 30_000, maxStalledCount: 2, removeOnComplete: KEEP_COMPLETED },
  );
  const completed = new Map<string, () => void>();
  worker.on('completed', (job) => completed.get(job.id!)?.());
  const samples: BareDispatchSample[] = [];
  try {
    await worker.waitUntilReady();
    await queue.waitUntilReady();
    await sleep(200); // the worker reaches its blocking wait
    for (let i = 0; i < opts.warmup + opts.n; i++) {
      const id = `${opts.tag}-bd-${i}`;
      const start = new Promise<{ at: number; job: Job }>((r) => entered.set(id, (at, job) => r({ at, job })));
      const done = new Promise<void>((r) => completed.set(id, r));
      const t0 = performance.now();
      await queue.add('transcode', { ...opts.payload, jobId: id }, kindJobOptions(id, 3, 50));
      const { at, job } = await start;
      await done;
      if (i >= opts.warmup) samples.push({ addToStartMs: round(at - t0), queueMs: job.processedOn! - job.timestamp });
      entered.delete(id);
      completed.delete(id);
      await sleep(IDLE_PAUSE_MS);
    }
  } finally {
    await worker.close();
    await queue.close();
    workerConnection.disconnect();
    queueConnection.disconnect();
  }
  return {
    samples,
    latency: summarize(samples.map((s) => s.addToStartMs)),
    parts: { queue: summarize(samples.map((s) => s.queueMs)) },
  };
}
