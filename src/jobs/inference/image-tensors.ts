/**
 * Images to tensors and back, for the `inference` job kind: decode what users send, fit it to the
 * model's input, lay the pixels out as the manifest's preprocess says; and the inverse for image
 * outputs, encoded with the AIGC label.
 *
 * `y` models (the super-resolution family) come from PyTorch tutorials that split the image with
 * PIL, so the luma, the chroma, the chroma's bicubic upscale and the merge back to RGB follow PIL
 * to the bit (its fixed-point tables and resampler, under "PIL parity" below): the farm's output
 * is the tutorial's output. `gray` uses the same integer luma.
 */
import sharp from 'sharp';
import type { ImagePostprocess, ImagePreprocess, TensorSpec } from '../../models/manifest.js';
import type { TensorData } from '../../onnx/tensor.js';
import { JobError } from '../job-error.js';
import { aigcXmp, visibleMarkSvg, type AigcLabel } from './aigc-label.js';
import { fromFloat16Bits, toFloat16Bits } from './float16.js';
import { pilChroma, pilLuma, pilMerge, pilResizeBicubic } from './pil-parity.js';

export { pilResizeBicubic, pilRgbToYCbCr, pilYCbCrToRgb } from './pil-parity.js';

export { fromFloat16Bits, toFloat16Bits };

/** 8-bit RGB, interleaved, 3 channels, EXIF orientation applied. */
export interface DecodedImage {
  pixels: Buffer;
  width: number;
  height: number;
}

/** What sharp reports for the formats users may send (AVIF is `heif`). SVG and PDF are refused: they are programs, not pictures. */
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'heif', 'gif', 'tiff']);
const NOT_AN_IMAGE = 'the input is not an image sharp can read (PNG, JPEG, WebP, AVIF, GIF, TIFF): send the image in one of those formats';

/**
 * Reads the header first (with sharp's own limit off, so the refusal can say the size): an image
 * claiming more than `maxPixels` is refused before a byte of it is decoded. Transparency is
 * flattened onto white: models expect opaque RGB, and a cut-out subject reads as "on a white
 * page" where black would make a silhouette. Animations give their first frame.
 */
export async function decodeImage(input: Buffer | string, opts: { maxPixels: number }): Promise<DecodedImage> {
  const meta = await sharp(input, { limitInputPixels: false }).metadata().catch((err: unknown) => { throw decodeFailure(err); });
  if (!meta.format || !ACCEPTED_FORMATS.has(meta.format) || !meta.width || !meta.height) {
    throw new JobError('invalid_input', `${NOT_AN_IMAGE} (this one is ${meta.format ? `"${meta.format}"` : 'of no known format'})`);
  }
  const declared = meta.width * meta.height;
  if (declared > opts.maxPixels) {
    throw new JobError('invalid_input', `the image is ${meta.width}×${meta.height} (${declared.toLocaleString('en')} pixels), over this farm's limit of ${opts.maxPixels.toLocaleString('en')} pixels: scale it down and send it again`);
  }
  const { data, info } = await sharp(input, { limitInputPixels: opts.maxPixels, failOn: 'error' })
    .autoOrient()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((err: unknown) => { throw decodeFailure(err); });
  if (info.channels !== 3) throw new Error(`sharp decoded ${info.channels} channels where 3 were asked for`);
  return { pixels: data, width: info.width, height: info.height };
}

function decodeFailure(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (/unsupported image format/i.test(message)) return new JobError('invalid_input', NOT_AN_IMAGE);
  // The worker's own file vanished: that is not the user's fault, and a retry may find it.
  if (/Input file is missing/i.test(message)) return err instanceof Error ? err : new Error(message);
  return new JobError('invalid_input', `the image could not be decoded (${message.trim()}): it may be damaged or cut short; export it again and resend it`);
}

const channelsOf = (color: ImagePreprocess['color']) => (color === 'rgb' || color === 'bgr' ? 3 : 1);

/** Where a layout keeps channels, height and width in a rank-4 shape. */
const AXES = { nchw: { c: 1, h: 2, w: 3 }, nhwc: { c: 3, h: 1, w: 2 } } as const;

/** The tensor's height and width: fixed dims as declared, symbolic ones take the image's own size. */
export function tensorImageSize(input: TensorSpec, pre: ImagePreprocess, image: { width: number; height: number }): { width: number; height: number } {
  if (input.shape.length !== 4) {
    throw new JobError('internal', `the model input "${input.name}" has shape [${input.shape.join(', ')}]; an image input needs 4 dimensions (${pre.layout === 'nchw' ? 'batch, channels, height, width' : 'batch, height, width, channels'}): fix the model's manifest`);
  }
  const axes = AXES[pre.layout];
  const h = input.shape[axes.h]!;
  const w = input.shape[axes.w]!;
  return { width: typeof w === 'number' ? w : image.width, height: typeof h === 'number' ? h : image.height };
}

