/**
 * IEEE binary16 as onnxruntime-node holds it: raw bits in a Uint16Array. Node 20 has no
 * Math.f16round, so the conversion is here, rounding as IEEE, numpy and ONNX Runtime do: to
 * nearest, ties to even, subnormals, infinities and NaN kept.
 */
const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer); // little-endian: [low word, high word]

/** IEEE binary16 bits, round to nearest, ties to even — from the double itself, so nothing rounds twice. */
export function toFloat16Bits(value: number): number {
  f64[0] = value;
  const lo = f64Words[0]!;
  const hi = f64Words[1]!;
  const sign = (hi >>> 16) & 0x8000;
  const exp = (hi >>> 20) & 0x7ff;
  const mant = hi & 0xfffff; // the top 20 of 52 mantissa bits; `lo` counts only as "something below"
  if (exp === 0x7ff) return sign | 0x7c00 | (mant || lo ? 0x200 : 0);
  const e = exp - 1023 + 15;
  if (e >= 31) return sign | 0x7c00;
  let bits: number, rest: number, halfway: number;
  if (e >= 1) {
    bits = (e << 10) | (mant >>> 10);
    rest = mant & 0x3ff;
    halfway = 0x200;
  } else {
    const shift = 11 - e; // a subnormal keeps 10 of the 21 significant bits, fewer as e falls
    if (shift > 21) return sign;
    const m = mant | 0x100000;
    bits = m >>> shift;
    rest = m & ((1 << shift) - 1);
    halfway = 1 << (shift - 1);
  }
  // A carry out of the mantissa lands in the exponent, as it should (up to infinity).
  if (rest > halfway || (rest === halfway && (lo !== 0 || (bits & 1) === 1))) bits++;
  return sign | bits;
}

export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >>> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}
