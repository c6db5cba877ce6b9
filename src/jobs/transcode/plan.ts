/**
 * Pure planning of a transcode: spec + probe + worker capabilities → the ffmpeg commands to try,
 * best first. Every attempt carries the sentence that explains why it is there, so a fallback to
 * the CPU is never silent: the runner logs and counts each one with its reason.
 */
import type { WorkerCapabilities } from '../../capabilities/worker-capabilities.js';
import type { MediaProbe, VideoStreamInfo } from '../../media/media-probe.js';
import { JobError } from '../job-error.js';
import { parseBitrate, unsupportedFeatures, type TranscodeInput, type X264Preset } from './spec.js';
import { buildCommand, type CommandSettings, type TranscodePath, type VideoRateControl } from './transcode-commands.js';

export { buildCommand, crfToNvencCq } from './transcode-commands.js';
export type { CommandSettings, TranscodePath, VideoRateControl } from './transcode-commands.js';

export interface PlannedCommand {
  path: TranscodePath;
  /** A sentence for the job log and the operator: why this path, or why not a better one. */
  reason: string;
  gpuIndex: number | null;
  /** Full ffmpeg argv without the binary, one token per element. */
  args: string[];
}

export interface TranscodePlan {
  target: { width: number; height: number };
  /** The fallback ladder, best first; always ends with 'cpu'. */
  attempts: PlannedCommand[];
  outputSeconds: number;
}

export type TranscodeCapabilities = Pick<WorkerCapabilities, 'videoAcceleration' | 'gpus'>;

export const DEFAULT_CRF = 21;
export const DEFAULT_X264_PRESET: X264Preset = 'veryfast';
export const DEFAULT_AUDIO_BITRATE = '128k';
/** Above this, web playback gains little while every extra frame costs encode time. */
export const MAX_OUTPUT_FRAME_RATE = 60;
/** Used when the probe knows no average rate (some raw streams). */
export const FALLBACK_FRAME_RATE = 30;
/** NVENC's H.264 encoder takes frames up to 4096×4096. */
export const NVENC_H264_MAX_DIMENSION = 4096;

/** Source pixel formats the GPU paths handle: 8-bit 4:2:0, limited range (scale_cuda does not convert yuvj's full range). */
const GPU_PIXEL_FORMATS = ['yuv420p', 'nv12'];

/** Valid input this worker cannot make yet fails with a reason, never by silently doing less. */
export function assertSupported(input: TranscodeInput): void {
  const unsupported = unsupportedFeatures(input);
  if (unsupported.length > 0) {
    throw new JobError(
      'unsupported_input',
      `not supported by this worker yet: ${unsupported.join(', ')} (it produces one MP4 rendition at a given height)`,
    );
  }
}

export function planTranscode(
  input: TranscodeInput,
  probe: MediaProbe,
  caps: TranscodeCapabilities,
  files: { input: string; output: string },
): TranscodePlan {
  assertSupported(input);
  if (input.height === undefined) throw new JobError('invalid_input', 'height is required');
  const video = probe.video;
  if (video === null) throw new JobError('no_video_stream', 'the source has no video stream to transcode');

  const target = targetSize(input.height, video);
  const rateControl: VideoRateControl =
    input.video_bitrate !== undefined
      ? { mode: 'bitrate', bitsPerSecond: parseBitrate(input.video_bitrate) }
      : { mode: 'crf', crf: input.crf ?? DEFAULT_CRF };
  const settings: Omit<CommandSettings, 'gpuIndex'> = {
    files,
    videoStream: video.index,
    audioStream: probe.audio?.index ?? null,
    width: target.width,
    height: target.height,
    frameRate: outputFrameRate(video.frameRate),
    rateControl,
    x264Preset: input.preset ?? DEFAULT_X264_PRESET,
    audioBitrate: input.audio?.bitrate ?? DEFAULT_AUDIO_BITRATE,
  };
  const attempts = choosePaths(video, target, caps).map(({ path, reason, gpuIndex }) => ({
    path,
    reason,
    gpuIndex,
    args: buildCommand(path, { ...settings, gpuIndex }),
  }));
  return { target, attempts, outputSeconds: probe.durationSeconds };
}

/**
 * Output size: the requested height, never above the displayed height (no upscaling), width from
 * the displayed aspect (SAR and rotation applied), both even as 4:2:0 requires.
 */
export function targetSize(requestedHeight: number, video: VideoStreamInfo): { width: number; height: number } {
  const { displayWidth, displayHeight } = video;
  if (!(displayWidth > 0 && displayHeight > 0)) {
    throw new JobError('media_unreadable', `the video stream has no usable size (${displayWidth}x${displayHeight})`);
  }
  const height = Math.max(2, floorEven(Math.min(requestedHeight, displayHeight)));
  const width = Math.max(2, 2 * Math.round((height * displayWidth) / displayHeight / 2));
  return { width, height };
}

