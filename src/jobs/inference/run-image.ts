/**
 * Image tasks: decode (EXIF-upright, size-limited), make the input tensor, run the model, then
 * either make the output image (labelled, implicitly always and visibly on request) or rank the
 * classes. Model errors on the caller's input (wrong size, wrong type) fail the job as bad input.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobError } from '../job-error.js';
import type { ResolvedManifest, TensorSpec } from '../../models/manifest.js';
import type { TensorData } from '../../onnx/tensor.js';
import { decodeImage, encodeImage, imageToTensor, tensorToPixels, fromFloat16Bits } from './image-tensors.js';
import { fetchMedia, type ModelStep, type StepResult } from './model-step.js';
import { runModel } from './run-model.js';

export function inputSpec(m: ResolvedManifest, name: string | undefined): TensorSpec {
  const spec = name ? m.inputs.find((i) => i.name === name) : m.inputs[0];
  if (!spec) throw new JobError('internal', `the manifest's preprocess names an input "${name}" the model does not have`);
  return spec;
}

export function outputOf(m: ResolvedManifest, outputs: Record<string, TensorData>, name: string | undefined): TensorData {
  const key = name ?? m.outputs[0]!.name;
  const t = outputs[key];
  if (!t) throw new JobError('internal', `the model gave no output "${key}"`);
  return t;
}

async function imageInput(step: ModelStep) {
  const { rt, door } = step;
  const manifest = door.model.manifest;
  const pre = manifest.preprocess ?? { fit: 'fill' as const, color: 'rgb' as const, layout: 'nchw' as const, scale: 1 / 255 };
  const file = await fetchMedia(rt, door, 'image');
  const image = await decodeImage(file, { maxPixels: door.limits.maxImagePixels });
  rt.log('info', `image ${image.width}×${image.height}`);
  const spec = inputSpec(manifest, pre.input);
  const { tensor, resized } = await imageToTensor(image, pre, spec);
  rt.progress(0.2);
  const result = await runModel(step, { [spec.name]: tensor });
  rt.progress(0.8);
  return { image, resized, result };
}

export async function runImageToImage(step: ModelStep): Promise<StepResult> {
  const { rt, door, label } = step;
  const manifest = door.model.manifest;
  const post = manifest.postprocess?.type === 'image' ? manifest.postprocess : { type: 'image' as const, color: 'rgb' as const, layout: 'nchw' as const, scale: 255, format: 'png' as const };
  const { resized, result } = await imageInput(step);
  const pixels = tensorToPixels(outputOf(manifest, result.outputs, post.output), post, resized);
  const encoded = await encodeImage(pixels, post.format, label);
  const name = `output.${post.format === 'jpeg' ? 'jpg' : post.format}`;
  const dest = path.join(rt.workDir, name);
  await writeFile(dest, encoded.bytes);
  const file = await rt.transfer.upload(name, dest, encoded.contentType, rt.signal);
  rt.log('info', `output ${pixels.width}×${pixels.height} ${post.format}, labelled as AI-generated${label.visible ? ' (visible mark too)' : ''}`);
  return { ...result.step, outputs: [{ file, role: 'output' }], output: { $file: file }, extra: { output: { width: pixels.width, height: pixels.height, format: post.format } } };
}

export async function runClassification(step: ModelStep): Promise<StepResult> {
  const { rt, door } = step;
  const manifest = door.model.manifest;
  const post = manifest.postprocess?.type === 'classification' ? manifest.postprocess : { type: 'classification' as const, top_k: 5, softmax: false, labels: undefined, output: undefined };
  const { result } = await imageInput(step);
  const scores = numbersOf(outputOf(manifest, result.outputs, post.output));
  const probabilities = post.softmax ? softmax(scores) : scores;
  const k = typeof rt.input.inputs.top_k === 'number' ? rt.input.inputs.top_k : post.top_k;
  const ranked = probabilities
    .map((score, index) => ({ label: post.labels?.[index] ?? String(index), index, score: Math.round(score * 1e6) / 1e6 }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
  rt.log('info', `top class: ${ranked[0]?.label} (${ranked[0]?.score})`);
  return { ...result.step, outputs: [], output: ranked };
}

export function numbersOf(t: TensorData): number[] {
  if (t.dtype === 'float16') return Array.from(t.data as Uint16Array, (b) => fromFloat16Bits(b));
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

function softmax(xs: number[]): number[] {
  const max = Math.max(...xs);
  const exps = xs.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}
