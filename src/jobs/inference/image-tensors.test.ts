import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImagePostprocess, ImagePreprocess, TensorSpec } from '../../models/manifest.js';
import type { TensorData } from '../../onnx/tensor.js';
import { JobError } from '../job-error.js';
import {
  decodeImage, encodeImage, fromFloat16Bits, imageToTensor, pilResizeBicubic, pilRgbToYCbCr, pilYCbCrToRgb,
  pixelsToTensor, tensorImageSize, tensorToPixels, toFloat16Bits, type DecodedImage,
} from './image-tensors.js';
import { IMAGES, MODELS } from '../../../test/helpers/assets.js';

const MAX = 40_000_000;
const pre = (p: Partial<ImagePreprocess>): ImagePreprocess => ({ fit: 'fill', color: 'rgb', layout: 'nchw', scale: 1, ...p });
const post = (p: Partial<ImagePostprocess>): ImagePostprocess => ({ type: 'image', color: 'rgb', layout: 'nchw', scale: 255, format: 'png', ...p });
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const meanAbsDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;

async function rejection(p: Promise<unknown>): Promise<JobError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(JobError);
  return err as JobError;
}

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'image-tensors-test-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('decodeImage', () => {
  it.each([
    ['cat.jpg', 348, 348],
    ['thompson-springs.jpg', 150, 103],
    ['nikon-d300-exif.jpg', 200, 133],
    ['denali.webp', 600, 315],
    ['balloons-landscape.avif', 1366, 911],
  ])('%s decodes to %ix%i RGB', async (name, width, height) => {
    const img = await decodeImage(join(IMAGES, name), { maxPixels: MAX });
    expect([img.width, img.height]).toEqual([width, height]);
    expect(img.pixels.length).toBe(width * height * 3);
  });

  it('reads a Buffer as well as a path', async () => {
    const img = await decodeImage(await readFile(join(IMAGES, 'cat.jpg')), { maxPixels: MAX });
    expect(img.width).toBe(348);
  });

  it('applies the EXIF orientation (6: turn 90° clockwise)', async () => {
    const source = join(IMAGES, 'nikon-d300-exif.jpg');
    const tagged = await sharp(source).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const img = await decodeImage(tagged, { maxPixels: MAX });
    expect([img.width, img.height]).toEqual([133, 200]);
    const turned = await sharp(source).rotate(90).raw().toBuffer();
    expect(meanAbsDiff(img.pixels, turned)).toBeLessThan(4);
  });

  it('drops an opaque alpha channel (beetle.png is RGBA, every pixel opaque)', async () => {
    const path = join(IMAGES, 'beetle.png');
    const img = await decodeImage(path, { maxPixels: MAX });
    expect(img.pixels.equals(await sharp(path).removeAlpha().raw().toBuffer())).toBe(true);
  });

  it('flattens transparency onto white', async () => {
    // The beetle with its left half made fully transparent and its right half opaque.
    const [width, height] = [280, 181];
    const alpha = Buffer.alloc(width * height);
    for (let i = 0; i < alpha.length; i++) alpha[i] = i % width < width / 2 ? 0 : 255;
    const rgb = await sharp(join(IMAGES, 'beetle.png')).removeAlpha().raw().toBuffer();
    const cutout = await sharp(rgb, { raw: { width, height, channels: 3 } }).joinChannel(alpha, { raw: { width, height, channels: 1 } }).png().toBuffer();
    const img = await decodeImage(cutout, { maxPixels: MAX });
    for (const i of [0, width / 2 - 1, 90 * width + 3]) expect([...img.pixels.subarray(i * 3, i * 3 + 3)]).toEqual([255, 255, 255]);
    for (const i of [width - 1, 90 * width + 200]) expect(img.pixels.subarray(i * 3, i * 3 + 3).equals(rgb.subarray(i * 3, i * 3 + 3))).toBe(true);
  });

  it('turns 16-bit gray with alpha into 8-bit RGB', async () => {
    const gray16 = await sharp(join(IMAGES, 'cat.jpg')).greyscale().ensureAlpha(0.5).toColourspace('grey16').png().toBuffer();
    expect((await sharp(gray16).metadata()).depth).toBe('ushort');
    const img = await decodeImage(gray16, { maxPixels: MAX });
    expect(img.pixels.length).toBe(348 * 348 * 3);
    expect(img.pixels[0]).toBe(img.pixels[1]);
  });

  it('refuses a text file, saying which formats it reads', async () => {
    const path = join(dir, 'notes.txt');
    await writeFile(path, 'these are not pixels\n'.repeat(20));
    const err = await rejection(decodeImage(path, { maxPixels: MAX }));
    expect(err.code).toBe('invalid_input');
    expect(err.message).toMatch(/not an image.*PNG, JPEG, WebP, AVIF, GIF, TIFF/);
  });

  it('refuses SVG: it is a program, not a picture', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    const err = await rejection(decodeImage(svg, { maxPixels: MAX }));
    expect(err.code).toBe('invalid_input');
    expect(err.message).toContain('"svg"');
  });

  it('refuses a 50000×50000 PNG from its header, without decoding it', async () => {
    // A 1×1 PNG whose IHDR is rewritten to claim 50000×50000 (7.5 GB of RGB), its CRC fixed.
    const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } }).png().toBuffer();
    png.writeUInt32BE(50_000, 16);
    png.writeUInt32BE(50_000, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
    const started = performance.now();
    const err = await rejection(decodeImage(png, { maxPixels: MAX }));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(err.code).toBe('invalid_input');
    expect(err.message).toContain('50000×50000 (2,500,000,000 pixels)');
    expect(err.message).toContain('40,000,000 pixels');
  });

  it('refuses a real image over the pixel limit', async () => {
    const err = await rejection(decodeImage(join(IMAGES, 'cat.jpg'), { maxPixels: 100_000 }));
    expect(err.message).toMatch(/348×348 .* limit of 100,000 pixels/);
  });

  it('refuses a JPEG cut in half as damaged', async () => {
    const bytes = await readFile(join(IMAGES, 'cat.jpg'));
    const err = await rejection(decodeImage(bytes.subarray(0, bytes.length >> 1), { maxPixels: MAX }));
    expect(err.code).toBe('invalid_input');
    expect(err.message).toMatch(/could not be decoded/);
  });

  it('leaves a missing file of its own as a plain error, which retries', async () => {
    const err = await decodeImage(join(dir, 'gone.png'), { maxPixels: MAX }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(JobError);
  });
});