/** Fits the image to the input (contain pads with black) and lays it out; batch of one. */
export async function imageToTensor(image: DecodedImage, pre: ImagePreprocess, input: TensorSpec): Promise<{ tensor: TensorData; resized: DecodedImage }> {
  const size = tensorImageSize(input, pre, image);
  const channels = input.shape[AXES[pre.layout].c];
  if (typeof channels === 'number' && channels !== channelsOf(pre.color)) {
    throw new JobError('internal', `the model input "${input.name}" has ${channels} channel(s) but the manifest's preprocess color "${pre.color}" makes ${channelsOf(pre.color)}: fix the manifest`);
  }
  let resized = image;
  if (size.width !== image.width || size.height !== image.height) {
    const { data, info } = await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize({ width: size.width, height: size.height, fit: pre.fit, background: { r: 0, g: 0, b: 0 } })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    resized = { pixels: data, width: info.width, height: info.height };
  }
  return { tensor: pixelsToTensor(resized.pixels, resized.width, resized.height, pre, input.dtype), resized };
}

type PixelDtype = 'float32' | 'float64' | 'float16' | 'uint8';
const PIXEL_DTYPES: readonly string[] = ['float32', 'float64', 'float16', 'uint8'] satisfies PixelDtype[];
function pixelDtype(dtype: TensorData['dtype'], what: string): PixelDtype {
  if (!PIXEL_DTYPES.includes(dtype)) throw new JobError('internal', `${what} is ${dtype}; images map only to float32, float16, float64 or uint8 tensors: fix the manifest`);
  return dtype as PixelDtype;
}
const newArray = (dtype: PixelDtype, n: number) =>
  dtype === 'float32' ? new Float32Array(n) : dtype === 'float64' ? new Float64Array(n) : dtype === 'float16' ? new Uint16Array(n) : new Uint8Array(n);

/**
 * One frame's pixels as a [1,C,H,W] or [1,H,W,C] tensor. Synchronous and table-driven (256
 * entries per channel), since video runs it on every frame. `mean` and `std` are in the tensor's
 * channel order (for `bgr`, the first is blue's); one value applies to every channel. uint8
 * tensors take the pixels as they are.
 */
export function pixelsToTensor(rgb: Buffer, width: number, height: number, pre: ImagePreprocess, dtype: TensorData['dtype']): TensorData {
  const type = pixelDtype(dtype, 'the model input');
  const channels = channelsOf(pre.color);
  const plane = width * height;
  if (rgb.length !== plane * 3) throw new Error(`pixelsToTensor: ${rgb.length} bytes is not ${width}×${height} RGB`);
  const data = newArray(type, plane * channels);
  const [channelStride, pixelStride] = pre.layout === 'nchw' ? [plane, 1] : [1, channels];
  for (let c = 0; c < channels; c++) {
    const lut = valueTable(type, pre, c, channels);
    let o = c * channelStride;
    if (channels === 3) {
      const src = pre.color === 'bgr' ? 2 - c : c;
      for (let i = src; i < rgb.length; i += 3, o += pixelStride) data[o] = lut[rgb[i]!]!;
    } else {
      for (let i = 0; i < rgb.length; i += 3, o += pixelStride) data[o] = lut[pilLuma(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!)]!;
    }
  }
  return { dtype: type, dims: pre.layout === 'nchw' ? [1, channels, height, width] : [1, height, width, channels], data };
}

function valueTable(dtype: PixelDtype, pre: ImagePreprocess, c: number, channels: number) {
  const lut = newArray(dtype, 256);
  const mean = pre.mean ? perChannel(pre.mean, c, channels, 'mean') : 0;
  const std = pre.std ? perChannel(pre.std, c, channels, 'std') : 1;
  for (let p = 0; p < 256; p++) {
    const value = (p * pre.scale - mean) / std;
    lut[p] = dtype === 'uint8' ? p : dtype === 'float16' ? toFloat16Bits(value) : value;
  }
  return lut;
}

function perChannel(values: number[], c: number, channels: number, name: string): number {
  if (values.length === 1) return values[0]!;
  if (values.length !== channels) throw new JobError('internal', `the manifest's preprocess ${name} has ${values.length} values for a ${channels}-channel tensor: give one value, or one per channel`);
  return values[c]!;
}

/**
 * The first image of an output batch as RGB: pixel = round(value × scale), clamped to 0–255
 * (uint8 tensors are taken as they are). Gray is replicated to RGB; `y` is merged with the
 * chroma of `chroma` — the resized input — upscaled with PIL's bicubic.
 */
