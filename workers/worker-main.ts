/**
 * A worker process: one per GPU (`--gpu N`) or CPU-only. It probes what it can do, takes only the
 * kinds it can run, heartbeats its state to Redis, and needs nothing but Redis and HTTP.
 */
import os from 'node:os';
import { Queue, Worker, type Processor } from 'bullmq';
import type { Config } from '../src/config/env.js';
import { newId } from '../src/ids.js';
import { JOB_KINDS } from '../src/jobs/registry.js';
import { createLogger, type Logger } from '../src/logger.js';
import { probeMedia, runFfmpeg, warmUpFfmpeg } from '../src/media/ffmpeg.js';
import { channels, QUEUE_NAMES } from '../src/queue/messages.js';
import { redisConnection } from '../src/queue/redis.js';
import { releaseEmbeddedRedis, resolveRedisUrl } from '../src/redis/embedded-redis.js';
import { CancelWatch } from './cancel-watch.js';
import { createProcessor } from './job-processor.js';
import { createChunkProcessor } from './chunk-processor.js';
import { createRenderTaskProcessor } from './render-task-processor.js';
import { createLiveSegmentProcessor } from './live-segment-processor.js';
import { kindRunners } from './kind-runners.js';
import { probeWorker } from './probe/probe-worker.js';
import { readGpus } from './probe/nvidia-smi.js';
import { runCommand } from './probe/run-command.js';
import { Reporter } from './reporter.js';
import { startInference } from './inference-setup.js';

export interface WorkerOptions {
  gpu?: number;
  concurrency: number;
}

