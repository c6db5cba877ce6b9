/**
 * The input of an `inference` job (a prediction underneath), validated by the API on submit and
 * again by the worker. Media inputs are resolved by the API before the job is stored: a file of
 * the tenant's (`{file}`), or an outside URL the worker fetches through the address guard
 * (`{url}`). Raw tensors (the Open Inference Protocol) travel as one JSON file.
 */
import { z } from 'zod';
import { FILE_ID_PATTERN, timeoutSecondsSchema } from '../common-schemas.js';

export const MODEL_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}\/[a-z0-9][a-z0-9._-]{0,99}$/;
export const VERSION_ID_PATTERN = /^[0-9a-f]{64}$/;

export const mediaRefSchema = z.union([
  z.strictObject({ file: z.string().regex(FILE_ID_PATTERN, { error: 'file must be a file id (file_…)' }) }),
  z.strictObject({ url: z.url({ protocol: /^https?$/, error: 'url must be an http(s) URL' }).max(4096) }),
]);
export type MediaRef = z.infer<typeof mediaRefSchema>;

export const inferenceInputSchema = z.strictObject({
  model: z.string({ error: 'model is required: "owner/name"' }).regex(MODEL_NAME_PATTERN, { error: 'model must be "owner/name"' }),
  /** Filled in at submission with the model's latest version when absent. */
  version: z.string().regex(VERSION_ID_PATTERN, { error: 'version must be a 64-character version id' }).optional(),
  /** The model's named inputs: media (image, video) as file refs, parameters as plain values. */
  inputs: z.record(z.string().max(256), z.union([mediaRefSchema, z.number(), z.boolean(), z.string().max(10_000)])).default({}),
  /** Raw tensors, as the Open Inference Protocol's `inputs` array, in a JSON file. */
  tensors: z.strictObject({ file: z.string().regex(FILE_ID_PATTERN) }).optional(),
  /** The AIGC label: always the implicit (metadata) one; `visible` adds a mark on the image or video. */
  label: z.enum(['implicit', 'visible'], { error: 'label must be "implicit" or "visible"' }).default('implicit'),
  timeout_seconds: timeoutSecondsSchema.optional(),
});
export type InferenceInput = z.infer<typeof inferenceInputSchema>;

/** Every file the input names, checked against the tenant at submission and signed for the worker. */
export function inferenceFileIds(input: InferenceInput): string[] {
  const ids = Object.values(input.inputs).flatMap((v) => (typeof v === 'object' && 'file' in v ? [v.file] : []));
  return input.tensors ? [...ids, input.tensors.file] : ids;
}