export function tensorToPixels(tensor: TensorData, post: ImagePostprocess, chroma?: DecodedImage): DecodedImage {
  const type = pixelDtype(tensor.dtype, 'the model output');
  const channels = channelsOf(post.color);
  if (tensor.dims.length !== 4) throw new JobError('internal', `the model output has shape [${tensor.dims.join(', ')}]; an image output needs 4 dimensions (${post.layout}): fix the manifest`);
  const axes = AXES[post.layout];
  const [c, height, width] = [tensor.dims[axes.c]!, tensor.dims[axes.h]!, tensor.dims[axes.w]!];
  if (c !== channels) throw new JobError('internal', `the model output has ${c} channel(s) but the manifest's postprocess color "${post.color}" needs ${channels}: fix the manifest`);
  const plane = width * height;
  if (tensor.data.length < plane * channels) throw new Error(`tensorToPixels: ${tensor.data.length} values cannot hold [${tensor.dims.join(', ')}]`);

  const data = tensor.data as Float32Array | Float64Array | Uint16Array | Uint8Array;
  const half = type === 'float16' ? float16Table() : null;
  const scale = type === 'uint8' ? 1 : post.scale;
  const [channelStride, pixelStride] = post.layout === 'nchw' ? [plane, 1] : [1, channels];
  const quantize = (ch: number, out: Uint8Array, at: number, step: number) =>
    quantizePlane(data, half, scale, ch * channelStride, pixelStride, plane, out, at, step);

  const rgb = new Uint8Array(plane * 3); // filled as a plain Uint8Array: writes to a Buffer run slower
  if (channels === 3) {
    for (let ch = 0; ch < 3; ch++) quantize(ch, rgb, post.color === 'bgr' ? 2 - ch : ch, 3);
  } else if (post.color === 'gray') {
    for (let ch = 0; ch < 3; ch++) quantize(0, rgb, ch, 3);
  } else {
    if (!chroma) throw new JobError('internal', "a 'y' output needs the resized input for its chroma, and none was given");
    const y = new Uint8Array(plane);
    quantize(0, y, 0, 1);
    const { cb, cr } = pilChroma(chroma.pixels);
    const up = (p: Uint8Array) => pilResizeBicubic(p, chroma.width, chroma.height, width, height);
    pilMerge(y, up(cb), up(cr), rgb);
  }
  return { pixels: Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), width, height };
}

/**
 * `count` values from `src` (every `stride`, from `start`) × scale into bytes of `out` (every
 * `step`, from `at`): rounded half up, clamped, NaN to 0. One loop per source kind keeps V8's
 * loop monomorphic; this runs on every pixel of every video frame.
 */
function quantizePlane(src: Float32Array | Float64Array | Uint16Array | Uint8Array, half: Float32Array | null, scale: number, start: number, stride: number, count: number, out: Uint8Array, at: number, step: number): void {
  if (half) {
    for (let i = 0, o = start, d = at; i < count; i++, o += stride, d += step) {
      const v = half[src[o]!]! * scale;
      out[d] = v >= 255 ? 255 : v > 0 ? (v + 0.5) | 0 : 0;
    }
  } else {
    for (let i = 0, o = start, d = at; i < count; i++, o += stride, d += step) {
      const v = src[o]! * scale;
      out[d] = v >= 255 ? 255 : v > 0 ? (v + 0.5) | 0 : 0;
    }
  }
}

const CONTENT_TYPES = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' } as const;

/** Encodes with the implicit AIGC label (XMP) always, and the visible mark when the label asks. PNG is lossless. */
export async function encodeImage(img: DecodedImage, format: 'png' | 'jpeg' | 'webp', label: AigcLabel): Promise<{ bytes: Buffer; contentType: string }> {
  let pipeline = sharp(img.pixels, { raw: { width: img.width, height: img.height, channels: 3 } });
  if (label.visible) pipeline = pipeline.composite([{ input: visibleMarkSvg(img.width, img.height), left: 0, top: 0 }]);
  pipeline = pipeline.withXmp(aigcXmp(label));
  if (format === 'png') pipeline = pipeline.png();
  else if (format === 'jpeg') pipeline = pipeline.jpeg({ quality: 92 });
  else pipeline = pipeline.webp({ quality: 92 });
  return { bytes: await pipeline.toBuffer(), contentType: CONTENT_TYPES[format] };
}

/** float16 bits → value, for reading every element of a float16 output. */
let halfTable: Float32Array | null = null;
const float16Table = () => (halfTable ??= Float32Array.from({ length: 65536 }, (_, h) => fromFloat16Bits(h)));