export async function runWorker(config: Config, opts: WorkerOptions): Promise<{ log: Logger; stop(): Promise<void> }> {
  // nvidia-smi numbers GPUs by PCI bus; make CUDA (and so ffmpeg's -hwaccel_device) agree.
  process.env.CUDA_DEVICE_ORDER ??= 'PCI_BUS_ID';
  const workerId = newId('wrk');
  const log = createLogger('worker', { level: config.MALAN_LOG_LEVEL, format: config.MALAN_LOG_FORMAT }).with({ worker: workerId });
  const redisUrl = await resolveRedisUrl({ redisUrl: config.REDIS_URL, home: config.home });
  await warmUpFfmpeg();
  const caps = await probeWorker({ gpuIndex: opts.gpu, ffmpegPath: config.MALAN_FFMPEG_PATH });
  for (const note of caps.notes) log.info(`probe: ${note}`);
  if (caps.gpus.length === 0) log.warn('NO GPU: this worker runs all its work on the CPU', { reason: caps.notes[0] ?? 'nvidia-smi found none' });
  else log.info('GPUs', { gpus: caps.gpus.map((g) => `${g.index}:${g.name}`), video: caps.videoAcceleration ?? 'no hardware video path passed its test' });

  const kinds = JOB_KINDS.filter((k) => {
    const why = kindRunners[k].cannotRun(caps);
    if (why) log.warn(`not taking ${k} jobs: ${why}`);
    return !why;
  });
  if (kinds.length === 0) throw new Error('this worker can run no job kind; see the probe notes above');

  const connection = redisConnection(redisUrl, `malan-worker-${workerId}`);
  const subscriber = redisConnection(redisUrl, `malan-worker-${workerId}-sub`);
  const prefix = config.MALAN_QUEUE_PREFIX;
  const reportsQueue = new Queue(QUEUE_NAMES.reports, { connection, prefix });
  const reporter = new Reporter(reportsQueue);
  const cancels = new CancelWatch(connection, subscriber, prefix);
  await cancels.start();
  const chunkQueue = new Queue(QUEUE_NAMES.chunks, { connection, prefix });
  const shared = { workerId, caps, reporter, cancels, media: { runFfmpeg, probeMedia }, killGraceMs: config.MALAN_KILL_GRACE_MS, readLocalInputs: config.MALAN_READ_LOCAL_INPUTS, log };
  const inference = kinds.includes('inference') ? await startInference(config, caps, log) : null;
  const processor = createProcessor({ ...shared, chunkQueue, inference: inference?.deps ?? null, usageIntervalMs: config.MALAN_USAGE_INTERVAL_SECONDS * 1000 });

  const tags = config.MALAN_WORKER_TAGS.split(',').filter(Boolean);
  const renderProcessor = createRenderTaskProcessor({ ...shared, redis: connection, prefix, tags, usageIntervalMs: config.MALAN_USAGE_INTERVAL_SECONDS * 1000 });
  const kindConnections = kinds.map((kind) => redisConnection(redisUrl, `malan-worker-${workerId}-${kind}`));
  const workers: Worker[] = kinds.map(
    (kind, i) =>
      // The render queue holds tasks of render jobs, each run by the render task processor.
      new Worker(kind, (kind === 'render' ? renderProcessor : processor) as Processor, {
        connection: kindConnections[i]!,
        prefix,
        // Predictions are light on the worker's side and batch better the more are in flight.
        concurrency: kind === 'inference' ? Math.max(opts.concurrency, config.MALAN_INFERENCE_CONCURRENCY) : opts.concurrency,
        lockDuration: config.MALAN_LOCK_MS,
        stalledInterval: config.MALAN_STALLED_INTERVAL_MS,
        // Above 1: a long GPU job whose lock renewal hiccups once is not failed for it.
        maxStalledCount: 2,
        removeOnComplete: { age: 3600, count: 10_000 },
      }),
  );
  // Pieces of split jobs: any worker that transcodes encodes them.
  if (kinds.includes('transcode')) {
    const pieceConnection = redisConnection(redisUrl, `malan-worker-${workerId}-pieces`);
    kindConnections.push(pieceConnection);
    workers.push(
      new Worker(QUEUE_NAMES.chunks, createChunkProcessor({ ...shared, redis: connection, prefix }), {
        connection: pieceConnection,
        prefix,
        concurrency: opts.concurrency,
        lockDuration: config.MALAN_LOCK_MS,
        stalledInterval: config.MALAN_STALLED_INTERVAL_MS,
        maxStalledCount: 2,
      }),
    );
  }
  // Live segments: their own queue and slots, so a segment never waits behind a batch job here.
  const served: string[] = [...kinds];
  if (kinds.includes('transcode')) {
    const liveProcessor = createLiveSegmentProcessor(shared);
    const liveQueues = [QUEUE_NAMES.live, ...(caps.videoAcceleration?.nvdecCodecs.includes('hevc') ? [QUEUE_NAMES.liveGpu] : [])];
    for (const name of liveQueues) {
      const liveConnection = redisConnection(redisUrl, `malan-worker-${workerId}-${name}`);
      kindConnections.push(liveConnection);
      workers.push(new Worker(name, liveProcessor, { connection: liveConnection, prefix, concurrency: config.MALAN_LIVE_CONCURRENCY, lockDuration: config.MALAN_LOCK_MS, stalledInterval: config.MALAN_STALLED_INTERVAL_MS, maxStalledCount: 1 }));
    }
    served.push('live');
    if (liveQueues.length === 1) log.info('live: 8K sources (above 2160p) are left to workers with NVDEC for HEVC', { reason: caps.videoAcceleration ? 'NVDEC did not decode hevc in the probe' : 'no GPU video path' });
  }
  for (const w of workers) w.on('error', (err) => log.error('queue error', { error: err.message }));

  const heartbeatKey = channels.workerHeartbeat(prefix, workerId);
  let gpus = caps.gpus;
  const beat = async () => {
    // Fresh GPU readings (utilisation, memory, temperature, power) ride on every heartbeat.
    if (caps.gpus.length) gpus = (await readGpus((cmd, args) => runCommand(cmd, args, 5000), opts.gpu)).gpus;
    await connection
      .set(heartbeatKey, JSON.stringify({ workerId, hostname: os.hostname(), pid: process.pid, kinds: served, jobs: cancels.runningJobs(), gpus, at: new Date().toISOString() }), 'EX', 15)
      .catch((err: Error) => log.warn('heartbeat failed', { error: err.message }));
  };
  await beat();
  const heartbeat = setInterval(() => void beat(), 5000);
  await reporter.send({ type: 'worker-up', workerId, hostname: os.hostname(), pid: process.pid, kinds: served, capabilities: { ...caps, tags: config.MALAN_WORKER_TAGS.split(',').filter(Boolean) }, at: new Date().toISOString() });
  log.info('ready', { kinds: served, concurrency: opts.concurrency, redis: redisUrl.replace(/\/\/[^@]*@/, '//***@'), prefix });

  let stopping: Promise<void> | null = null;
  return {
    log,
    stop: () =>
      (stopping ??= (async () => {
        log.info('stopping: running jobs are stopped and go to other workers');
        clearInterval(heartbeat);
        cancels.abortAll('shutdown');
        await Promise.all(workers.map((w) => w.close()));
        await reporter.send({ type: 'worker-down', workerId, at: new Date().toISOString() }).catch(() => undefined);
        await connection.del(heartbeatKey).catch(() => undefined);
        await reportsQueue.close();
        await chunkQueue.close();
        await inference?.close();
        subscriber.disconnect();
        connection.disconnect();
        for (const c of kindConnections) c.disconnect();
        await releaseEmbeddedRedis({ redisUrl: config.REDIS_URL, home: config.home });
        log.info('stopped');
      })()),
  };
}
