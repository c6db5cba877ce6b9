/**
 * Pure planning of an ABR ladder packaged as HLS: spec + probe + worker capabilities → the rungs,
 * and the ffmpeg runs to try, best first, each with the sentence that says why (as plan.ts does
 * for one MP4). Only the HLS output is planned here: a ladder input's "mp4" format (DESIGN.md's
 * smallest ladder input asks for both) is left to the runner, e.g. planTranscode at the top rung.
 */
import type { WorkerCapabilities } from '../../capabilities/worker-capabilities.js';
import type { MediaProbe, VideoStreamInfo } from '../../media/media-probe.js';
import { JobError } from '../job-error.js';
import { buildLadderCommand, ladderLayout, NVENC_ENCODERS, type CpuAv1Encoder, type LadderLayout, type LadderSettings } from './ladder-commands.js';
import {
  DEFAULT_AUDIO_BITRATE, DEFAULT_X264_PRESET, gpuLabel, NVENC_H264_MAX_DIMENSION, nvdecObstacle, outputFrameRate, targetSize,
  type PlannedCommand, type TranscodeCapabilities,
} from './plan.js';
import { parseBitrate, segmentSeconds, unsupportedFeatures, type TranscodeInput, type VideoCodec } from './spec.js';
import type { TranscodePath } from './transcode-commands.js';

export interface Rung {
  /** "720p": the short side, so a portrait 1080×1920 rung is "1080p" as players and YouTube call it. */
  name: string;
  width: number;
  height: number;
  codec: VideoCodec;
  bitsPerSecond: number;
  maxrateBitsPerSecond: number;
  bufsizeBits: number;
}

export interface LadderPlan {
  rungs: Rung[];
  segmentSeconds: number;
  /** The fallback ladder, best first; always ends with 'cpu'. */
  attempts: PlannedCommand[];
  /** Paths relative to files.outDir. */
  layout: LadderLayout;
  outputSeconds: number;
}

/** TranscodeCapabilities plus the encoders of the worker's ffmpeg (unknown: Debian's build is assumed). */
export type LadderCapabilities = TranscodeCapabilities & { ffmpeg?: Pick<NonNullable<WorkerCapabilities['ffmpeg']>, 'encoders'> | null };

/** Standard rung sizes (short side) below the source's own, largest first. */
export const LADDER_HEIGHTS = [2160, 1440, 1080, 720, 480, 360, 240] as const;
export const MAX_AUTO_RUNGS = 4;
/** Each auto rung is at most 75% of the one above: closer rungs cost encode time and storage without giving players a real choice. */
const MAX_STEP_RATIO = 0.75;

/**
 * H.264 average bitrates at 16:9 sizes, common OTT figures close to Apple's HLS authoring spec;
 * other sizes (portrait, 4:3, odd top rungs) are interpolated by pixel count.
 */
const H264_BITRATES: readonly { pixels: number; bitsPerSecond: number }[] = [
  { pixels: 3840 * 2160, bitsPerSecond: 16_000_000 },
  { pixels: 2560 * 1440, bitsPerSecond: 9_000_000 },
  { pixels: 1920 * 1080, bitsPerSecond: 5_000_000 },
  { pixels: 1280 * 720, bitsPerSecond: 2_800_000 },
  { pixels: 854 * 480, bitsPerSecond: 1_400_000 },
  { pixels: 640 * 360, bitsPerSecond: 800_000 },
  { pixels: 426 * 240, bitsPerSecond: 400_000 },
];
/** Same picture quality for fewer bits than H.264 (typical published savings). */
export const CODEC_BITRATE_FACTOR: Record<VideoCodec, number> = { h264: 1, hevc: 0.65, av1: 0.55 };
/** 50/60 fps needs about half as many bits again as 24–30 fps. */
export const HIGH_FRAME_RATE_FACTOR = 1.5;
const HIGH_FRAME_RATE = 40;

/**
 * NVENC sessions one GeForce card runs at once. NVIDIA's driver caps consumer cards (3 before
 * 2023, 5 from driver 530, 8 from early-2024 drivers); data-centre and RTX/Quadro cards have no
 * cap. 5 is what every driver of the last years allows, leaving room for other work on the card,
 * and the auto ladder (MAX_AUTO_RUNGS) always fits; a longer explicit ladder encodes on the CPU.
 */
export const NVENC_SESSION_LIMIT_CONSUMER = 5;
const CONSUMER_GPU = /\b(GeForce|TITAN)\b/i;

