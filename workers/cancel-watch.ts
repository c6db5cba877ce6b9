/** Listens for cancel messages and aborts the matching running job (which kills its processes). */
import type { Redis } from 'ioredis';
import { channels } from '../src/queue/messages.js';

export class CancelWatch {
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {}

  async start(): Promise<void> {
    await this.subscriber.subscribe(channels.cancel(this.prefix));
    this.subscriber.on('message', (_channel: string, jobId: string) => this.running.get(jobId)?.abort('canceled'));
  }

  /** True when the job was canceled before this worker got to it. */
  async isCanceled(jobId: string): Promise<boolean> {
    return (await this.redis.exists(channels.canceledKey(this.prefix, jobId))) === 1;
  }

  track(jobId: string, controller: AbortController): () => void {
    this.running.set(jobId, controller);
    return () => this.running.delete(jobId);
  }

  /** Aborts every running job (worker shutdown): they end and are retried elsewhere. */
  abortAll(reason: string): void {
    for (const c of this.running.values()) c.abort(reason);
  }

  runningJobs(): string[] {
    return [...this.running.keys()];
  }
}
