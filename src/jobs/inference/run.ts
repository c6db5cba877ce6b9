/**
 * Runs an `inference` job on a worker: the model's weights from the cache, the input fetched, the
 * task's steps (image, classification, video, raw tensors), outputs labelled as AI-generated, and
 * an account of what ran where (execution provider, fallbacks, batch size, time in the session).
 */
import { JobError } from '../job-error.js';
import type { JobResult, JobRuntime } from '../job-runtime.js';
import type { AigcLabel } from './aigc-label.js';
import type { InferenceInput } from './spec.js';
import { runClassification, runImageToImage } from './run-image.js';
import { runTensors } from './run-tensors.js';
import { runVideoToVideo } from './run-video.js';
import type { ModelHandle } from './model-step.js';

export async function runInference(rt: JobRuntime<InferenceInput>): Promise<JobResult> {
  const door = rt.inference;
  if (!door) throw new JobError('internal', 'the job reached a worker without its model (re-submit it)', true);
  const { manifest } = door.model;
  rt.log('info', `model ${manifest.name} (version ${door.model.version.slice(0, 12)}), task ${manifest.task}`);
  const provider = door.onnx.providers[0] ?? 'cpu';
  for (const reason of door.onnx.fallbackReasons) rt.log('warn', `ONNX Runtime: ${reason}`);
  rt.log('info', `ONNX Runtime runs on ${provider.toUpperCase()}`);
  const handle: ModelHandle = {
    key: door.model.version,
    path: await door.weightsPath(rt.signal),
    batch: manifest.batch ? { maxSize: manifest.batch.max_size, maxDelayMs: manifest.batch.max_delay_ms } : null,
  };
  rt.progress(0.05);
  const label: AigcLabel = { producer: 'malan', produceId: rt.jobId, model: `${manifest.name}@${door.model.version.slice(0, 12)}`, visible: rt.input.label === 'visible' };
  const step = { rt, door, handle, label };
  const done = await (() => {
    switch (manifest.task) {
      case 'image-to-image':
        return runImageToImage(step);
      case 'image-classification':
        return runClassification(step);
      case 'video-to-video':
        return runVideoToVideo(step);
      case 'tensor':
        return runTensors(step);
    }
  })();
  const onGpu = done.provider !== 'cpu';
  const gpu = rt.caps.gpus[0];
  return {
    outputs: done.outputs,
    output: done.output,
    usage: {
      cpuSeconds: (onGpu ? 0 : done.predictSeconds) + done.cpuSeconds,
      gpuSeconds: onGpu ? done.predictSeconds : 0,
      gpuModel: onGpu && gpu ? gpu.name : 'cpu',
      gpuUuid: onGpu && gpu ? gpu.uuid : null,
      outputSeconds: done.outputSeconds ?? 0,
      meters: { predictions: 1, predictSeconds: done.predictSeconds },
    },
    execution: {
      path: done.provider,
      provider: done.provider,
      // A GPU provider that would not start a session is a fallback (counted in malan_fallbacks_total); no GPU at all is not.
      fallbacks: door.onnx.fallbackReasons.flatMap((r) => {
        const m = /^(tensorrt|cuda): (.*)$/s.exec(r);
        return m ? [{ path: `onnx-${m[1]}`, reason: m[2] }] : [];
      }),
      notes: door.onnx.fallbackReasons,
      model: { name: manifest.name, version: door.model.version },
      batch_size: done.batchSize,
      predict_seconds: Math.round(done.predictSeconds * 1e6) / 1e6,
      label: { implicit: true, visible: label.visible, produce_id: label.produceId },
      ...done.extra,
    },
  };
}
