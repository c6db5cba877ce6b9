/**
 * An inference job's run on a real ONNX door (sessions in their thread) and real models. The door
 * is told a CUDA provider failed, as it would be on a GPU host without CUDA's libraries: the job
 * must say so and count it, and the CPU must do the work. The transfer door is a strict local fake.
 */
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { IMAGES, MODELS } from '../../../test/helpers/assets.js';
import type { WorkerCapabilities } from '../../capabilities/worker-capabilities.js';
import { probeMedia, runFfmpeg } from '../../media/ffmpeg.js';
import { modelManifestSchema, type ResolvedManifest } from '../../models/manifest.js';
import { createOnnxDoor } from '../../onnx/onnx-door.js';
import type { JobRuntime, TransferDoor } from '../job-runtime.js';
import { runInference } from './run.js';
import type { InferenceInput } from './spec.js';

const CAPS: WorkerCapabilities = { hostname: 'test', cpuCount: 2, gpus: [], ffmpeg: null, videoAcceleration: null, onnxRuntime: { version: '1.30.0', providers: ['cpu'] }, renderers: [], notes: [] };
const IMAGE = 'file_0000000000000000000000000a';
const onnx = createOnnxDoor({ providers: ['cpu'], fallbackReasons: ['cuda: libonnxruntime_providers_cuda.so not found'], memoryBudgetBytes: 256 * 1024 * 1024 });
afterAll(() => onnx.close());

const superResolution: ResolvedManifest = {
  ...modelManifestSchema.parse(JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../models/malan/super-resolution.json'), 'utf8'))),
  inputs: [{ name: 'input', dtype: 'float32', shape: ['batch_size', 1, 224, 224] }],
  outputs: [{ name: 'output', dtype: 'float32', shape: ['batch_size', 1, 672, 672] }],
};

function runtime(source: string, label: 'implicit' | 'visible' = 'implicit') {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'malan-infer-'));
  const uploads: Array<{ name: string; bytes: Buffer; type: string }> = [];
  const logs: Array<[string, string]> = [];
  const transfer: TransferDoor = {
    async fetchInput(fileId, dest) {
      if (fileId !== IMAGE) throw new Error(`unexpected input ${fileId}`);
      copyFileSync(source, dest);
      return { bytes: statSync(dest).size, via: 'local' };
    },
    async upload(name, file, type) {
      uploads.push({ name, bytes: readFileSync(file), type });
      return 'file_00000000000000000000000out';
    },
    share: async () => {
      throw new Error('inference shares nothing');
    },
    fetchUrl: async () => {
      throw new Error('inference fetches no URL');
    },
    discard: async () => {
      throw new Error('nothing to discard');
    },
  };
  const rt: JobRuntime<InferenceInput> = {
    jobId: 'job_00000000000000000000000001', attempt: 1, caps: CAPS, workDir, signal: new AbortController().signal, killGraceMs: 1000,
    input: { model: 'malan/super-resolution', version: 'a'.repeat(64), inputs: { image: { file: IMAGE } }, label },
    transfer, media: { runFfmpeg, probeMedia }, flow: null,
    log: (level, msg) => logs.push([level, msg]),
    progress: () => undefined,
    inference: {
      model: { version: 'a'.repeat(64), manifest: superResolution, weights: { url: 'http://farm.test/weights', sha256: 'b'.repeat(64), size: 0 } },
      onnx,
      weightsPath: async () => path.join(MODELS, 'super-resolution-10.onnx'),
      fetchOutside: async () => {
        throw new Error('no outside fetches here');
      },
      limits: { maxImagePixels: 10_000_000, maxVideoFrames: 100, maxInputBytes: 10_000_000 },
    },
  };
  return { rt, uploads, logs };
}

describe('runInference', () => {
  it('runs the model on the CPU after a GPU provider failed, says so, counts it, and labels the output', async () => {
    const { rt, uploads, logs } = runtime(path.join(IMAGES, 'super-res-input.jpg'));
    const result = await runInference(rt);
    expect(result.execution).toMatchObject({ path: 'cpu', provider: 'cpu', fallbacks: [{ path: 'onnx-cuda', reason: 'libonnxruntime_providers_cuda.so not found' }], batch_size: 1 });
    expect(logs).toContainEqual(['warn', 'ONNX Runtime: cuda: libonnxruntime_providers_cuda.so not found']);
    expect(logs).toContainEqual(['info', 'ONNX Runtime runs on CPU']);
    expect(result.output).toEqual({ $file: 'file_00000000000000000000000out' });
    expect(result.usage).toMatchObject({ gpuSeconds: 0, gpuModel: 'cpu' });
    expect(result.usage.cpuSeconds).toBeGreaterThan(0);
    const [out] = uploads;
    expect([out!.name, out!.type]).toEqual(['output.png', 'image/png']);
    const meta = await sharp(out!.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([672, 672]);
    expect(meta.xmp!.toString()).toContain('job_00000000000000000000000001');
  });

  it('fails bad input for good, with the reason: a file that is not an image', async () => {
    const notImage = path.join(mkdtempSync(path.join(os.tmpdir(), 'malan-infer-')), 'words.png');
    writeFileSync(notImage, 'words, not pixels\n'.repeat(20));
    const { rt, uploads } = runtime(notImage);
    await expect(runInference(rt)).rejects.toMatchObject({ code: 'invalid_input', retryable: false, message: expect.stringMatching(/not an image/) });
    expect(uploads).toEqual([]);
  });
});