describe('tensorImageSize', () => {
  const spec = (shape: (number | string)[]): TensorSpec => ({ name: 'x', dtype: 'float32', shape });
  const image = { width: 640, height: 426 };

  it('takes H and W from where the layout keeps them', () => {
    expect(tensorImageSize(spec([1, 3, 224, 320]), pre({ layout: 'nchw' }), image)).toEqual({ width: 320, height: 224 });
    expect(tensorImageSize(spec([1, 224, 320, 3]), pre({ layout: 'nhwc' }), image)).toEqual({ width: 320, height: 224 });
  });

  it('gives symbolic dims the image own size', () => {
    expect(tensorImageSize(spec(['N', 3, 'H', 'W']), pre({}), image)).toEqual(image);
    expect(tensorImageSize(spec(['N', 3, 224, 'W']), pre({}), image)).toEqual({ width: 640, height: 224 });
  });

  it('names the input whose shape is not an image', () => {
    expect(() => tensorImageSize(spec([3, 224, 224]), pre({}), image)).toThrow(/"x" has shape \[3, 224, 224\]/);
  });
});

describe('pixelsToTensor on a 2×2 image', () => {
  // Row by row: (10,20,30) (40,50,60) / (70,80,90) (200,210,220).
  const rgb = Buffer.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220]);

  it('rgb, nchw: one plane per channel', () => {
    const t = pixelsToTensor(rgb, 2, 2, pre({}), 'float32');
    expect(t.dims).toEqual([1, 3, 2, 2]);
    expect([...t.data]).toEqual([10, 40, 70, 200, 20, 50, 80, 210, 30, 60, 90, 220]);
  });

  it('bgr, nhwc: pixels interleaved, blue first', () => {
    const t = pixelsToTensor(rgb, 2, 2, pre({ color: 'bgr', layout: 'nhwc' }), 'float32');
    expect(t.dims).toEqual([1, 2, 2, 3]);
    expect([...t.data]).toEqual([30, 20, 10, 60, 50, 40, 90, 80, 70, 220, 210, 200]);
  });

  it('rgb with ImageNet mean and std after scale', () => {
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const t = pixelsToTensor(rgb, 2, 2, pre({ scale: 1 / 255, mean, std }), 'float32');
    const planes = [[10, 40, 70, 200], [20, 50, 80, 210], [30, 60, 90, 220]];
    const expected = planes.flatMap((p, c) => p.map((v) => (v / 255 - mean[c]!) / std[c]!));
    [...t.data].forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
  });

  it('bgr with one mean for every channel, in tensor channel order', () => {
    const t = pixelsToTensor(rgb, 2, 2, pre({ color: 'bgr', mean: [100], std: [2, 4, 8] }), 'float64');
    expect([...t.data.slice(0, 4)]).toEqual([(30 - 100) / 2, (60 - 100) / 2, (90 - 100) / 2, (220 - 100) / 2]);
    expect(t.data[8]).toBe((10 - 100) / 8);
  });

  it('y and gray: PIL luma (fixed-point 0.299R + 0.587G + 0.114B), one channel', () => {
    for (const layout of ['nchw', 'nhwc'] as const) {
      for (const color of ['y', 'gray'] as const) {
        const t = pixelsToTensor(rgb, 2, 2, pre({ color, layout }), 'float32');
        expect(t.dims).toEqual(layout === 'nchw' ? [1, 1, 2, 2] : [1, 2, 2, 1]);
        expect([...t.data]).toEqual([18, 48, 78, 208]); // what PIL's convert('YCbCr') gives
      }
    }
  });

  it('uint8 takes the pixels as they are, whatever the scale', () => {
    const t = pixelsToTensor(rgb, 2, 2, pre({ scale: 1 / 255, mean: [0.5] }), 'uint8');
    expect(t.data).toBeInstanceOf(Uint8Array);
    expect([...t.data]).toEqual([10, 40, 70, 200, 20, 50, 80, 210, 30, 60, 90, 220]);
  });

  it('float16 holds the rounded bits', () => {
    const t = pixelsToTensor(rgb, 2, 2, pre({ scale: 1 / 255 }), 'float16');
    expect(t.data).toBeInstanceOf(Uint16Array);
    expect(t.data[0]).toBe(toFloat16Bits(10 / 255));
    [...t.data].forEach((bits, i) => expect(fromFloat16Bits(Number(bits))).toBeCloseTo([10, 40, 70, 200, 20, 50, 80, 210, 30, 60, 90, 220][i]! / 255, 3));
  });

  it('refuses a mean that fits neither one value nor one per channel, and dtypes that are not pixels', () => {
    expect(() => pixelsToTensor(rgb, 2, 2, pre({ mean: [1, 2] }), 'float32')).toThrow(/mean has 2 values for a 3-channel tensor/);
    expect(() => pixelsToTensor(rgb, 2, 2, pre({}), 'int64')).toThrow(JobError);
  });
});

