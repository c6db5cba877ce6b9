/**
 * Dynamic batching through the real door, on real models: merged runs give each caller what a
 * single-item run would, one bad item fails only its caller, and the door learns per model
 * whether batching pays. Timings here are logged, not asserted, except where the gap is wide
 * (the perceptron gains ~8× per item at batch 16 on 2 cores); the bench measures throughput.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { MODELS } from '../../test/helpers/assets.js';
import { createOnnxDoor, OnnxInputError, type ModelHandle, type OnnxDoor } from './onnx-door.js';
import type { TensorData, TensorMap } from './tensor.js';
import { readTensorProto } from './tensor-proto.js';
import { lookupModel, perceptronModel } from './tiny-model.js';

const SUPER_RES: ModelHandle = { key: 'super-resolution-10', path: path.join(MODELS, 'super-resolution-10.onnx'), batch: { maxSize: 16, maxDelayMs: 5 } };
const superResInput = readTensorProto(readFileSync(path.join(MODELS, 'super-resolution-10.input_0.pb'))).tensor;
/** 16 distinct frames from the one real input, by scaling it; each call a fresh copy, as run() takes its buffers. */
const FRAMES = Array.from({ length: 16 }, (_, i) => (superResInput.data as Float32Array).map((v) => v * (0.5 + i / 32)));
// Copying, not computing, each time: a burst of main-thread work at the start of each wave would
// slow the items run alone there and make batching look better than it is.
const frame = (i: number): TensorData => ({ dtype: 'float32', dims: [1, 1, 224, 224], data: FRAMES[i]!.slice() });

let door: OnnxDoor;
let logs: string[];
let tmp: string;
const newDoor = (memoryBudgetBytes = 64 << 20) => createOnnxDoor({ providers: ['cpu'], memoryBudgetBytes, log: (level, msg) => logs.push(`${level} ${msg}`) });

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'malan-onnx-batching-'));
  logs = [];
  door = newDoor();
});
afterEach(() => {
  logs = [];
});
afterAll(async () => {
  await door.close();
  await rm(tmp, { recursive: true, force: true });
});

/** Runs `waves` rounds of `n` concurrent calls. */
async function waves(d: OnnxDoor, model: ModelHandle, n: number, count: number, feeds: (i: number) => TensorMap) {
  for (let w = 0; w < count; w++) await Promise.all(Array.from({ length: n }, (_, i) => d.run(model, feeds(i))));
}

