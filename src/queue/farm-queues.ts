/**
 * The farm's BullMQ queues under one prefix (MALAN_QUEUE_PREFIX), so several farms or test runs
 * share a Redis. Completed work is removed by age and count; failed work is kept longer for people.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOB_KINDS, type JobKind } from '../jobs/registry.js';
import { QUEUE_NAMES, type LiveSegmentPayload, type RenderTaskPayload } from './messages.js';

export const KEEP_COMPLETED = { age: 3600, count: 10_000 };
export const KEEP_FAILED = { age: 7 * 24 * 3600 };

export class FarmQueues {
  readonly byKind: Record<JobKind, Queue>;
  readonly reports: Queue;
  readonly webhooks: Queue;
  readonly chunks: Queue;
  /** Live segments (never behind batch work), and those only NVDEC workers can keep up with. */
  readonly live: Queue<LiveSegmentPayload>;
  readonly liveGpu: Queue<LiveSegmentPayload>;
  /** Render tasks (the `render` kind's queue holds tasks, not jobs). */
  get render(): Queue<RenderTaskPayload> {
    return this.byKind.render as Queue<RenderTaskPayload>;
  }

  constructor(
    readonly connection: Redis,
    readonly prefix: string,
  ) {
    const make = (name: string) => new Queue(name, { connection, prefix });
    this.byKind = Object.fromEntries(JOB_KINDS.map((k) => [k, make(k)])) as Record<JobKind, Queue>;
    this.reports = make(QUEUE_NAMES.reports);
    this.webhooks = make(QUEUE_NAMES.webhooks);
    this.chunks = make(QUEUE_NAMES.chunks);
    this.live = make(QUEUE_NAMES.live) as Queue<LiveSegmentPayload>;
    this.liveGpu = make(QUEUE_NAMES.liveGpu) as Queue<LiveSegmentPayload>;
  }

  all(): Queue[] {
    return [...Object.values(this.byKind), this.reports, this.webhooks, this.chunks, this.live, this.liveGpu];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
  }
}

/** Options for a job on a kind queue: the BullMQ job id is the farm's job id, so adding twice is a no-op. */
export function kindJobOptions(jobId: string, attempts: number, priority: number): JobsOptions {
  return {
    jobId,
    attempts,
    backoff: { type: 'exponential', delay: 2000 },
    // BullMQ: 1 is the highest priority; the API's 0–100 runs higher numbers first.
    priority: 101 - priority,
    removeOnComplete: KEEP_COMPLETED,
    removeOnFail: KEEP_FAILED,
  };
}
