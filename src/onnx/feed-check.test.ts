import { describe, expect, test } from 'vitest';
import { checkFeeds, type TensorInfo } from './feed-check.js';
import { OnnxInputError } from './onnx-errors.js';
import type { TensorMap } from './tensor.js';

// What super-resolution-10.onnx declares.
const SUPER_RES: TensorInfo[] = [{ name: 'input', dtype: 'float32', shape: ['batch_size', 1, 224, 224] }];
const frame = (rows = 1, h = 224): TensorMap => ({ input: { dtype: 'float32', dims: [rows, 1, h, 224], data: new Float32Array(rows * h * 224) } });

describe('checkFeeds', () => {
  test('a good item: its rows and a signature that ignores the batch dimension', () => {
    expect(checkFeeds(frame(), SUPER_RES, true)).toEqual({ rows: 1, signature: 'input:float32:1x224x224' });
    expect(checkFeeds(frame(3), SUPER_RES, true)).toEqual({ rows: 3, signature: 'input:float32:1x224x224' });
    expect(checkFeeds(frame(), SUPER_RES, false)).toEqual({ rows: 1, signature: 'input:float32:1x1x224x224' });
  });

  const cases: Array<[string, TensorMap, string]> = [
    ['an unknown name (which ORT would silently ignore)', { ...frame(), Y: frame().input! }, "unknown input 'Y': the model's inputs are 'input'"],
    ['a missing input', {}, "missing input 'input' float32 [batch_size, 1, 224, 224]"],
    ['a wrong dtype', { input: { dtype: 'float64', dims: [1, 1, 224, 224], data: new Float64Array(224 * 224) } }, "input 'input' has dtype float64, the model expects float32"],
    ['data of the wrong array type', { input: { dtype: 'float32', dims: [1, 1, 224, 224], data: new Float64Array(224 * 224) as unknown as Float32Array } }, "input 'input' is float32, so its data must be a Float32Array, not a Float64Array"],
    ['a wrong size', frame(1, 100), "input 'input' has the wrong shape [1, 1, 100, 224] (the model expects [batch_size, 1, 224, 224]): dimension 2 is 100, the model expects 224"],
    ['a wrong rank', { input: { dtype: 'float32', dims: [1, 224, 224], data: new Float32Array(224 * 224) } }, "input 'input' has 3 dimensions [1, 224, 224], the model expects 4: [batch_size, 1, 224, 224]"],
    ['too little data', { input: { dtype: 'float32', dims: [1, 1, 224, 224], data: new Float32Array(10) } }, "input 'input' has dims [1, 1, 224, 224] (50176 values) but 10 values of data"],
    ['an empty batch', frame(0), "input 'input' has an empty batch (dimension 0 is 0)"],
  ];
  test.each(cases)('refuses %s with a message a user can act on', (_, feeds, message) => {
    expect(() => checkFeeds(feeds, SUPER_RES, true)).toThrow(new OnnxInputError(message));
  });

  test('a buffer already handed to another run says so', () => {
    const feeds = frame();
    structuredClone(feeds.input!.data.buffer, { transfer: [feeds.input!.data.buffer] });
    expect(() => checkFeeds(feeds, SUPER_RES, true)).toThrow("input 'input''s data was already handed to another run (run() takes its feeds' buffers): pass a copy");
  });

  test('inputs must agree on the batch size', () => {
    const two: TensorInfo[] = [
      { name: 'a', dtype: 'float32', shape: ['N', 2] },
      { name: 'b', dtype: 'int64', shape: ['N'] },
    ];
    const feeds: TensorMap = { a: { dtype: 'float32', dims: [2, 2], data: new Float32Array(4) }, b: { dtype: 'int64', dims: [1], data: new BigInt64Array(1) } };
    expect(() => checkFeeds(feeds, two, true)).toThrow("inputs disagree on the batch size (dimension 0): 2 and 1 for 'b'");
  });
});