export function planLadder(
  input: TranscodeInput,
  probe: MediaProbe,
  caps: LadderCapabilities,
  files: { input: string; outDir: string },
): LadderPlan {
  const unsupported = unsupportedFeatures(input);
  if (unsupported.length > 0) throw new JobError('unsupported_input', `not supported by this worker yet: ${unsupported.join(', ')}`);
  const video = requireVideo(probe);
  const rungs = planRungs(input, probe);
  const seconds = segmentSeconds(input);
  const frameRate = outputFrameRate(video.frameRate);
  const settings: Omit<LadderSettings, 'gpuIndex'> = {
    files,
    videoStream: video.index,
    audioStream: probe.audio?.index ?? null,
    rungs,
    frameRate,
    segmentSeconds: seconds,
    gop: Math.max(1, Math.round(seconds * frameRateValue(frameRate))),
    x264Preset: input.preset ?? DEFAULT_X264_PRESET,
    av1Encoder: rungs.some((r) => r.codec === 'av1') ? cpuAv1Encoder(caps) : 'libsvtav1',
    audioBitrate: input.audio?.bitrate ?? DEFAULT_AUDIO_BITRATE,
    loudness: input.audio?.loudness ?? null,
  };
  const attempts = chooseLadderPaths(video, rungs, caps).map(({ path, reason, gpuIndex }) => ({
    path, reason, gpuIndex, args: buildLadderCommand(path, { ...settings, gpuIndex }),
  }));
  return {
    rungs,
    segmentSeconds: seconds,
    attempts,
    layout: ladderLayout(rungs.map((r) => r.name), probe.audio !== null),
    outputSeconds: probe.durationSeconds,
  };
}

/**
 * "auto": the source's own size, then standard sizes at least 25% smaller each, at most
 * MAX_AUTO_RUNGS (sizes by the short side, so portrait video gets the same ladder as landscape).
 * Explicit rungs: heights above the source are dropped (never upscale; all dropped → one rung at
 * the source's height), repeats removed, high to low; a rung's own bitrate wins.
 */
