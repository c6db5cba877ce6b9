/**
 * Submission throughput: jobs accepted per second through the API (HTTP, auth, validation, the
 * database row, the queue write) against bare BullMQ `queue.add` of the very payload the API put
 * on the queue, with the same job options, at the same concurrency, on the same Redis.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ApiClient } from '../test/helpers/api-client.js';
import type { JobPayload } from '../src/queue/messages.js';
import { kindJobOptions } from '../src/queue/farm-queues.js';
import { redisConnection } from '../src/queue/redis.js';
import { round, runPool } from './measure.js';
import { processCpuMs, redisCpuMs } from './proc-cpu.js';

export interface ThroughputResult {
  n: number;
  concurrency: number;
  seconds: number;
  jobsPerSecond: number;
  /** Size of what each submission carried: the HTTP JSON body, or the BullMQ job data. */
  payloadBytes: number;
  /** CPU the API process spent per counted job (Linux /proc; null elsewhere or for bare). */
  serverCpuMsPerJob: number | null;
  /** CPU redis-server spent per counted job: the whole server, so other clients of a shared Redis add noise. */
  redisCpuMsPerJob: number | null;
}

/** Times `n` tasks and the CPU that the API process and redis-server spent meanwhile. */
async function measured(redis: Redis, serverPid: number | undefined, n: number, concurrency: number, task: (i: number) => Promise<void>) {
  const server0 = processCpuMs(serverPid);
  const redis0 = await redisCpuMs(redis);
  const ms = await runPool(n, concurrency, task);
  const server1 = processCpuMs(serverPid);
  const redis1 = await redisCpuMs(redis);
  const perJob = (a: number | null, b: number | null) => (a === null || b === null ? null : round((b - a) / n));
  return { ms, serverCpuMsPerJob: perJob(server0, server1), redisCpuMsPerJob: perJob(redis0, redis1) };
}

/** POST /v1/jobs `n` times (after `warmup` uncounted ones), each with its own Idempotency-Key. */
export async function apiSubmission(opts: {
  api: ApiClient;
  body: unknown;
  n: number;
  warmup: number;
  concurrency: number;
  tag: string;
  redisUrl: string;
  serverPid: number | undefined;
}): Promise<ThroughputResult> {
  const submit = async (key: string) => {
    const res = await opts.api.post('/v1/jobs', opts.body, { 'idempotency-key': key });
    if (res.status !== 201) throw new Error(`POST /v1/jobs answered ${res.status}: ${JSON.stringify(res.body)}`);
  };
  const redis = redisConnection(opts.redisUrl, 'malan-bench-api-submit');
  try {
    await runPool(opts.warmup, opts.concurrency, (i) => submit(`${opts.tag}-sw-${i}`));
    const m = await measured(redis, opts.serverPid, opts.n, opts.concurrency, (i) => submit(`${opts.tag}-s-${i}`));
    return result(opts.n, opts.concurrency, m, JSON.stringify(opts.body).length);
  } finally {
    redis.disconnect();
  }
}

/** queue.add of the farm's own payload (a copy with a fresh job id each time) under the bare prefix. */
export async function bareSubmission(opts: {
  redisUrl: string;
  prefix: string;
  payload: JobPayload;
  n: number;
  warmup: number;
  concurrency: number;
  tag: string;
}): Promise<ThroughputResult> {
  const connection = redisConnection(opts.redisUrl, 'malan-bench-bare-submit');
  const queue = new Queue('transcode', { connection, prefix: opts.prefix });
  try {
    await queue.waitUntilReady();
    const add = async (id: string) => {
      await queue.add('transcode', { ...opts.payload, jobId: id }, kindJobOptions(id, 3, 50));
    };
    await runPool(opts.warmup, opts.concurrency, (i) => add(`${opts.tag}-bw-${i}`));
    const m = await measured(connection, undefined, opts.n, opts.concurrency, (i) => add(`${opts.tag}-b-${i}`));
    return result(opts.n, opts.concurrency, m, JSON.stringify(opts.payload).length);
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

function result(n: number, concurrency: number, m: { ms: number; serverCpuMsPerJob: number | null; redisCpuMsPerJob: number | null }, payloadBytes: number): ThroughputResult {
  return { n, concurrency, seconds: round(m.ms / 1000), jobsPerSecond: round((n * 1000) / m.ms, 1), payloadBytes, serverCpuMsPerJob: m.serverCpuMsPerJob, redisCpuMsPerJob: m.redisCpuMsPerJob };
}
