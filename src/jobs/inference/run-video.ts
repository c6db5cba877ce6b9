/**
 * Video-to-video: the image model on every frame, streamed through ffmpeg pipes (decode → ONNX →
 * encode, audio kept). Frames go to the model a few at a time, so a batching model merges them.
 * The implicit AIGC label goes into the container's metadata; a visible mark onto every frame.
 */
import path from 'node:path';
import sharp from 'sharp';
import { JobError } from '../job-error.js';
import { aigcVideoMetadataArgs, visibleMarkSvg } from './aigc-label.js';
import { pixelsToTensor, tensorImageSize, tensorToPixels, type DecodedImage } from './image-tensors.js';
import { fetchMedia, type ModelStep, type StepResult } from './model-step.js';
import { inputSpec, outputOf } from './run-image.js';
import { runModel } from './run-model.js';
import { runVideoModel } from './video-frames.js';

export async function runVideoToVideo(step: ModelStep): Promise<StepResult> {
  const { rt, door, label } = step;
  const manifest = door.model.manifest;
  const pre = manifest.preprocess ?? { fit: 'fill' as const, color: 'rgb' as const, layout: 'nchw' as const, scale: 1 / 255 };
  const post = manifest.postprocess?.type === 'image' ? manifest.postprocess : { type: 'image' as const, color: 'rgb' as const, layout: 'nchw' as const, scale: 255, format: 'png' as const };
  const source = await fetchMedia(rt, door, 'video');
  const probe = await rt.media.probeMedia(source, { signal: rt.signal }).catch((err: Error) => {
    throw new JobError('media_unreadable', `the video could not be read: ${err.message}`);
  });
  if (!probe.video) throw new JobError('no_video_stream', 'the input has no video stream');
  const spec = inputSpec(manifest, pre.input);
  // Frames arrive upright (ffmpeg applies the rotation), so a free size takes the displayed one.
  const frameSize = tensorImageSize(spec, pre, { width: probe.video.displayWidth, height: probe.video.displayHeight });
  let mark: Buffer | null = null;
  const totals = { seconds: 0, batch: 1, provider: 'cpu' as StepResult['provider'] };
  const dest = path.join(rt.workDir, 'output.mp4');
  const video = await runVideoModel({
    source,
    dest,
    probe,
    frameSize,
    inFlight: Math.max(4, step.handle.batch?.maxSize ?? 4),
    metadataArgs: aigcVideoMetadataArgs(label),
    signal: rt.signal,
    killGraceMs: rt.killGraceMs,
    maxFrames: door.limits.maxVideoFrames,
    onProgress: (f) => rt.progress(0.05 + f * 0.9),
    onLog: (line) => rt.log('debug', line),
    applyModel: async (frame) => {
      const tensor = pixelsToTensor(frame.pixels, frame.width, frame.height, pre, spec.dtype);
      const result = await runModel(step, { [spec.name]: tensor });
      totals.seconds += result.step.predictSeconds;
      totals.batch = Math.max(totals.batch, result.step.batchSize);
      totals.provider = result.step.provider;
      const out = tensorToPixels(outputOf(manifest, result.outputs, post.output), post, frame as DecodedImage);
      if (!label.visible) return out;
      mark ??= await sharp(visibleMarkSvg(out.width, out.height)).resize(out.width, out.height).png().toBuffer();
      const pixels = await sharp(out.pixels, { raw: { width: out.width, height: out.height, channels: 3 } }).composite([{ input: mark }]).removeAlpha().raw().toBuffer();
      return { ...out, pixels };
    },
  });
  const file = await rt.transfer.upload('output.mp4', dest, 'video/mp4', rt.signal);
  rt.log('info', `output ${video.width}×${video.height}, ${video.frames} frames at ${video.fps} fps, labelled as AI-generated${label.visible ? ' (visible mark too)' : ''}`);
  const [n, d] = video.fps.split('/').map(Number) as [number, number];
  return {
    outputs: [{ file, role: 'output' }],
    output: { $file: file },
    provider: totals.provider,
    predictSeconds: totals.seconds,
    cpuSeconds: video.cpuSeconds,
    batchSize: totals.batch,
    outputSeconds: d ? (video.frames * d) / n : 0,
    extra: { output: { width: video.width, height: video.height, frames: video.frames, fps: video.fps } },
  };
}
