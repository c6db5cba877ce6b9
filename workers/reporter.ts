/**
 * How a worker tells the API what happened: reports on the `reports` queue (durable in Redis, so
 * an API restart loses nothing), with deterministic ids so a duplicate collapses. Log lines are
 * batched and progress is throttled, so a chatty ffmpeg cannot flood the queue.
 */
import type { Queue } from 'bullmq';
import type { LogLine } from '../src/db/schema.js';
import { reportId, type Report } from '../src/queue/messages.js';

export class Reporter {
  constructor(private readonly queue: Queue) {}

  async send(report: Report): Promise<void> {
    const jobId = reportId(report);
    await this.queue.add(report.type, report, {
      ...(jobId && { jobId }),
      attempts: 10,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 3600, count: 50_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  /** A log and progress channel for one attempt of one job. */
  /** `firstSequence` keeps separate writers of one attempt (a resumed run, each piece) from colliding. */
  forAttempt(jobId: string, attempt: number, firstSequence = 0): AttemptReporter {
    return new AttemptReporter(this, jobId, attempt, firstSequence);
  }
}

export class AttemptReporter {
  private sequence: number;
  private pending: LogLine[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private lastProgressAt = 0;
  private lastProgress = -1;
  private sends: Promise<void>[] = [];

  constructor(
    private readonly reporter: Reporter,
    readonly jobId: string,
    readonly attempt: number,
    firstSequence = 0,
  ) {
    this.sequence = firstSequence;
  }

  log(level: LogLine['level'], msg: string): void {
    this.pending.push({ t: new Date().toISOString(), level, msg: msg.slice(0, 4000) });
    if (this.pending.length >= 200) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), 250);
  }

  /** Progress in [0, 1]; sent at most every 500 ms, or on 5 points of change. */
  progress(fraction: number): void {
    const p = Math.max(0, Math.min(1, Math.round(fraction * 1000) / 1000));
    const now = Date.now();
    if (p === this.lastProgress || (now - this.lastProgressAt < 500 && p - this.lastProgress < 0.05)) return;
    this.lastProgress = p;
    this.lastProgressAt = now;
    this.track(this.reporter.send({ type: 'progress', jobId: this.jobId, attempt: this.attempt, progress: p, at: new Date().toISOString() }));
  }

  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.pending.length) return;
    const lines = this.pending;
    this.pending = [];
    this.track(this.reporter.send({ type: 'log', jobId: this.jobId, attempt: this.attempt, sequence: this.sequence++, lines }));
  }

  /** Waits until every log and progress report so far is in Redis. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled(this.sends);
    this.sends = [];
  }

  private track(p: Promise<void>) {
    this.sends.push(p.catch(() => undefined));
  }
}
