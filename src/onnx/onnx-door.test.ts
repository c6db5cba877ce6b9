import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { MODELS } from '../../test/helpers/assets.js';
import { createOnnxDoor, OnnxInputError, OnnxModelError, type OnnxDoor } from './onnx-door.js';
import { liveSessionThreads } from './session-thread.js';
import type { TensorMap } from './tensor.js';
import { readTensorProto } from './tensor-proto.js';
import { lookupModel } from './tiny-model.js';

const model = (name: string, batch: { maxSize: number; maxDelayMs: number } | null = null) => ({ key: name, path: path.join(MODELS, `${name}.onnx`), batch });
const pb = (file: string) => readTensorProto(readFileSync(path.join(MODELS, file)));

let door: OnnxDoor;
let logs: string[];
let tmp: string;
const newDoor = (memoryBudgetBytes = 64 << 20) => createOnnxDoor({ providers: ['cpu'], fallbackReasons: ['no GPU on this worker: ONNX Runtime runs on the CPU'], memoryBudgetBytes, log: (level, msg) => logs.push(`${level} ${msg}`) });

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'malan-onnx-door-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});
beforeAll(() => {
  logs = [];
  door = newDoor();
});
afterEach(() => {
  logs = [];
});
afterAll(async () => {
  await door.close();
});

describe('describe', () => {
  test('reports declared inputs and outputs, symbolic dims as strings', async () => {
    expect(await door.describe(model('super-resolution-10'))).toEqual({
      inputs: [{ name: 'input', dtype: 'float32', shape: ['batch_size', 1, 224, 224] }],
      outputs: [{ name: 'output', dtype: 'float32', shape: ['batch_size', 1, 672, 672] }],
    });
    expect(door.providers).toEqual(['cpu']);
    expect(door.fallbackReasons).toEqual(['no GPU on this worker: ONNX Runtime runs on the CPU']);
  });
});

describe('run', () => {
  test('mnist-8 (fixed batch 1, never batched) gives the golden output', async () => {
    const input = pb('mnist-8.input_0.pb');
    const golden = pb('mnist-8.output_0.pb');
    expect(input.name).toBe('Input3');
    const result = await door.run(model('mnist-8', { maxSize: 8, maxDelayMs: 5 }), { Input3: input.tensor });
    expect(result.provider).toBe('cpu');
    expect(result.batchSize).toBe(1);
    expect(result.seconds).toBeGreaterThan(0);
    const out = result.outputs.Plus214_Output_0!;
    expect(out.dims).toEqual([1, 10]);
    const want = golden.tensor.data as Float32Array;
    (out.data as Float32Array).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4));
    // Asked to batch, but its first dimension is fixed: concurrent runs stay single.
    const before = door.stats().sessionRuns;
    const zeros = () => ({ Input3: { dtype: 'float32' as const, dims: [1, 1, 28, 28], data: new Float32Array(784) } });
    await Promise.all([0, 1, 2, 3].map(() => door.run(model('mnist-8', { maxSize: 8, maxDelayMs: 5 }), zeros())));
    expect(door.stats().sessionRuns - before).toBe(4);
    expect(door.stats().sessions.find((s) => s.key === 'mnist-8')).toMatchObject({ batching: 'off', preferredBatch: 1 });
    expect(logs).toContain("info model mnist-8: batching was asked for, but 'Input3' [1, 1, 28, 28], 'Plus214_Output_0' [1, 10] has no symbolic first dimension: never batching");
  });

  test('squeezenet fp16 takes and returns float16 as raw bits', async () => {
    const pixels = new Uint16Array(3 * 224 * 224).fill(0x5800); // 128.0 in float16
    const { outputs } = await door.run(model('squeezenet1.0-fp16'), { data_0: { dtype: 'float16', dims: [1, 3, 224, 224], data: pixels } });
    const out = outputs.softmaxout_1!;
    expect(out.dtype).toBe('float16');
    expect(out.dims).toEqual([1, 1000, 1, 1]);
    expect(out.data).toBeInstanceOf(Uint16Array);
    const sum = Array.from(out.data as Uint16Array, halfToFloat).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 1); // a softmax
  });

  test('the feeds’ buffers move to the session thread: the caller’s arrays read as empty', async () => {
    const data = new Float32Array(784);
    await door.run(model('mnist-8'), { Input3: { dtype: 'float32', dims: [1, 1, 28, 28], data } });
    expect(data.length).toBe(0);
  });

  const bad: Array<[string, TensorMap, RegExp]> = [
    ['a wrong dtype', { input: { dtype: 'float64', dims: [1, 1, 224, 224], data: new Float64Array(224 * 224) } }, /^input 'input' has dtype float64, the model expects float32$/],
    ['a wrong shape', { input: { dtype: 'float32', dims: [1, 1, 100, 224], data: new Float32Array(100 * 224) } }, /^input 'input' has the wrong shape \[1, 1, 100, 224\] .*dimension 2 is 100, the model expects 224$/],
    ['an unknown input name', { X: { dtype: 'float32', dims: [1, 1, 224, 224], data: new Float32Array(224 * 224) } }, /^unknown input 'X': the model's inputs are 'input'$/],
  ];
  test.each(bad)('%s rejects with OnnxInputError and a readable message', async (_, feeds, message) => {
    const err = await door.run(model('super-resolution-10', { maxSize: 4, maxDelayMs: 2 }), feeds).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxInputError);
    expect((err as Error).message).toMatch(message);
  });

  test('an error ORT finds during the run comes back as OnnxInputError with its message cleaned up', async () => {
    const file = path.join(tmp, 'lookup.onnx');
    await writeFile(file, lookupModel({ rows: 10, width: 4 }));
    const err = await door.run({ key: 'lookup', path: file }, { ids: { dtype: 'int64', dims: [1, 1], data: BigInt64Array.of(99n) } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxInputError);
    expect((err as Error).message).toMatch(/^the model failed at its Gather node '.*' \(usually an input of the wrong size\): indices element out of data bounds, idx=99 must be within the inclusive range \[-10,9\]$/);
  });

  test('a file that is not an ONNX model rejects with OnnxModelError', async () => {
    const file = path.join(tmp, 'notes.onnx');
    await writeFile(file, 'these are not weights\n');
    const err = await door.run({ key: 'notes', path: file }, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxModelError);
    expect((err as Error).message).toBe(`${file} is not an ONNX model (ONNX Runtime could not parse it as one)`);
    await expect(door.describe({ key: 'gone', path: path.join(tmp, 'gone.onnx') })).rejects.toThrow(new OnnxModelError(`model file not found: ${path.join(tmp, 'gone.onnx')}`));
  });
});

