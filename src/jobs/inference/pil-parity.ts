/**
 * PIL's colour conversion and bicubic resize, reproduced exactly: luma models (the ONNX
 * super-resolution tutorial's) were trained and checked on PIL's YCbCr and resize, so matching it
 * bit for bit makes the farm's output the reference implementation's. Tables and rounding follow
 * Pillow's C sources (Convert.c, Resample.c).
 */

/**
 * PIL's JPEG/JFIF YCbCr tables (libImaging/ConvertYCbCr.c): coefficient × 64, built with C's
 * `(int)(x + 0.5)`, which truncates towards zero, so its negative entries sit one above a
 * rounding. Generated here rather than pasted; the test checks entries against PIL's source.
 */
const pilTable = (coef: number, offset = 0) => Int16Array.from({ length: 256 }, (_, i) => Math.trunc((i - offset) * coef * 64 + 0.5));
const Y_R = pilTable(0.299), Y_G = pilTable(0.587), Y_B = pilTable(0.114);
const CB_R = pilTable(-0.16874), CB_G = pilTable(-0.33126), CB_B = pilTable(0.5);
const CR_R = CB_B, CR_G = pilTable(-0.41869), CR_B = pilTable(-0.08131);
const R_CR = pilTable(1.402, 128), G_CB = pilTable(-0.34414, 128), G_CR = pilTable(-0.71414, 128), B_CB = pilTable(1.772, 128);

const clamp8 = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : v);
export const pilLuma = (r: number, g: number, b: number) => (Y_R[r]! + Y_G[g]! + Y_B[b]!) >> 6;

/** PIL's `Image.convert('YCbCr')` for one pixel. */
export function pilRgbToYCbCr(r: number, g: number, b: number): [number, number, number] {
  return [pilLuma(r, g, b), ((CB_R[r]! + CB_G[g]! + CB_B[b]!) >> 6) + 128, ((CR_R[r]! + CR_G[g]! + CR_B[b]!) >> 6) + 128];
}

/** PIL's YCbCr → RGB for one pixel. */
export function pilYCbCrToRgb(y: number, cb: number, cr: number): [number, number, number] {
  return [clamp8(y + (R_CR[cr]! >> 6)), clamp8(y + ((G_CB[cb]! + G_CR[cr]!) >> 6)), clamp8(y + (B_CB[cb]! >> 6))];
}

// The two below run per video frame: table lookups inline, no tuple per pixel.
export function pilChroma(rgb: Buffer): { cb: Uint8Array; cr: Uint8Array } {
  const cb = new Uint8Array(rgb.length / 3);
  const cr = new Uint8Array(rgb.length / 3);
  for (let i = 0, j = 0; i < cb.length; i++, j += 3) {
    const r = rgb[j]!, g = rgb[j + 1]!, b = rgb[j + 2]!;
    cb[i] = ((CB_R[r]! + CB_G[g]! + CB_B[b]!) >> 6) + 128;
    cr[i] = ((CR_R[r]! + CR_G[g]! + CR_B[b]!) >> 6) + 128;
  }
  return { cb, cr };
}

export function pilMerge(y: Uint8Array, cb: Uint8Array, cr: Uint8Array, out: Uint8Array): void {
  for (let i = 0, j = 0; i < y.length; i++, j += 3) {
    const l = y[i]!, b = cb[i]!, r = cr[i]!;
    out[j] = clamp8(l + (R_CR[r]! >> 6));
    out[j + 1] = clamp8(l + ((G_CB[b]! + G_CR[r]!) >> 6));
    out[j + 2] = clamp8(l + (B_CB[b]! >> 6));
  }
}

/** PIL's bicubic kernel (a = −0.5). */
function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** 8-bit fixed point, as PIL's Resample.c: 22 fraction bits, coefficients rounded away from zero. */
const PRECISION = 2 ** 22;

/** PIL's precompute_coeffs: per output sample, the first input sample and the integer weights. */
function pilCoefficients(inSize: number, outSize: number) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const n = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < n; x++) ww += w[x] = bicubic((x + xmin - center + 0.5) * ss);
    for (let x = 0; x < n; x++) {
      const k = ww !== 0 ? w[x]! / ww : w[x]!;
      kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * PRECISION) : Math.trunc(0.5 + k * PRECISION);
    }
    first[xx] = xmin;
    count[xx] = n;
  }
  return { ksize, first, count, kk };
}

/** PIL's `Image.resize(size, BICUBIC)` of one 8-bit plane: a horizontal pass, then a vertical one. */
export function pilResizeBicubic(src: Uint8Array, inW: number, inH: number, outW: number, outH: number): Uint8Array {
  let img = src;
  if (outW !== inW) {
    const { ksize, first, count, kk } = pilCoefficients(inW, outW);
    const out = new Uint8Array(outW * inH);
    for (let y = 0; y < inH; y++) {
      for (let xx = 0; xx < outW; xx++) {
        let acc = PRECISION / 2;
        const base = y * inW + first[xx]!;
        for (let x = 0; x < count[xx]!; x++) acc += img[base + x]! * kk[xx * ksize + x]!;
        out[y * outW + xx] = clamp8(acc >> 22);
      }
    }
    img = out;
  }
  if (outH !== inH) {
    const { ksize, first, count, kk } = pilCoefficients(inH, outH);
    const out = new Uint8Array(outW * outH);
    for (let yy = 0; yy < outH; yy++) {
      for (let xx = 0; xx < outW; xx++) {
        let acc = PRECISION / 2;
        for (let y = 0; y < count[yy]!; y++) acc += img[(first[yy]! + y) * outW + xx]! * kk[yy * ksize + y]!;
        out[yy * outW + xx] = clamp8(acc >> 22);
      }
    }
    img = out;
  }
  return img === src ? src.slice() : img;
}
