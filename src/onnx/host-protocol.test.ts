import { describe, expect, test } from 'vitest';
import { ownTensor, transferList } from './host-protocol.js';

describe('ownTensor', () => {
  test('a typed array that is its whole buffer is moved: no copy, and the caller’s array reads as empty', () => {
    const data = Float32Array.of(1, 2, 3, 4);
    const owned = ownTensor({ dtype: 'float32', dims: [2, 2], data });
    expect(owned).toEqual({ dtype: 'float32', dims: [2, 2], data: Float32Array.of(1, 2, 3, 4) });
    expect(data.length).toBe(0);
  });

  test('a view into a larger buffer is copied, so transferring it cannot take the caller’s other data', () => {
    const whole = Float32Array.of(9, 1, 2, 9);
    const owned = ownTensor({ dtype: 'float32', dims: [2], data: whole.subarray(1, 3) });
    expect(owned.data).toEqual(Float32Array.of(1, 2));
    expect(owned.data.buffer.byteLength).toBe(8);
    expect(whole).toEqual(Float32Array.of(9, 1, 2, 9));
  });

  test('a Node Buffer (a slice of a shared pool) becomes a plain Uint8Array copy', () => {
    const buf = Buffer.from([1, 2, 3]);
    const owned = ownTensor({ dtype: 'uint8', dims: [3], data: buf });
    expect(owned.data.constructor).toBe(Uint8Array);
    expect(Array.from(owned.data as Uint8Array)).toEqual([1, 2, 3]);
    expect(buf.length).toBe(3);
  });
});

test('transferList lists each buffer once (a buffer listed twice would fail the postMessage)', () => {
  const shared = new Float32Array(4);
  const other = new BigInt64Array(2);
  const list = transferList([
    { a: { dtype: 'float32', dims: [4], data: shared }, b: { dtype: 'int64', dims: [2], data: other } },
    { a: { dtype: 'float32', dims: [4], data: shared } },
  ]);
  expect(list).toEqual([shared.buffer, other.buffer]);
});