export function planRungs(input: TranscodeInput, probe: MediaProbe): Rung[] {
  const video = requireVideo(probe);
  const fps = frameRateValue(outputFrameRate(video.frameRate));
  const defaultCodec = input.codec ?? 'h264';
  if (input.ladder === undefined) throw new JobError('invalid_input', 'ladder is required to plan a ladder');
  if (input.ladder === 'auto') {
    const top = sizeForShortSide(Math.min(video.displayWidth, video.displayHeight), video);
    const shorts = [Math.min(top.width, top.height)];
    for (const h of LADDER_HEIGHTS) {
      if (shorts.length >= MAX_AUTO_RUNGS) break;
      if (h <= (shorts[shorts.length - 1] ?? 0) * MAX_STEP_RATIO + 1e-9) shorts.push(h);
    }
    return nameRungs(shorts.map((short) => rung(sizeForShortSide(short, video), defaultCodec, fps, null)));
  }
  const requested = input.ladder.map((r) => ({ height: r.height, codec: r.codec ?? defaultCodec, bitrate: r.bitrate ?? null }));
  let kept = requested.filter((r) => r.height <= video.displayHeight);
  if (kept.length === 0) {
    const lowest = requested.reduce((a, b) => (b.height < a.height ? b : a));
    // Its bitrate was chosen for a larger picture; the default for the source's size fits better.
    kept = [{ height: video.displayHeight, codec: lowest.codec, bitrate: null }];
  }
  const seen = new Set<string>();
  const unique = kept.filter((r) => {
    const key = `${r.height}/${r.codec}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  unique.sort((a, b) => b.height - a.height); // stable: same height keeps the input's order
  return nameRungs(unique.map((r) => rung(targetSize(r.height, video), r.codec, fps, r.bitrate === null ? null : parseBitrate(r.bitrate))));
}

/** Default average bitrate for a size and codec, rounded to whole kbit/s. */
export function defaultBitrate(width: number, height: number, codec: VideoCodec, fps: number): number {
  const h264 = h264BitrateForPixels(width * height);
  const rate = h264 * CODEC_BITRATE_FACTOR[codec] * (fps > HIGH_FRAME_RATE ? HIGH_FRAME_RATE_FACTOR : 1);
  return Math.round(rate / 1000) * 1000;
}

function h264BitrateForPixels(pixels: number): number {
  const top = H264_BITRATES[0]!;
  const bottom = H264_BITRATES[H264_BITRATES.length - 1]!;
  // Beyond the table (8K, or tiny sources), bits scale with the pixel count.
  if (pixels >= top.pixels) return (top.bitsPerSecond * pixels) / top.pixels;
  if (pixels <= bottom.pixels) return (bottom.bitsPerSecond * pixels) / bottom.pixels;
  for (let i = 1; i < H264_BITRATES.length; i++) {
    const hi = H264_BITRATES[i - 1]!;
    const lo = H264_BITRATES[i]!;
    if (pixels >= lo.pixels) {
      return lo.bitsPerSecond + ((hi.bitsPerSecond - lo.bitsPerSecond) * (pixels - lo.pixels)) / (hi.pixels - lo.pixels);
    }
  }
  return bottom.bitsPerSecond;
}

function rung(size: { width: number; height: number }, codec: VideoCodec, fps: number, bitsPerSecond: number | null): Rung {
  const bits = bitsPerSecond ?? defaultBitrate(size.width, size.height, codec, fps);
  return {
    name: `${Math.min(size.width, size.height)}p`,
    ...size,
    codec,
    bitsPerSecond: bits,
    maxrateBitsPerSecond: Math.round(bits * 1.1),
    bufsizeBits: 2 * bits,
  };
}

/** Two rungs of one size (an H.264 and an HEVC 720p) are told apart by codec. */
function nameRungs(rungs: Rung[]): Rung[] {
  return rungs.map((r) => (rungs.filter((o) => o.name === r.name).length > 1 ? { ...r, name: `${r.name}-${r.codec}` } : r));
}

/** The display aspect kept, both sides even, the short side `short` (floored to even, never above the source's). */
function sizeForShortSide(short: number, video: VideoStreamInfo): { width: number; height: number } {
  if (video.displayHeight <= video.displayWidth) return targetSize(short, video);
  const { displayWidth, displayHeight } = video;
  const width = Math.max(2, 2 * Math.floor(Math.min(short, displayWidth) / 2));
  const height = Math.max(2, 2 * Math.round((width * displayHeight) / displayWidth / 2));
  return { width, height };
}

/** "30000/1001" → 29.97…, "25" → 25. */
export function frameRateValue(rate: string): number {
  const [num, den] = rate.split('/');
  return Number(num) / (den === undefined ? 1 : Number(den));
}

function requireVideo(probe: MediaProbe): VideoStreamInfo {
  if (probe.video === null) throw new JobError('no_video_stream', 'the source has no video stream to transcode');
  return probe.video;
}

function cpuAv1Encoder(caps: LadderCapabilities): CpuAv1Encoder {
  const encoders = caps.ffmpeg?.encoders;
  // SVT-AV1 is several times faster than libaom at comparable quality; libaom is the fallback.
  if (encoders === undefined || encoders.includes('libsvtav1')) return 'libsvtav1';
  if (encoders.includes('libaom-av1')) return 'libaom-av1';
  throw new JobError('unsupported_input', "this worker's ffmpeg has no AV1 encoder (libsvtav1 or libaom-av1) for the AV1 rungs");
}

const CODEC_LABELS: Record<VideoCodec, string> = { h264: 'H.264', hevc: 'HEVC', av1: 'AV1' };

interface PathChoice {
  path: TranscodePath;
  reason: string;
  gpuIndex: number | null;
}

function chooseLadderPaths(video: VideoStreamInfo, rungs: Rung[], caps: LadderCapabilities): PathChoice[] {
  const n = `${rungs.length} rung${rungs.length === 1 ? '' : 's'}`;
  const acc = caps.videoAcceleration;
  const noDecode = nvdecObstacle(video, caps);
  if (acc === null || noDecode !== null) {
    return [{ path: 'cpu', reason: `decode, scale and encode ${n} on the CPU: ${noDecode ?? 'no GPU video path'}`, gpuIndex: null }];
  }
  const gpu = gpuLabel(acc.gpuIndex, caps);
  const codecs = [...new Set(rungs.map((r) => CODEC_LABELS[r.codec]))].join(' and ');
  const cpuFallback: PathChoice = { path: 'cpu', reason: 'fallback if the GPU attempts fail: decode, scale and encode on the CPU', gpuIndex: null };
  const gpuName = caps.gpus.find((g) => g.index === acc.gpuIndex)?.name ?? '';
  const noEncode = nvencObstacle(rungs, acc.nvencEncoders, gpuName);
  if (noEncode !== null) {
    return [
      {
        path: 'nvdec-cpu',
        reason: `${gpu} decodes ${video.codec} with NVDEC but ${noEncode}: decode and scale ${n} on the GPU, encode ${codecs} on the CPU`,
        gpuIndex: acc.gpuIndex,
      },
      cpuFallback,
    ];
  }
  return [
    {
      path: 'nvdec-nvenc',
      reason: `${gpu} decodes ${video.codec} with NVDEC, scales ${n} with scale_cuda and encodes ${codecs} with NVENC: the frames never leave the GPU`,
      gpuIndex: acc.gpuIndex,
    },
    { path: 'nvdec-cpu', reason: `fallback if NVENC fails: ${gpu} decodes ${video.codec} and scales, the CPU encodes ${codecs}`, gpuIndex: acc.gpuIndex },
    cpuFallback,
  ];
}

/** Why NVENC cannot encode every rung of this ladder in one run, or null when it can. */
function nvencObstacle(rungs: Rung[], encoders: string[], gpuName: string): string | null {
  for (const r of rungs) {
    const encoder = NVENC_ENCODERS[r.codec];
    if (!encoders.includes(encoder)) return `has no ${CODEC_LABELS[r.codec]} NVENC (${encoder}) for the ${r.name} rung`;
    if (r.codec === 'h264' && Math.max(r.width, r.height) > NVENC_H264_MAX_DIMENSION) {
      return `NVENC H.264 stops at ${NVENC_H264_MAX_DIMENSION} px and the ${r.name} rung is ${r.width}x${r.height}`;
    }
  }
  if (CONSUMER_GPU.test(gpuName) && rungs.length > NVENC_SESSION_LIMIT_CONSUMER) {
    return `its driver runs at most ${NVENC_SESSION_LIMIT_CONSUMER} NVENC sessions at once on a GeForce card and the ladder needs ${rungs.length}`;
  }
  return null;
}
