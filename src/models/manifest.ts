/**
 * A model manifest: what the farm needs to serve an ONNX model — its name (`owner/name`), task,
 * tensors, how images become tensors and back, batching, hardware needs and licence. The same
 * schema reads the files in `models/`, `malan models add` and the operator API. Weights are not in
 * the manifest's body: they go to storage, and the version records their sha256.
 */
import { z } from 'zod';
import { TENSOR_DTYPES } from '../onnx/tensor.js';

export const MODEL_TASKS = ['image-to-image', 'image-classification', 'video-to-video', 'tensor'] as const;
export type ModelTask = (typeof MODEL_TASKS)[number];

const dim = z.union([z.number().int().positive(), z.string().min(1).max(64)]);
export const tensorSpecSchema = z.strictObject({
  name: z.string().min(1).max(256),
  dtype: z.enum(TENSOR_DTYPES),
  /** Fixed sizes as numbers, symbolic ones (a batch or free size) as names, as ONNX declares them. */
  shape: z.array(dim).max(8),
});
export type TensorSpec = z.infer<typeof tensorSpecSchema>;

/** Colour layouts a tensor can carry: `y` is the Y (luma) plane of full-range BT.601 YCbCr, as JPEG and PIL define it. */
export const PIXEL_COLORS = ['rgb', 'bgr', 'y', 'gray'] as const;
export type PixelColor = (typeof PIXEL_COLORS)[number];

export const imagePreprocessSchema = z.strictObject({
  /** Which input tensor the image feeds; default the first. */
  input: z.string().optional(),
  /** How the image meets the tensor's fixed height and width (sharp's fit); free sizes keep the image's. */
  fit: z.enum(['fill', 'cover', 'contain']).default('fill'),
  color: z.enum(PIXEL_COLORS).default('rgb'),
  layout: z.enum(['nchw', 'nhwc']).default('nchw'),
  /** value = pixel (0–255) × scale, then (value − mean) / std per channel. */
  scale: z.number().positive().default(1 / 255),
  mean: z.array(z.number()).min(1).max(3).optional(),
  std: z.array(z.number().positive()).min(1).max(3).optional(),
});
export type ImagePreprocess = z.infer<typeof imagePreprocessSchema>;

export const imagePostprocessSchema = z.strictObject({
  type: z.literal('image'),
  output: z.string().optional(),
  color: z.enum(PIXEL_COLORS).default('rgb'),
  layout: z.enum(['nchw', 'nhwc']).default('nchw'),
  /** pixel = value × scale, rounded and clamped to 0–255. For `y`, chroma comes from the input, resized. */
  scale: z.number().positive().default(255),
  format: z.enum(['png', 'jpeg', 'webp']).default('png'),
});
export type ImagePostprocess = z.infer<typeof imagePostprocessSchema>;

export const classificationPostprocessSchema = z.strictObject({
  type: z.literal('classification'),
  output: z.string().optional(),
  /** One label per class index. */
  labels: z.array(z.string()).optional(),
  top_k: z.number().int().min(1).max(100).default(5),
  /** Apply softmax to the scores first (for models that output logits). */
  softmax: z.boolean().default(false),
});

export const modelManifestSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}\/[a-z0-9][a-z0-9._-]{0,99}$/, {
    error: 'name must be "owner/name": lowercase letters, digits, ".", "_" or "-"',
  }),
  /** A label for people (e.g. "1.0"); the version id is a hash of the manifest and the weights. */
  version: z.string().max(64).optional(),
  description: z.string().max(2000).default(''),
  task: z.enum(MODEL_TASKS),
  license: z.string().min(1).max(500),
  /** Where `malan models add` reads the weights, relative to the manifest; or an uploaded file id. */
  weights: z.strictObject({ path: z.string().optional(), file: z.string().optional(), sha256: z.string().regex(/^[0-9a-f]{64}$/).optional() }).optional(),
  /** As the model declares them; read from the ONNX file when left out, checked against it when given. */
  inputs: z.array(tensorSpecSchema).min(1).max(32).optional(),
  outputs: z.array(tensorSpecSchema).min(1).max(32).optional(),
  preprocess: imagePreprocessSchema.optional(),
  postprocess: z.discriminatedUnion('type', [imagePostprocessSchema, classificationPostprocessSchema]).optional(),
  /** Dynamic batching, where the first dimension of every input and output is symbolic. */
  batch: z.strictObject({ max_size: z.number().int().min(1).max(256).default(16), max_delay_ms: z.number().min(0).max(1000).default(5) }).optional(),
  hardware: z.strictObject({ gpu: z.enum(['preferred', 'required', 'none']).default('preferred'), min_memory_mb: z.number().int().positive().optional() }).default({ gpu: 'preferred' }),
});
export type ModelManifest = z.infer<typeof modelManifestSchema>;

/** A manifest as stored with a version: its tensors filled in from the model file. */
export type ResolvedManifest = ModelManifest & { inputs: TensorSpec[]; outputs: TensorSpec[] };
