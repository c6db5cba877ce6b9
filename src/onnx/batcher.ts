/**
 * Dynamic batching, as pure logic: a queue per session that collects `run` calls while the
 * session is busy (or, when it is idle, for up to `maxDelayMs`), hands up to `limit()` rows of
 * items with the same signature to `execute` at once, and settles each caller with its own
 * outcome. `concatItems` and `splitOutputs` are the tensor side, used by the session thread.
 * While batching, one run at a time per queue: a second run would only wait inside ONNX Runtime,
 * and items that wait here can still join the next batch.
 */
import { arrayFor, elementCount, type TensorMap } from './tensor.js';

export type ItemOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface BatchQueueOptions<R> {
  /** How long the first item waits for company when the session is idle. */
  maxDelayMs: number;
  /** The most rows one run may take, asked before each dispatch (the learner's answer; 1 = never batch). */
  limit: () => number;
  /** Runs the items as one batch; one outcome per item, in order. A throw fails them all. */
  execute: (items: TensorMap[]) => Promise<Array<ItemOutcome<R>>>;
}

interface Queued<R> {
  feeds: TensorMap;
  rows: number;
  signature: string;
  settled: boolean;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
  cleanup: () => void;
}

export class BatchQueue<R> {
  private pending: Array<Queued<R>> = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  /**
   * How many rows the callers in flight make: the last run's plus what arrived while it ran. It is
   * the company a dispatch waits for (up to maxDelayMs), and no more, so sparse traffic never waits.
   */
  private expected = 1;
  private arrivedDuringRun = 0;

  constructor(private readonly opts: BatchQueueOptions<R>) {}

  /** Nothing queued and nothing running: the session may be evicted. */
  get idle(): boolean {
    return this.inFlight === 0 && this.pending.length === 0;
  }