describe('PIL parity', () => {
  // Expected values from PIL 9.4 (Debian bookworm): Image.convert('YCbCr'), Image.merge('YCbCr').convert('RGB') and
  // Image.resize(size, Image.BICUBIC) on the same bytes.
  const lcg = (n: number, seed: number) => {
    const out = new Uint8Array(n);
    for (let i = 0, x = seed; i < n; i++) out[i] = ((x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff) >> 16) & 0xff;
    return out;
  };

  it.each([
    [[0, 0, 0], [0, 128, 128]], [[255, 255, 255], [255, 128, 128]], [[255, 0, 0], [76, 84, 255]],
    [[0, 255, 0], [149, 43, 21]], [[0, 0, 255], [29, 255, 107]], [[12, 200, 77], [129, 98, 44]],
  ])('RGB %j → YCbCr %j', (rgb, ycc) => {
    expect(pilRgbToYCbCr(rgb[0]!, rgb[1]!, rgb[2]!)).toEqual(ycc);
  });

  it.each([
    [[0, 0, 0], [0, 135, 0]], [[255, 255, 255], [255, 120, 255]], [[128, 0, 255], [255, 81, 0]],
    [[16, 128, 128], [16, 16, 16]], [[200, 90, 180], [255, 175, 132]],
  ])('YCbCr %j → RGB %j', (ycc, rgb) => {
    expect(pilYCbCrToRgb(ycc[0]!, ycc[1]!, ycc[2]!)).toEqual(rgb);
  });

  it('the generated tables match entries of PIL source, negative ones included', () => {
    // ConvertYCbCr.c: Cb_R[4] = -42 (not round(-43.2)), Cr_B[1] = -4, R_Cr[0] = -11484.
    expect(pilRgbToYCbCr(4, 0, 0)[1]).toBe((-42 >> 6) + 128);
    expect(pilYCbCrToRgb(128, 128, 0)[0]).toBe(Math.max(0, 128 + (-11484 >> 6)));
  });

  it.each([
    [37, 29, 13, 11, 1, '581f78cf3760b92b0acf47a61ef3aba05c25030ac5b2fa84a192bb7f81640ad0'],
    [5, 4, 16, 13, 2, 'ca1620b8aabf9ed4617a2f7d959b6a9a3a4945e636666bab5ead137fa54a6ce6'],
    [7, 6, 21, 18, 3, 'cf3c6cd06c93a2949f8109a674c041446e007183472476c578125d96bea0c4ce'],
  ])('bicubic %ix%i → %ix%i is PIL byte for byte', (inW, inH, outW, outH, seed, hash) => {
    expect(sha256(pilResizeBicubic(lcg(inW * inH, seed), inW, inH, outW, outH))).toBe(hash);
  });

  it("a 'y' output merges with the input's chroma exactly as PIL does", () => {
    const chroma: DecodedImage = { pixels: Buffer.from(lcg(7 * 6 * 3, 4)), width: 7, height: 6 };
    const y = lcg(21 * 18, 5);
    const tensor: TensorData = { dtype: 'float32', dims: [1, 1, 18, 21], data: Float32Array.from(y, (v) => v / 255) };
    const out = tensorToPixels(tensor, post({ color: 'y' }), chroma);
    expect([out.width, out.height]).toEqual([21, 18]);
    expect([...out.pixels.subarray(0, 9)]).toEqual([130, 230, 255, 0, 12, 198, 76, 110, 255]);
    expect(sha256(out.pixels)).toBe('8ff5d4ecaba5ad3cd7e8137dae54259f98f139bc7f9c3716efddbafdb1234207');
  });
});

