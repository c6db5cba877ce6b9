import { describe, expect, test } from 'vitest';
import { BatchQueue, BatchSplitError, concatItems, splitOutputs, type ItemOutcome } from './batcher.js';
import type { TensorMap } from './tensor.js';

const item = (v: number, width = 2): TensorMap => ({ x: { dtype: 'float32', dims: [1, width], data: new Float32Array(width).fill(v) } });
const valueOf = (m: TensorMap) => (m.x!.data as Float32Array)[0]!;

/** A queue whose execute records each batch and answers each item with its own value (or fails the items listed in `bad`). */
function harness(opts: { maxDelayMs?: number; limit?: number; runMs?: number; bad?: number[] } = {}) {
  const batches: number[][] = [];
  const blocked: Array<() => void> = [];
  const queue = new BatchQueue<number>({
    maxDelayMs: opts.maxDelayMs ?? 5,
    limit: () => opts.limit ?? 8,
    execute: async (items) => {
      batches.push(items.map(valueOf));
      if (opts.runMs === -1) await new Promise<void>((r) => blocked.push(r));
      else await new Promise((r) => setTimeout(r, opts.runMs ?? 1));
      return items.map((it): ItemOutcome<number> => (opts.bad?.includes(valueOf(it)) ? { ok: false, error: new Error(`bad ${valueOf(it)}`) } : { ok: true, value: valueOf(it) * 10 }));
    },
  });
  return { queue, batches, release: () => blocked.splice(0).forEach((r) => r()) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lets blocked runs finish one by one until every call has settled. */
async function releaseUntilSettled(release: () => void, calls: Array<Promise<unknown>>) {
  let settled = false;
  void Promise.allSettled(calls).then(() => (settled = true));
  for (let i = 0; i < 200 && !settled; i++) {
    await sleep(10);
    release();
  }
  return Promise.all(calls);
}

describe('BatchQueue', () => {
  test('a lone call on an idle queue runs at once: it waits for company only when the last run had some', async () => {
    const { queue, batches } = harness({ maxDelayMs: 60_000 });
    const started = Date.now();
    expect(await queue.submit(item(1), 1, 's')).toBe(10);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(batches).toEqual([[1]]);
  });

  test('what arrives while a run is busy waits for that run\'s callers to come back, and goes with them', async () => {
    const { queue, batches, release } = harness({ runMs: -1, maxDelayMs: 10_000 });
    const first = queue.submit(item(1), 1, 's');
    await sleep(5);
    expect(batches).toEqual([[1]]);
    const rest = [2, 3, 4, 5, 6, 7, 8].map((v) => queue.submit(item(v), 1, 's'));
    await sleep(5);
    expect(batches).toEqual([[1]]); // one run at a time while batching
    release();
    expect(await first).toBe(10);
    await sleep(5);
    expect(batches).toEqual([[1]]); // 8 callers are in flight: the 7 waiting give the first one time to come back
    const again = queue.submit(item(9), 1, 's');
    await sleep(5);
    expect(batches).toEqual([[1], [2, 3, 4, 5, 6, 7, 8, 9]]);
    release();
    expect(await Promise.all([...rest, again])).toEqual([20, 30, 40, 50, 60, 70, 80, 90]);
    expect(queue.idle).toBe(true);
  });

  test('the wait for company is at most maxDelayMs, and expects less after a run that found less', async () => {
    const { queue, batches, release } = harness({ runMs: -1, maxDelayMs: 300 });
    const warm = [queue.submit(item(1), 1, 's')];
    await sleep(5);
    warm.push(...[2, 3, 4].map((v) => queue.submit(item(v), 1, 's')));
    release();
    await warm[0];
    await sleep(100);
    expect(batches).toEqual([[1]]); // waiting for the first caller, who does not come back…
    await sleep(300);
    expect(batches).toEqual([[1], [2, 3, 4]]); // …for 300 ms at most
    release();
    await Promise.all(warm);
    // The last run had 3 rows: three arriving a little apart go as one run, as soon as the third is there.
    const started = Date.now();
    const three = [queue.submit(item(5), 1, 's')];
    await sleep(20);
    three.push(queue.submit(item(6), 1, 's'));
    await sleep(20);
    three.push(queue.submit(item(7), 1, 's'));
    await sleep(5);
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6, 7]]);
    expect(Date.now() - started).toBeLessThan(250);
    release();
    await Promise.all(three);
    // Alone now: it waits maxDelayMs once, and the next lone call goes at once.
    const lone = queue.submit(item(8), 1, 's');
    await sleep(100);
    expect(batches).toHaveLength(3);
    await sleep(300);
    expect(batches[3]).toEqual([8]);
    release();
    await lone;
    const next = queue.submit(item(9), 1, 's');
    await sleep(5);
    expect(batches[4]).toEqual([9]);
    release();
    expect(await next).toBe(90);
  });

  test('a run takes at most limit() rows, oldest first', async () => {
    const { queue, batches } = harness({ limit: 2 });
    await Promise.all([1, 2, 3, 4, 5].map((v) => queue.submit(item(v), 1, 's')));
    expect(batches).toEqual([[1], [2, 3], [4, 5]]);
  });

  test('rows count, not calls: an item with 3 rows fills a limit of 4 with one more', async () => {
    const { queue, batches, release } = harness({ limit: 4, runMs: -1 });
    const busy = queue.submit(item(0), 1, 's');
    const queued = [queue.submit(item(1), 3, 's'), queue.submit(item(2), 1, 's'), queue.submit(item(3), 1, 's')];
    await releaseUntilSettled(release, [busy, ...queued]);
    expect(batches).toEqual([[0], [1, 2], [3]]);
  });

  test('items whose signatures differ are never merged', async () => {
    const { queue, batches, release } = harness({ runMs: -1 });
    const busy = queue.submit(item(0), 1, 'a');
    const queued = [queue.submit(item(1), 1, 'a'), queue.submit(item(2), 1, 'b'), queue.submit(item(3), 1, 'a')];
    await releaseUntilSettled(release, [busy, ...queued]);
    expect(batches).toEqual([[0], [1, 3], [2]]);
  });

  test('with limit 1 an item runs at once, without waiting for company', async () => {
    const { queue, batches } = harness({ limit: 1, maxDelayMs: 60_000 });
    const started = Date.now();
    expect(await queue.submit(item(1), 1, 's')).toBe(10);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(batches).toEqual([[1]]);
  });

  test('a failed item fails only its own caller', async () => {
    const { queue } = harness({ bad: [2] });
    const results = await Promise.allSettled([1, 2, 3].map((v) => queue.submit(item(v), 1, 's')));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('bad 2');
  });

  test('a run that throws fails every item in it', async () => {
    const queue = new BatchQueue<number>({ maxDelayMs: 1, limit: () => 8, execute: async () => Promise.reject(new Error('thread died')) });
    const results = await Promise.allSettled([1, 2].map((v) => queue.submit(item(v), 1, 's')));
    expect(results.map((r) => (r as PromiseRejectedResult).reason.message)).toEqual(['thread died', 'thread died']);
    expect(queue.idle).toBe(true);
  });

  test('aborting a queued call takes it out of the batch; aborting a running one settles it at once', async () => {
    const { queue, batches, release } = harness({ runMs: -1, maxDelayMs: 20 });
    const queued = new AbortController();
    const running = new AbortController();
    const a = queue.submit(item(1), 1, 's', running.signal);
    const b = queue.submit(item(2), 1, 's', queued.signal);
    queued.abort(new Error('client went away'));
    await expect(b).rejects.toThrow('client went away');
    await new Promise((r) => setTimeout(r, 30));
    expect(batches).toEqual([[1]]);
    running.abort(new Error('job canceled'));
    await expect(a).rejects.toThrow('job canceled');
    release();
    await expect(queue.submit(item(3), 1, 's', AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });

  test('not batching, two runs are in flight, so the next item is already there when one ends', async () => {
    const { queue, batches, release } = harness({ runMs: -1, limit: 1 });
    const runs = [1, 2, 3].map((v) => queue.submit(item(v), 1, 's'));
    await new Promise((r) => setTimeout(r, 5));
    expect(batches).toEqual([[1], [2]]);
    release();
    await Promise.all(runs.slice(0, 2));
    expect(batches).toEqual([[1], [2], [3]]);
    release();
    expect(await runs[2]).toBe(30);
  });

  test('drain fails what is queued', async () => {
    const { queue, release } = harness({ runMs: -1, limit: 1 });
    const running = [queue.submit(item(1), 1, 's'), queue.submit(item(2), 1, 's')];
    const queued = queue.submit(item(3), 1, 's');
    queue.drain(new Error('session evicted'));
    await expect(queued).rejects.toThrow('session evicted');
    expect(queue.idle).toBe(false);
    release();
    expect(await Promise.all(running)).toEqual([10, 20]);
    expect(queue.idle).toBe(true);
  });
});

describe('concatItems and splitOutputs', () => {
  test('concatenate along dimension 0 and split back per item', () => {
    const a: TensorMap = { x: { dtype: 'float32', dims: [1, 2], data: Float32Array.of(1, 2) }, ids: { dtype: 'int64', dims: [1, 1], data: BigInt64Array.of(7n) } };
    const b: TensorMap = { x: { dtype: 'float32', dims: [2, 2], data: Float32Array.of(3, 4, 5, 6) }, ids: { dtype: 'int64', dims: [2, 1], data: BigInt64Array.of(8n, 9n) } };
    const batch = concatItems([a, b]);
    expect(batch.x).toEqual({ dtype: 'float32', dims: [3, 2], data: Float32Array.of(1, 2, 3, 4, 5, 6) });
    expect(batch.ids).toEqual({ dtype: 'int64', dims: [3, 1], data: BigInt64Array.of(7n, 8n, 9n) });
    const [pa, pb] = splitOutputs(batch, [1, 2]);
    expect(pa).toEqual(a);
    expect(pb).toEqual(b);
    // Each part owns its whole buffer, so it can be transferred alone.
    expect(pb!.x!.data.buffer.byteLength).toBe(pb!.x!.data.byteLength);
  });

  test('one item passes through untouched', () => {
    const a = item(1);
    expect(concatItems([a])).toBe(a);
  });

  test('outputs without a row per input row cannot be split', () => {
    const outputs: TensorMap = { y: { dtype: 'float32', dims: [1, 10], data: new Float32Array(10) } };
    expect(() => splitOutputs(outputs, [1, 1])).toThrow(BatchSplitError);
    expect(() => splitOutputs(outputs, [1, 1])).toThrow("output 'y' has 1 rows for 2 input rows");
  });
});
