/**
 * Submission throughput: jobs accepted per second through the API (HTTP, auth, validation, the
 * database row, the queue write) against bare BullMQ `queue.add` of the very payload the API put
 * on the queue, with the same job options, at the same concurrency, on the same Redis.
 */
import { Queue } from 'bullmq';
import type { ApiClient } from '../test/helpers/api-client.js';
import type { JobPayload } from '../src/queue/messages.js';
import { kindJobOptions } from '../src/queue/farm-queues.js';
import { redisConnection } from '../src/queue/redis.js';
import { round, runPool } from './measure.js';

export interface ThroughputResult {
  n: number;
  concurrency: number;
  seconds: number;
  jobsPerSecond: number;
  /** Size of what each submission carried: the HTTP JSON body, or the BullMQ job data. */
  payloadBytes: number;
}

/** POST /v1/jobs `n` times (after `warmup` uncounted ones), each with its own Idempotency-Key. */
export async function apiSubmission(opts: { api: ApiClient; body: unknown; n: number; warmup: number; concurrency: number; tag: string }): Promise<ThroughputResult> {
  const submit = async (key: string) => {
    const res = await opts.api.post('/v1/jobs', opts.body, { 'idempotency-key': key });
    if (res.status !== 201) throw new Error(`POST /v1/jobs answered ${res.status}: ${JSON.stringify(res.body)}`);
  };
  await runPool(opts.warmup, opts.concurrency, (i) => submit(`${opts.tag}-sw-${i}`));
  const ms = await runPool(opts.n, opts.concurrency, (i) => submit(`${opts.tag}-s-${i}`));
  return result(opts.n, opts.concurrency, ms, JSON.stringify(opts.body).length);
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
    const ms = await runPool(opts.n, opts.concurrency, (i) => add(`${opts.tag}-b-${i}`));
    return result(opts.n, opts.concurrency, ms, JSON.stringify(opts.payload).length);
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

function result(n: number, concurrency: number, ms: number, payloadBytes: number): ThroughputResult {
  return { n, concurrency, seconds: round(ms / 1000), jobsPerSecond: round((n * 1000) / ms, 1), payloadBytes };
}