function floorEven(n: number): number {
  return 2 * Math.floor(n / 2);
}

/** The source's average rate as ffmpeg reads it, capped; NTSC rates written exactly ("30000/1001"). */
export function outputFrameRate(averageFps: number): string {
  const fps = averageFps > 0 ? Math.min(averageFps, MAX_OUTPUT_FRAME_RATE) : FALLBACK_FRAME_RATE;
  for (const base of [24, 30, 60]) {
    if (Math.abs(fps - (base * 1000) / 1001) < 0.005) return `${base * 1000}/1001`;
  }
  if (Math.abs(fps - Math.round(fps)) < 0.005) return String(Math.round(fps));
  return String(Math.round(fps * 1000) / 1000);
}

interface PathChoice {
  path: TranscodePath;
  reason: string;
  gpuIndex: number | null;
}

function choosePaths(video: VideoStreamInfo, target: { width: number; height: number }, caps: TranscodeCapabilities): PathChoice[] {
  const acc = caps.videoAcceleration;
  const noDecode = nvdecObstacle(video, caps);
  if (acc === null || noDecode !== null) {
    return [{ path: 'cpu', reason: `decode, scale and encode on the CPU: ${noDecode ?? 'no GPU video path'}`, gpuIndex: null }];
  }
  const gpu = gpuLabel(acc.gpuIndex, caps);
  const codec = video.codec;
  const cpuFallback: PathChoice = {
    path: 'cpu',
    reason: 'fallback if the GPU attempts fail: decode, scale and encode on the CPU',
    gpuIndex: null,
  };
  const noEncode = nvencObstacle(target, acc.nvencEncoders);
  if (noEncode !== null) {
    return [
      {
        path: 'nvdec-cpu',
        reason: `${gpu} decodes ${codec} with NVDEC but ${noEncode}: decode and scale on the GPU, encode H.264 on the CPU`,
        gpuIndex: acc.gpuIndex,
      },
      cpuFallback,
    ];
  }
  return [
    {
      path: 'nvdec-nvenc',
      reason: `${gpu} decodes ${codec} with NVDEC, scales with scale_cuda and encodes H.264 with NVENC: the frames never leave the GPU`,
      gpuIndex: acc.gpuIndex,
    },
    {
      path: 'nvdec-cpu',
      reason: `fallback if NVENC fails: ${gpu} decodes ${codec} and scales, the CPU encodes H.264`,
      gpuIndex: acc.gpuIndex,
    },
    cpuFallback,
  ];
}

/** Why NVDEC + scale_cuda cannot take this source, or null when they can. */
export function nvdecObstacle(video: VideoStreamInfo, caps: TranscodeCapabilities): string | null {
  const acc = caps.videoAcceleration;
  if (acc === null) {
    return caps.gpus.length === 0
      ? 'no GPU on this worker'
      : `no hardware video path passed its test on ${caps.gpus.map((g) => gpuLabel(g.index, caps)).join(', ')}`;
  }
  const gpu = gpuLabel(acc.gpuIndex, caps);
  if (!acc.nvdecCodecs.includes(video.codec)) {
    const decodes = acc.nvdecCodecs.length > 0 ? acc.nvdecCodecs.join(', ') : 'nothing';
    return `${gpu} cannot decode ${video.codec} with NVDEC (it decodes ${decodes})`;
  }
  if (!acc.scaleCuda) return `scale_cuda did not pass its test on ${gpu}`;
  // ffmpeg applies the display matrix by inserting transpose/hflip/vflip filters after the
  // decoder ("autorotate"); those are CPU filters and cannot take CUDA frames, so the graph would
  // fail to configure. Downloading first would leave the GPU only the decode; the CPU path is
  // the simplest correct choice for the (few) rotated sources.
  if (video.rotation !== 0) {
    return `the source is rotated ${video.rotation}° and ffmpeg's autorotate filters run on the CPU only`;
  }
  if (video.bitDepth !== 8 || !GPU_PIXEL_FORMATS.includes(video.pixFmt)) {
    return `the source is ${video.pixFmt} (${video.bitDepth}-bit) and the GPU paths take 8-bit 4:2:0 only`;
  }
  return null;
}

/** Why NVENC cannot encode this output, or null when it can. */
function nvencObstacle(target: { width: number; height: number }, encoders: string[]): string | null {
  if (!encoders.includes('h264_nvenc')) return 'has no H.264 NVENC';
  if (target.width > NVENC_H264_MAX_DIMENSION || target.height > NVENC_H264_MAX_DIMENSION) {
    return `NVENC H.264 stops at ${NVENC_H264_MAX_DIMENSION} px and the output is ${target.width}x${target.height}`;
  }
  return null;
}

export function gpuLabel(index: number, caps: TranscodeCapabilities): string {
  const name = caps.gpus.find((g) => g.index === index)?.name;
  return name === undefined ? `GPU ${index}` : `GPU ${index} (${name})`;
}