describe('dynamic batching', () => {
  test('16 concurrent super-resolution runs share session runs, and each output equals a bare single-item run', async () => {
    // The reference: a bare session in this thread, one item at a time.
    const bare = await ort.InferenceSession.create(SUPER_RES.path, { logSeverityLevel: 3 });
    const want: Float32Array[] = [];
    for (let i = 0; i < 16; i++) want.push((await bare.run({ input: new ort.Tensor('float32', frame(i).data as Float32Array, [1, 1, 224, 224]) })).output!.data as Float32Array);
    await bare.release();

    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => door.run(SUPER_RES, { input: frame(i) })));
    const stats = door.stats();
    expect(stats.sessionRuns).toBeLessThan(16);
    expect(stats.items).toBe(16);
    expect(stats.sessions).toEqual([expect.objectContaining({ key: 'super-resolution-10', batching: 'learning', preferredBatch: 16, items: 16, bytes: 240_078 })]);
    expect(Math.max(...results.map((r) => r.batchSize))).toBeGreaterThan(1);

    let maxDiff = 0;
    let bitwise = true;
    results.forEach((r, i) => {
      const got = r.outputs.output!;
      expect(got.dims).toEqual([1, 1, 672, 672]);
      const g = got.data as Float32Array;
      for (let k = 0; k < g.length; k++) {
        if (g[k] !== want[i]![k]) bitwise = false;
        maxDiff = Math.max(maxDiff, Math.abs(g[k]! - want[i]![k]!));
      }
    });
    console.log(`super-resolution: ${stats.sessionRuns} session runs for 16 items (batch sizes ${results.map((r) => r.batchSize).join(',')}); outputs ${bitwise ? 'bitwise equal' : `differ by at most ${maxDiff}`} to single-item runs`);
    // Batched convolutions may sum in another order than single ones; 1e-5 is far below one 8-bit pixel step (1/255).
    expect(maxDiff).toBeLessThan(1e-5);
  });

  test('learns that batching pays on a small dense model: on, with a preferred size above 1', async () => {
    const file = path.join(tmp, 'perceptron.onnx');
    await writeFile(file, perceptronModel({ inputs: 256, hidden: 512, outputs: 10 }));
    const model: ModelHandle = { key: 'perceptron', path: file, batch: { maxSize: 16, maxDelayMs: 2 } };
    const x = (i: number): TensorMap => ({ x: { dtype: 'float32', dims: [1, 256], data: new Float32Array(256).fill(i / 16) } });
    for (let w = 0; w < 20 && door.stats().sessions.find((s) => s.key === 'perceptron')?.batching !== 'on'; w++) await waves(door, model, 16, 1, x);
    const session = door.stats().sessions.find((s) => s.key === 'perceptron')!;
    console.log(logs.filter((l) => l.includes('perceptron: batching')).join('\n'));
    expect(session.batching).toBe('on');
    expect(session.preferredBatch).toBeGreaterThan(1);
    // Now a wave of 16 takes about one run per preferred batch.
    const before = door.stats().sessionRuns;
    await waves(door, model, 16, 1, x);
    expect(door.stats().sessionRuns - before).toBeLessThanOrEqual(Math.ceil(16 / session.preferredBatch) + 1);
  });

  test('learns per model: super-resolution reaches a decision too, whichever it is on this machine', async () => {
    const feeds = (i: number) => ({ input: frame(i) });
    for (let w = 0; w < 20 && door.stats().sessions.find((s) => s.key === SUPER_RES.key)?.batching === 'learning'; w++) await waves(door, SUPER_RES, 16, 1, feeds);
    const decision = logs.find((l) => l.includes('super-resolution-10: batching'));
    console.log(decision);
    const session = door.stats().sessions.find((s) => s.key === SUPER_RES.key)!;
    expect(['on', 'off']).toContain(session.batching);
    if (session.batching === 'off') expect(session.preferredBatch).toBe(1);
  });

  test('one bad item in a batch fails only its own caller: the batch is retried item by item', async () => {
    const file = path.join(tmp, 'lookup.onnx');
    await writeFile(file, lookupModel({ rows: 10, width: 4 }));
    const model: ModelHandle = { key: 'lookup', path: file, batch: { maxSize: 8, maxDelayMs: 20 } };
    await door.describe(model);
    const before = door.stats().sessionRuns;
    const ids = [1n, 2n, 99n, 3n];
    const results = await Promise.allSettled(ids.map((id) => door.run(model, { ids: { dtype: 'int64', dims: [1, 1], data: BigInt64Array.of(id) } })));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(OnnxInputError);
    expect((results[2] as PromiseRejectedResult).reason.message).toMatch(/idx=99 must be within the inclusive range \[-10,9\]/);
    const ok = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<OnnxDoor['run']>>> => r.status === 'fulfilled');
    for (const r of ok) expect(r.value.outputs.y!.dims).toEqual([1, 1, 4]);
    // Learning runs the first two alone (two in flight while not batching), then [99, 3] together,
    // which fails and is retried one by one.
    expect(door.stats().sessionRuns - before).toBe(1 + 1 + (1 + 2));
  });

  test('an aborted call leaves the queue; the others still run', async () => {
    const file = path.join(tmp, 'perceptron-abort.onnx');
    await writeFile(file, perceptronModel({ inputs: 8, hidden: 8, outputs: 2 }));
    const model: ModelHandle = { key: 'perceptron-abort', path: file, batch: { maxSize: 8, maxDelayMs: 50 } };
    await door.describe(model);
    const controller = new AbortController();
    const x = () => ({ x: { dtype: 'float32' as const, dims: [1, 8], data: new Float32Array(8) } });
    const runs = [door.run(model, x()), door.run(model, x(), { signal: controller.signal }), door.run(model, x())];
    controller.abort(new Error('job canceled'));
    const results = await Promise.allSettled(runs);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('job canceled');
  });
});

describe('the session cache', () => {
  test('evicts the least recently used idle session when model files pass the memory budget', async () => {
    const own = newDoor(2_600_000); // squeezenet (2,484,091 bytes) + one small model
    try {
      const mnist: ModelHandle = { key: 'mnist-8', path: path.join(MODELS, 'mnist-8.onnx') };
      const superRes: ModelHandle = { key: 'super-resolution-10', path: SUPER_RES.path };
      const squeeze: ModelHandle = { key: 'squeezenet', path: path.join(MODELS, 'squeezenet1.0-fp16.onnx') };
      await own.describe(mnist);
      await own.describe(superRes);
      await own.describe(mnist); // mnist is now the most recently used
      expect(own.stats().sessions.map((s) => s.key)).toEqual(['mnist-8', 'super-resolution-10']);
      await own.describe(squeeze);
      expect(own.stats().sessions.map((s) => s.key)).toEqual(['mnist-8', 'squeezenet']);
      expect(logs).toContain('info model super-resolution-10 evicted (least recently used) to stay within the ONNX memory budget');
      // An evicted model loads again on next use; making room for it takes both others this time.
      await own.describe(superRes);
      expect(own.stats().sessions.map((s) => s.key)).toEqual(['super-resolution-10']);
    } finally {
      await own.close();
    }
  });
});