describe('tensorToPixels', () => {
  it('rounds value × scale and clamps to 0–255 (NaN is 0)', () => {
    const data = Float32Array.from([-0.5, 0.5, 2, NaN, 0.2, 1, 0, 0, 0]);
    const out = tensorToPixels({ dtype: 'float32', dims: [1, 3, 1, 3], data }, post({}));
    expect([...out.pixels]).toEqual([0, 0, 0, 128, 51, 0, 255, 255, 0]);
  });

  it('reads nhwc bgr, the first image of a batch only', () => {
    const data = Float32Array.from([3, 2, 1, 6, 5, 4, 9, 9, 9, 9, 9, 9]);
    const out = tensorToPixels({ dtype: 'float32', dims: [2, 1, 2, 3], data }, post({ color: 'bgr', layout: 'nhwc', scale: 1 }));
    expect([out.width, out.height]).toEqual([2, 1]);
    expect([...out.pixels]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('replicates gray to RGB and reads float16 and uint8', () => {
    const half = Uint16Array.from([0, 0.5, 1].map(toFloat16Bits));
    expect([...tensorToPixels({ dtype: 'float16', dims: [1, 1, 1, 3], data: half }, post({ color: 'gray' })).pixels]).toEqual([0, 0, 0, 128, 128, 128, 255, 255, 255]);
    const bytes = Uint8Array.from([7, 8, 9]);
    expect([...tensorToPixels({ dtype: 'uint8', dims: [1, 3, 1, 1], data: bytes }, post({})).pixels]).toEqual([7, 8, 9]);
  });

  it('refuses a channel count the color does not have, and a y output with no chroma', () => {
    const t: TensorData = { dtype: 'float32', dims: [1, 1, 2, 2], data: new Float32Array(4) };
    expect(() => tensorToPixels(t, post({ color: 'rgb' }))).toThrow(/1 channel\(s\) but .* "rgb" needs 3/);
    expect(() => tensorToPixels(t, post({ color: 'y' }))).toThrow(/chroma/);
  });
});

describe('imageToTensor', () => {
  const input = (shape: (number | string)[], dtype: TensorSpec['dtype'] = 'float32'): TensorSpec => ({ name: 'input', dtype, shape });
  let leopard: DecodedImage;
  beforeAll(async () => { leopard = await decodeImage(join(IMAGES, 'leopard.jpg'), { maxPixels: MAX }); });

  const row = (img: DecodedImage, y: number) => img.pixels.subarray(y * img.width * 3, (y + 1) * img.width * 3);

  it('contain pads a wide image with black bars; cover and fill do not', async () => {
    const spec = input([1, 3, 224, 224]);
    const contain = await imageToTensor(leopard, pre({ fit: 'contain' }), spec);
    expect([contain.resized.width, contain.resized.height]).toEqual([224, 224]);
    expect(row(contain.resized, 0).every((v) => v === 0)).toBe(true);
    expect(row(contain.resized, 112).some((v) => v > 0)).toBe(true);
    for (const fit of ['cover', 'fill'] as const) {
      const { resized, tensor } = await imageToTensor(leopard, pre({ fit }), spec);
      expect(row(resized, 0).every((v) => v === 0)).toBe(false);
      expect(tensor.dims).toEqual([1, 3, 224, 224]);
    }
  });

  it('keeps the image size for symbolic dims, and makes the tensor the input asks for', async () => {
    const { tensor, resized } = await imageToTensor(leopard, pre({ layout: 'nhwc' }), input(['N', 'H', 'W', 3], 'float16'));
    expect(resized).toBe(leopard);
    expect(tensor.dims).toEqual([1, 416, 1244, 3]);
    expect(tensor.dtype).toBe('float16');
  });

  it('refuses a manifest whose color does not fit the input channels', async () => {
    await expect(imageToTensor(leopard, pre({ color: 'y' }), input([1, 3, 224, 224]))).rejects.toThrow(/3 channel\(s\) .* "y" makes 1/);
  });

  // PIL's own RGB → YCbCr → RGB is off by up to 3 on 15% of all colours (its fixed-point tables
  // truncate both ways), so a bit-exact PIL merge cannot promise ±2 everywhere.
  it("a 'y' round trip gives the resized input back: ±2 for most values, never past PIL's ±3", async () => {
    const img = await decodeImage(join(IMAGES, 'super-res-input.jpg'), { maxPixels: MAX });
    const { tensor, resized } = await imageToTensor(img, pre({ color: 'y', scale: 1 / 255 }), input(['batch_size', 1, 224, 224]));
    const back = tensorToPixels(tensor, post({ color: 'y' }), resized);
    expect([back.width, back.height]).toEqual([224, 224]);
    const errors = back.pixels.map((v, i) => Math.abs(v - resized.pixels[i]!));
    expect(errors.reduce((m, e) => Math.max(m, e), 0)).toBeLessThanOrEqual(3);
    expect(errors.filter((e) => e <= 2).length / errors.length).toBeGreaterThan(0.9); // 94% on this image
    expect(errors.reduce((a, e) => a + e, 0) / errors.length).toBeLessThan(1.5); // 1.27
  });
});

describe('super-resolution-10 on ONNX Runtime', () => {
  it('turns the tutorial puppy into a 672×672 image that still looks like it', async () => {
    const img = await decodeImage(join(IMAGES, 'super-res-input.jpg'), { maxPixels: MAX });
    const spec: TensorSpec = { name: 'input', dtype: 'float32', shape: ['batch_size', 1, 224, 224] };
    const { tensor, resized } = await imageToTensor(img, pre({ color: 'y', scale: 1 / 255 }), spec);
    const session = await ort.InferenceSession.create(join(MODELS, 'super-resolution-10.onnx'));
    const { output } = await session.run({ input: new ort.Tensor('float32', tensor.data as Float32Array, tensor.dims) });
    expect(output!.dims).toEqual([1, 1, 672, 672]);
    const big = tensorToPixels({ dtype: 'float32', dims: [...output!.dims], data: output!.data as Float32Array }, post({ color: 'y' }), resized);
    expect([big.width, big.height]).toEqual([672, 672]);
    const small = await sharp(big.pixels, { raw: { width: 672, height: 672, channels: 3 } }).resize(224, 224).raw().toBuffer();
    expect(meanAbsDiff(small, resized.pixels)).toBeLessThan(3); // 1.35 with sharp 0.35 and ONNX Runtime 1.30 on CPU
    const png = await encodeImage(big, 'png', { producer: 'malan-test', produceId: 'sr-1', model: 'onnx/super-resolution-10', visible: false });
    expect(await sharp(png.bytes).metadata()).toMatchObject({ width: 672, height: 672, format: 'png' });
  });
});

describe('encodeImage', () => {
  const label = { producer: 'malan-test', produceId: 'out-1', model: 'test/model', visible: false };

  it('writes PNG losslessly', async () => {
    const img = await decodeImage(join(IMAGES, 'thompson-springs.jpg'), { maxPixels: MAX });
    const { bytes, contentType } = await encodeImage(img, 'png', label);
    expect(contentType).toBe('image/png');
    expect((await decodeImage(bytes, { maxPixels: MAX })).pixels.equals(img.pixels)).toBe(true);
  });

  it.each([['jpeg', 'image/jpeg'], ['webp', 'image/webp']] as const)('writes %s close to the original', async (format, type) => {
    const img = await decodeImage(join(IMAGES, 'thompson-springs.jpg'), { maxPixels: MAX });
    const { bytes, contentType } = await encodeImage(img, format, label);
    expect(contentType).toBe(type);
    expect((await sharp(bytes).metadata()).format).toBe(format);
    expect(meanAbsDiff((await decodeImage(bytes, { maxPixels: MAX })).pixels, img.pixels)).toBeLessThan(4);
  });
});
