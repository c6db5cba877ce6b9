/**
 * Live job events (status, progress, log lines, outputs) for SSE. Whichever API process records a
 * report publishes it on Redis, so a client following a job on any API process sees it.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { channels } from '../queue/messages.js';
import type { FarmContext } from './farm-context.js';

export type JobEventType = 'status' | 'progress' | 'log' | 'output' | 'task';

export interface JobEvent {
  type: JobEventType;
  data: unknown;
}

export async function publishJobEvent(ctx: FarmContext, jobId: string, type: JobEventType, data: unknown): Promise<void> {
  await ctx.redis.publish(channels.jobEvents(ctx.config.MALAN_QUEUE_PREFIX, jobId), JSON.stringify({ type, data }));
}

/** One Redis subscriber per API process, fanned out to the SSE streams that follow each job. */
export class JobEventHub {
  private readonly emitter = new EventEmitter();
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {
    this.emitter.setMaxListeners(0);
    subscriber.on('message', (channel: string, message: string) => {
      try {
        this.emitter.emit(channel, JSON.parse(message) as JobEvent);
      } catch {
        /* not ours */
      }
    });
  }

  async follow(jobId: string, listener: (e: JobEvent) => void): Promise<() => Promise<void>> {
    const channel = channels.jobEvents(this.prefix, jobId);
    this.emitter.on(channel, listener);
    const n = (this.counts.get(channel) ?? 0) + 1;
    this.counts.set(channel, n);
    if (n === 1) await this.subscriber.subscribe(channel);
    return async () => {
      this.emitter.off(channel, listener);
      const left = (this.counts.get(channel) ?? 1) - 1;
      if (left === 0) {
        this.counts.delete(channel);
        await this.subscriber.unsubscribe(channel).catch(() => undefined);
      } else this.counts.set(channel, left);
    };
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
