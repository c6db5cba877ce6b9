/**
 * Learns per model whether batching pays. Batching only helps where the engine does more work
 * per second on bigger tensors: on 2 CPU cores a small classifier ran 2.2× more items/s at batch
 * 16 than at batch 1, while the conv-heavy super-resolution model gained nothing (0.99×), so
 * there batching only adds the wait for company to every item's latency.
 *
 * - `learning`: batch as usual (up to maxSize), but alternate with items run alone, and record
 *   the seconds per item by batch size (sizes bucketed by powers of two: 2–3, 4–7, 8–15…).
 * - Once batch 1 and one bucket above it each have `minSamples` runs, compare their fastest
 *   runs per item. The fastest, not the mean or median: other processes on the cores and the
 *   first run at a new size (ORT's memory arena growing) only ever add time, and on a shared
 *   2-core machine medians still flipped super-resolution to `on` during a burst of other work.
 *   `on` when the best bucket is at least `minGain` faster per item than alone, with the preferred
 *   size the largest seen in that bucket (maxSize when it is the biggest bucket measured); otherwise `off`, and items run one at a time without
 *   waiting.
 * - After `relearnAfterRuns` runs or `relearnAfterMs`, whichever first, it forgets and learns
 *   again, so a change of load or of the engine (another model sharing the GPU) can flip it.
 */
export type BatchingState = 'learning' | 'on' | 'off';

export interface BatchLearnerOptions {
  maxSize: number;
  /** Runs needed at batch 1 and in one bigger bucket before deciding. Default 5. */
  minSamples?: number;
  /** How much faster per item a batch must be to be worth its wait. Default 1.1 (10% better). */
  minGain?: number;
  /** Default 1000 runs. */
  relearnAfterRuns?: number;
  /** Default 10 minutes. */
  relearnAfterMs?: number;
  now?: () => number;
}

export interface BatchDecision {
  state: 'on' | 'off';
  preferred: number;
  /** Seconds per item alone / at the best batch size (>1: batching is faster). */
  gain: number;
  aloneSecondsPerItem: number;
  bestSecondsPerItem: number;
  bestSize: number;
}

const KEEP = 16;

export class BatchLearner {
  private stateNow: BatchingState = 'learning';
  private preferredNow: number;
  /** Why batching was switched off for good, if it was. */
  disabledBecause: string | null = null;
  /** Per bucket: recent seconds per item, and the largest batch seen in it. */
  private buckets = new Map<number, { perItem: number[]; maxRows: number }>();
  private decidedAt = 0;
  private runsSinceDecision = 0;
  private readonly minSamples: number;
  private readonly minGain: number;
  private readonly relearnAfterRuns: number;
  private readonly relearnAfterMs: number;
  private readonly now: () => number;
  lastDecision: BatchDecision | null = null;

  constructor(private readonly opts: BatchLearnerOptions) {
    this.preferredNow = opts.maxSize;
    this.minSamples = opts.minSamples ?? 5;
    this.minGain = opts.minGain ?? 1.1;
    this.relearnAfterRuns = opts.relearnAfterRuns ?? 1000;
    this.relearnAfterMs = opts.relearnAfterMs ?? 600_000;
    this.now = opts.now ?? Date.now;
    if (opts.maxSize <= 1) this.disable('maxSize is 1');
  }

  get state(): BatchingState {
    return this.stateNow;
  }
  get preferred(): number {
    return this.preferredNow;
  }

  /** The most rows the next run may take. */
  limit(): number {
    if (this.stateNow !== 'learning') return this.preferredNow;
    // Alternate lone runs with batches for as long as learning lasts, so that both are measured
    // over the same stretch of time: lone runs all taken first, during a burst of other work on
    // the cores, made batching look 1.3× better than it was.
    const alone = this.samples(1).length;
    const batched = [...this.buckets].reduce((n, [b, s]) => n + (b > 1 ? s.perItem.length : 0), 0);
    return alone <= batched ? 1 : this.opts.maxSize;
  }

  /** One clean run (no retry) of `rows` rows that took `seconds`. Returns the decision when one was just made. */
  record(rows: number, seconds: number): BatchDecision | null {
    if (this.disabledBecause !== null || rows < 1) return null;
    if (this.stateNow !== 'learning') {
      this.runsSinceDecision++;
      if (this.runsSinceDecision >= this.relearnAfterRuns || this.now() - this.decidedAt >= this.relearnAfterMs) this.reset();
      return null;
    }
    const bucket = 2 ** Math.floor(Math.log2(rows));
    const s = this.buckets.get(bucket) ?? { perItem: [], maxRows: 0 };
    s.perItem.push(seconds / rows);
    if (s.perItem.length > KEEP) s.perItem.shift();
    s.maxRows = Math.max(s.maxRows, rows);
    this.buckets.set(bucket, s);
    return this.decide();
  }

  /** Never batch again (the model's outputs cannot be split per item). */
  disable(reason: string): void {
    this.disabledBecause = reason;
    this.stateNow = 'off';
    this.preferredNow = 1;
  }

  private decide(): BatchDecision | null {
    const alone = this.samples(1);
    if (alone.length < this.minSamples) return null;
    let best: { bucket: number; fastest: number } | null = null;
    for (const [bucket, s] of this.buckets) {
      if (bucket === 1 || s.perItem.length < this.minSamples) continue;
      const fastest = Math.min(...s.perItem);
      if (!best || fastest < best.fastest) best = { bucket, fastest };
    }
    if (!best) return null;
    const aloneFastest = Math.min(...alone);
    const gain = aloneFastest / best.fastest;
    const bestSize = this.buckets.get(best.bucket)!.maxRows;
    this.stateNow = gain >= this.minGain ? 'on' : 'off';
    // The best bucket's largest size where bigger buckets measured worse; else maxSize: nothing says
    // a bigger batch is worse, and capping at the largest seen (15 while learning with 16 callers, as
    // the lone runs take one out) would split every round into 15 + 1. Light traffic does not wait
    // for a big batch anyway: the queue waits only for as many rows as its last run had.
    const biggerMeasured = [...this.buckets].some(([b, s]) => b > best.bucket && s.perItem.length >= this.minSamples);
    this.preferredNow = this.stateNow === 'on' ? (biggerMeasured ? Math.min(bestSize, this.opts.maxSize) : this.opts.maxSize) : 1;
    this.decidedAt = this.now();
    this.runsSinceDecision = 0;
    this.lastDecision = { state: this.stateNow, preferred: this.preferredNow, gain, aloneSecondsPerItem: aloneFastest, bestSecondsPerItem: best.fastest, bestSize };
    return this.lastDecision;
  }

  private reset(): void {
    this.buckets.clear();
    this.stateNow = 'learning';
    this.preferredNow = this.opts.maxSize;
  }

  private samples(bucket: number): number[] {
    return this.buckets.get(bucket)?.perItem ?? [];
  }
}
