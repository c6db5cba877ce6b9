import { describe, expect, it } from 'vitest';
import { fromFloat16Bits, toFloat16Bits } from './float16.js';

describe('float16', () => {
  it.each([
    [0.1, 0x2e66], [1 / 3, 0x3555], [1, 0x3c00], [-2, 0xc000], [-0, 0x8000], [65504, 0x7bff], [65519.99, 0x7bff],
    [65520, 0x7c00], [Infinity, 0x7c00], [-Infinity, 0xfc00], [NaN, 0x7e00], [2 ** -24, 0x0001], [2 ** -25, 0x0000],
    [2 ** -25 * 1.0001, 0x0001], [3 * 2 ** -25, 0x0002], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
    // Just above a tie, by less than float32 can hold: rounding via float32 would give 0x3c00.
    [1 + 2 ** -11 + 2 ** -40, 0x3c01],
  ])('%s → %s', (value, bits) => {
    expect(toFloat16Bits(value)).toBe(bits);
  });

  it('every finite half survives the round trip', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      if (toFloat16Bits(fromFloat16Bits(h)) !== h) expect.fail(`half 0x${h.toString(16)} came back changed`);
    }
  });
});