describe('the event loop', () => {
  test('keeps ticking every ~10 ms while the style model runs a 720x720 frame', async () => {
    const frame = () => ({ inputImage: { dtype: 'float32' as const, dims: [1, 3, 720, 720], data: new Float32Array(3 * 720 * 720).fill(128) } });
    const watch = async (work: () => Promise<unknown>) => {
      let last = performance.now();
      let maxGap = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }, 10);
      const started = performance.now();
      await work();
      clearInterval(timer);
      maxGap = Math.max(maxGap, performance.now() - last); // a blocked loop may not tick at all
      return { maxGap, ms: performance.now() - started };
    };
    const style = model('style-candy');
    await door.describe(style); // load and warm up outside the measurement
    const viaDoor = await watch(() => door.run(style, frame()));

    // The same check on a bare session in this thread: the gap is the whole run. This shows the check can see blocking.
    const bare = await ort.InferenceSession.create(style.path, { logSeverityLevel: 3 });
    await bare.run({ inputImage: new ort.Tensor('float32', new Float32Array(3 * 720 * 720), [1, 3, 720, 720]) });
    const blocked = await watch(() => bare.run({ inputImage: new ort.Tensor('float32', new Float32Array(3 * 720 * 720), [1, 3, 720, 720]) }));
    await bare.release();

    console.log(`style 720x720: through the door ${viaDoor.ms.toFixed(0)} ms, longest gap between 10 ms ticks ${viaDoor.maxGap.toFixed(1)} ms; bare session.run on this thread ${blocked.ms.toFixed(0)} ms, gap ${blocked.maxGap.toFixed(1)} ms`);
    expect(blocked.maxGap).toBeGreaterThan(blocked.ms * 0.8);
    // Quiet, the longest gap is 14–20 ms of a 380 ms run; with two cores shared by other test
    // processes it has reached 80 ms of 1.8 s. A blocked loop would show the whole run.
    expect(viaDoor.maxGap).toBeLessThan(Math.max(50, viaDoor.ms / 4));
  });
});

describe('close', () => {
  test('terminates the session thread; later calls reject', async () => {
    const own = newDoor();
    await own.describe(model('mnist-8'));
    const before = liveSessionThreads();
    expect(before).toBeGreaterThan(0);
    await own.close();
    expect(liveSessionThreads()).toBe(before - 1);
    await expect(own.describe(model('mnist-8'))).rejects.toThrow('the ONNX door is closed');
  });
});

/** IEEE 754 half-precision bits → number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