  submit(feeds: TensorMap, rows: number, signature: string, signal?: AbortSignal): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const item: Queued<R> = { feeds, rows, signature, settled: false, resolve, reject, cleanup: () => {} };
      if (signal) {
        if (signal.aborted) return reject(abortReason(signal));
        // Aborting a queued item takes it out; aborting a running one settles the caller now and
        // drops its result later (ONNX Runtime cannot stop a run part-way).
        const onAbort = () => {
          const i = this.pending.indexOf(item);
          if (i >= 0) this.pending.splice(i, 1);
          if (this.pending.length === 0) this.clearTimer();
          settle(item, { ok: false, error: abortReason(signal) });
        };
        signal.addEventListener('abort', onAbort, { once: true });
        item.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.pending.push(item);
      if (this.inFlight > 0) this.arrivedDuringRun += rows;
      this.schedule();
    });
  }

  /** Fails everything still queued (the session went away); a running batch settles by itself. */
  drain(error: unknown): void {
    this.clearTimer();
    for (const item of this.pending.splice(0)) settle(item, { ok: false, error });
  }

  /**
   * On submit, and when a run ends: go now once as many rows wait as the callers in flight make
   * (capped by the limit), else give the first item up to maxDelayMs to find that company. Traffic
   * that comes one request at a time never waits; steady concurrency fills each batch; a drop in
   * concurrency costs one wait, after which the queue expects less.
   */
  private schedule(): void {
    if (this.pending.length === 0) return;
    const limit = this.opts.limit();
    if (!this.canDispatch(limit)) return; // it goes when a run returns
    const first = this.pending[0]!;
    const rows = this.pending.filter((q) => q.signature === first.signature).reduce((n, q) => n + q.rows, 0);
    if (rows >= Math.min(limit, this.expected)) return this.flush();
    this.timer ??= setTimeout(() => this.flush(), this.opts.maxDelayMs);
  }

  /**
   * Batching: one run at a time, so what arrives meanwhile forms the next batch. Not batching
   * (limit 1): two, so the thread already holds the next item when a run ends and never waits a
   * message round trip between items (that round trip cost a quarter of the throughput of a
   * 0.4 ms model).
   */
  private canDispatch(limit: number): boolean {
    return this.inFlight < (limit <= 1 ? 2 : 1);
  }

  /** Dispatches what may go now, without waiting: what queued up while a run was busy has waited long enough. */
  private flush(): void {
    this.clearTimer();
    for (;;) {
      if (this.pending.length === 0) return;
      const limit = this.opts.limit();
      if (!this.canDispatch(limit)) return;
      const batch = this.take(limit);
      const rows = batch.reduce((n, q) => n + q.rows, 0);
      this.inFlight++;
      this.opts
        .execute(batch.map((q) => q.feeds))
        .then(
          (outcomes) => batch.map((_, i): ItemOutcome<R> => outcomes[i] ?? { ok: false, error: new Error('the batch returned too few results') }),
          (error: unknown) => batch.map((): ItemOutcome<R> => ({ ok: false, error })),
        )
        .then((outcomes) => {
          // Book-keeping before the callers hear back, so that one coming straight back counts as
          // returning, not as arriving during the run. Those callers come back in a moment: the next
          // run waits for them too, so two halves of the callers do not take turns in half-size runs.
          this.inFlight--;
          this.expected = rows + this.arrivedDuringRun;
          this.arrivedDuringRun = 0;
          batch.forEach((q, i) => settle(q, outcomes[i]!));
          this.schedule();
        });
    }
  }

  /** The oldest item and those after it with the same signature, up to `limit` rows (always at least one item). */
  private take(limit: number): Array<Queued<R>> {
    const signature = this.pending[0]!.signature;
    const batch: Array<Queued<R>> = [];
    let rows = 0;
    for (const q of this.pending) {
      if (q.signature !== signature) continue;
      if (batch.length > 0 && rows + q.rows > limit) break;
      batch.push(q);
      rows += q.rows;
    }
    this.pending = this.pending.filter((q) => !batch.includes(q));
    return batch;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

function settle<R>(q: Queued<R>, outcome: ItemOutcome<R>): void {
  if (q.settled) return;
  q.settled = true;
  q.cleanup();
  if (outcome.ok) q.resolve(outcome.value);
  else q.reject(outcome.error);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The run was aborted', 'AbortError');
}

/** The model's outputs do not have one row per input row, so they cannot be handed back per item. */
export class BatchSplitError extends Error {
  override readonly name = 'BatchSplitError';
}

/** Items with the same signature, concatenated along dimension 0 (one copy of each input). */
export function concatItems(items: TensorMap[]): TensorMap {
  const first = items[0]!;
  if (items.length === 1) return first;
  const out: TensorMap = {};
  for (const name of Object.keys(first)) {
    const parts = items.map((it) => it[name]!);
    const rows = parts.reduce((n, t) => n + t.dims[0]!, 0);
    const dims = [rows, ...first[name]!.dims.slice(1)];
    const data = arrayFor(first[name]!.dtype, elementCount(dims));
    let offset = 0;
    for (const t of parts) {
      (data as { set(a: ArrayLike<number | bigint>, o: number): void }).set(t.data, offset);
      offset += t.data.length;
    }
    out[name] = { dtype: first[name]!.dtype, dims, data };
  }
  return out;
}

/** A batch's outputs cut back into one map per item, `rows[i]` rows each (copies, so each owns its buffer). */
export function splitOutputs(outputs: TensorMap, rows: number[]): TensorMap[] {
  const total = rows.reduce((a, b) => a + b, 0);
  const result: TensorMap[] = rows.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== total) throw new BatchSplitError(`output '${name}' has ${t.dims[0] ?? 'no'} rows for ${total} input rows`);
    const perRow = total === 0 ? 0 : t.data.length / total;
    let start = 0;
    rows.forEach((r, i) => {
      result[i]![name] = { dtype: t.dtype, dims: [r, ...t.dims.slice(1)], data: t.data.slice(start * perRow, (start + r) * perRow) };
      start += r;
    });
  }
  return result;
}
