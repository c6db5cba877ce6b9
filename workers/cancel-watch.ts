/** Listens for cancel messages and aborts the matching running job (which kills its processes). */
import type { Redis } from 'ioredis';
import { channels } from '../src/queue/messages.js';

export class CancelWatch {
  /** Job id → the controllers of its running work (a split job's pieces can run side by side). */
  private readonly running = new Map<string, Set<AbortController>>();

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {}

  async start(): Promise<void> {
    await this.subscriber.subscribe(channels.cancel(this.prefix));
    this.subscriber.on('message', (_channel: string, jobId: string) => {
      for (const c of this.running.get(jobId) ?? []) c.abort('canceled');
    });
  }

  /** True when the job was canceled before this worker got to it. */
  async isCanceled(jobId: string): Promise<boolean> {
    return (await this.redis.exists(channels.canceledKey(this.prefix, jobId))) === 1;
  }

  track(jobId: string, controller: AbortController): () => void {
    const set = this.running.get(jobId) ?? new Set<AbortController>();
    set.add(controller);
    this.running.set(jobId, set);
    return () => {
      set.delete(controller);
      if (set.size === 0) this.running.delete(jobId);
    };
  }

  /** Aborts every running job (worker shutdown): they end and are retried elsewhere. */
  abortAll(reason: string): void {
    for (const set of this.running.values()) for (const c of set) c.abort(reason);
  }

  runningJobs(): string[] {
    return [...this.running.keys()];
  }
}
