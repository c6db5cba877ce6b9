/**
 * ffmpeg argument arrays for one MP4 rendition (H.264 High + AAC stereo), one builder per
 * decode/encode path. Pure data in, argv out (without the binary), one token per element, so tests
 * compare whole arrays and the runner spawns exactly what was planned.
 */
import { inputHardeningArgs } from '../../media/input-hardening.js';
import type { X264Preset } from './spec.js';

export type TranscodePath = 'nvdec-nvenc' | 'nvdec-cpu' | 'cpu';

export type VideoRateControl =
  | { mode: 'crf'; crf: number }
  /** Capped average bitrate: -b:v with -maxrate at the same value and a two-second VBV buffer. */
  | { mode: 'bitrate'; bitsPerSecond: number };

/** Everything a path needs, already decided by the plan. */
export interface CommandSettings {
  files: { input: string; output: string };
  /** Absolute stream indexes from the probe. */
  videoStream: number;
  /** null: the source has no audio, the output gets none (-an). */
  audioStream: number | null;
  width: number;
  height: number;
  /** Output constant frame rate, as ffmpeg reads it: "30000/1001", "25", "10.505". */
  frameRate: string;
  rateControl: VideoRateControl;
  x264Preset: X264Preset;
  /** AAC bitrate, "128k". */
  audioBitrate: string;
  /** GPU for the nvdec paths; ignored by 'cpu'. */
  gpuIndex: number | null;
}

// -progress pipe:1 puts key=value progress blocks on stdout, leaving stderr to the log: info level
// (tagged with its level, for the job log) because -benchmark's CPU-time line, which meters the
// job, is printed at info.
export const GLOBAL_ARGS: readonly string[] = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'level+info', '-benchmark', '-progress', 'pipe:1', '-nostats'];

export function buildCommand(path: TranscodePath, s: CommandSettings): string[] {
  return [
    ...GLOBAL_ARGS,
    ...inputHardeningArgs(),
    ...(path === 'cpu' ? [] : cudaDecodeArgs(requireGpu(path, s))),
    '-i', s.files.input,
    ...mapArgs(s),
    '-vf', videoFilter(path, s),
    // Constant frame rate at the source's average: variable timing (phones, screen captures)
    // confuses players, editors and HLS segmenters; ffmpeg duplicates or drops frames to the grid.
    '-fps_mode', 'cfr', '-r', s.frameRate,
    ...(path === 'nvdec-nvenc' ? nvencArgs(requireGpu(path, s), s.rateControl) : x264Args(path, s)),
    ...audioArgs(s),
    // moov atom first, so browsers start playing before the whole file has arrived.
    '-movflags', '+faststart',
    '-f', 'mp4', s.files.output,
  ];
}

function requireGpu(path: TranscodePath, s: CommandSettings): number {
  if (s.gpuIndex === null) throw new Error(`transcode path ${path} needs a GPU index`);
  return s.gpuIndex;
}

export function cudaDecodeArgs(gpu: number): string[] {
  // Frames stay in GPU memory after NVDEC, so scale_cuda reads them without a copy.
  return ['-hwaccel', 'cuda', '-hwaccel_device', String(gpu), '-hwaccel_output_format', 'cuda'];
}

function mapArgs(s: CommandSettings): string[] {
  return [
    // The exact streams the plan was computed from (by absolute index: `0:v:0` can be cover art).
    '-map', `0:${s.videoStream}`,
    ...(s.audioStream === null ? [] : ['-map', `0:${s.audioStream}`]),
    // Uploads carry camera GPS, device and encoder tags: a new rendition should not leak or repeat
    // them. Rotation is not metadata here: it is applied to the pixels (autorotate) instead.
    '-map_metadata', '-1',
    '-sn', '-dn',
  ];
}

function videoFilter(path: TranscodePath, s: CommandSettings): string {
  return `${frameGrid(s.frameRate)},${scaleChain(path, s)}`;
}

/**
 * The output's constant frame rate as a filter, before scaling: fps= keeps the source frame
 * nearest each slot of the grid (and scales only those). -r alone keeps the last frame before each
 * slot, up to a frame late for variable-rate sources.
 */
export function frameGrid(frameRate: string): string {
  return `fps=${frameRate}`;
}

function scaleChain(path: TranscodePath, s: CommandSettings): string {
  const size = `${s.width}:${s.height}`;
  // setsar=1: width was computed from the display aspect, so the output pixels are square.
  switch (path) {
    case 'cpu':
      // Frames arrive rotated (ffmpeg autorotates on CPU decode). Lanczos keeps downscales sharp;
      // its cost is small next to libx264's. format=yuv420p: 8-bit 4:2:0 (also converts 10-bit,
      // 4:2:2/4:4:4 and full-range yuvj sources), the only H.264 flavour every player decodes.
      return `scale=${size}:flags=lanczos,setsar=1,format=yuv420p`;
    case 'nvdec-cpu':
      // Scale on the GPU, then copy the (smaller) frames to system memory. NV12 is x264's own
      // internal 4:2:0 layout, so libx264 takes it without another conversion.
      return `scale_cuda=${size}:interp_algo=lanczos:format=nv12,hwdownload,format=nv12,setsar=1`;
    case 'nvdec-nvenc':
      // Never leaves the GPU: NVENC encodes CUDA NV12 frames directly.
      return `scale_cuda=${size}:interp_algo=lanczos:format=nv12,setsar=1`;
  }
}

/** ffmpeg's bitrate notation in whole kbit/s: 2_800_000 → "2800k". */
export function kbps(bitsPerSecond: number): string {
  return `${Math.round(bitsPerSecond / 1000)}k`;
}

function bitrateArgs(bitsPerSecond: number): string[] {
  return ['-b:v', kbps(bitsPerSecond), '-maxrate', kbps(bitsPerSecond), '-bufsize', kbps(2 * bitsPerSecond)];
}

function x264Args(path: TranscodePath, s: CommandSettings): string[] {
  const rate = s.rateControl.mode === 'crf' ? ['-crf', String(s.rateControl.crf)] : bitrateArgs(s.rateControl.bitsPerSecond);
  return [
    '-c:v', 'libx264', '-preset', s.x264Preset, ...rate,
    '-profile:v', 'high',
    // The CPU filter chain already ends in yuv420p; on nvdec-cpu NV12 goes in as is (see above).
    ...(path === 'cpu' ? ['-pix_fmt', 'yuv420p'] : []),
    '-threads', '0',
  ];
}

/**
 * NVENC's -cq works on the same 0–51 quantizer scale as x264's CRF, close enough to use the
 * number as given; 0 means "let the driver choose" there, so it becomes 1 (the best quality).
 */
export function crfToNvencCq(crf: number): number {
  return Math.min(51, Math.max(1, Math.round(crf)));
}

function nvencArgs(gpu: number, rate: VideoRateControl): string[] {
  return [
    '-c:v', 'h264_nvenc', '-preset', 'p4', '-tune', 'hq', '-rc', 'vbr',
    // -b:v 0 lifts NVENC's default 2 Mbit/s ceiling so that -cq alone sets the quality.
    ...(rate.mode === 'crf' ? ['-cq', String(crfToNvencCq(rate.crf)), '-b:v', '0'] : bitrateArgs(rate.bitsPerSecond)),
    '-profile:v', 'high',
    '-gpu', String(gpu),
  ];
}

export function audioArgs(s: Pick<CommandSettings, 'audioStream' | 'audioBitrate'> & { loudness?: 'ebu-r128' | null }): string[] {
  if (s.audioStream === null) return ['-an'];
  // The AAC encoder ignores input timestamps: a gap or overlap in the source audio would shift
  // everything after it against the (now constant-rate) video. async=1 makes the resampler
  // follow the timestamps, padding gaps with silence and trimming overlaps beyond 0.1 s.
  // loudnorm runs one pass (its dynamic mode) to EBU R128's -23 LUFS and -1 dBTP; it works at
  // 192 kHz, and -ar brings it back.
  const filter = s.loudness === 'ebu-r128' ? 'aresample=async=1,loudnorm=I=-23:TP=-1' : 'aresample=async=1';
  return ['-c:a', 'aac', '-b:a', s.audioBitrate, '-ac', '2', '-ar', '48000', '-af', filter];
}
