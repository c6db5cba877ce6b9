/**
 * ffmpeg argument arrays for running an image model over a video: one ffmpeg decodes the source
 * into raw RGB frames on its stdout, the other encodes the model's frames from its stdin (with the
 * source's audio) into an MP4. Pure data in, argv out (without the binary), one token per element.
 */
import { inputHardeningArgs } from '../../media/input-hardening.js';
import type { VideoStreamInfo } from '../../media/media-probe.js';
import { audioArgs } from '../transcode/transcode-commands.js';

// Info level, tagged (for the job log and for picking ffmpeg's own error line), because
// -benchmark's CPU-time line, which meters the job, is printed at info. No -progress: stdout
// carries frames here, and the frames themselves are counted instead.
const GLOBAL_ARGS: readonly string[] = ['-hide_banner', '-nostdin', '-loglevel', 'level+info', '-benchmark', '-nostats'];

export interface DecodeSettings {
  source: string;
  /** Absolute stream index from the probe (`0:v:0` can be cover art). */
  videoStream: number;
  /** The model's input size: every frame is scaled to exactly this. */
  width: number;
  height: number;
}

export function decodeArgs(s: DecodeSettings): string[] {
  return [
    ...GLOBAL_ARGS,
    ...inputHardeningArgs(),
    // Rotation needs no flag: ffmpeg autorotates by default, so the model sees the picture upright.
    '-i', s.source,
    '-map', `0:${s.videoStream}`,
    '-vf', `scale=${s.width}:${s.height}:flags=lanczos`,
    // Every decoded frame once, in order: no duplicates or drops to fit a frame-rate grid, so the
    // output has exactly the source's frames.
    '-fps_mode', 'passthrough',
    '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1',
  ];
}

export interface EncodeSettings {
  source: string;
  dest: string;
  /** Absolute index of the source's audio stream, or null for none. */
  audioStream: number | null;
  /** The model's output size (odd sizes are cropped to even, see evenSize). */
  width: number;
  height: number;
  /** The source's frame rate as ffmpeg reads it: "24/1", "30000/1001". */
  frameRate: string;
  /** The AIGC label's `-metadata` pairs and the like, last before the output path. */
  metadataArgs: readonly string[];
}

export function encodeArgs(s: EncodeSettings): string[] {
  const out = evenSize(s);
  const { movflags, rest } = takeMovflags(s.metadataArgs);
  return [
    ...GLOBAL_ARGS, '-y',
    // Input 0, the model's frames: raw bytes carry no header, so size, layout and rate are given.
    // Not hardened: it is our own pipe, read by the rawvideo demuxer named here, never probed.
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${s.width}x${s.height}`, '-framerate', s.frameRate, '-i', 'pipe:0',
    // Input 1, the source again, for its audio only.
    ...(s.audioStream === null ? [] : [...inputHardeningArgs(), '-i', s.source]),
    '-map', '0:v',
    ...(s.audioStream === null ? [] : ['-map', `1:${s.audioStream}`]),
    // The source's camera GPS and device tags do not belong on a generated video.
    '-map_metadata', '-1',
    '-vf', encodeFilter(s, out),
    '-fps_mode', 'passthrough',
    '-c:v', 'libx264', '-preset', 'medium', '-crf', '18', '-profile:v', 'high', '-pix_fmt', 'yuv420p',
    // The filter converts RGB with BT.709's matrix; say so, or players guess (BT.601 for SD sizes).
    '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
    ...audioArgs({ audioStream: s.audioStream, audioBitrate: '128k' }),
    // moov atom first, so browsers start playing before the whole file has arrived. ffmpeg keeps
    // only the last -movflags, so the caller's (the label's +use_metadata_tags) join this one.
    '-movflags', ['+faststart', ...movflags].join(''),
    ...rest,
    '-f', 'mp4', s.dest,
  ];
}

/** Splits `-movflags X` pairs out of extra args; each X as a `+flag`/`-flag` change. */
function takeMovflags(args: readonly string[]): { movflags: string[]; rest: string[] } {
  const movflags: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const value = args[i + 1];
    if (args[i] === '-movflags' && value !== undefined) {
      movflags.push(/^[+-]/.test(value) ? value : `+${value}`);
      i++;
    } else rest.push(args[i]!);
  }
  return { movflags, rest };
}

/** H.264 in 4:2:0 needs even dimensions: an odd model output loses its last column or row. */
export function evenSize(s: { width: number; height: number }): { width: number; height: number } {
  return { width: s.width - (s.width % 2), height: s.height - (s.height % 2) };
}

function encodeFilter(input: { width: number; height: number }, out: { width: number; height: number }): string {
  // Cropped rather than scaled: scaling by one pixel would resample (blur) the whole frame.
  const crop = out.width === input.width && out.height === input.height ? '' : `crop=${out.width}:${out.height}:0:0,`;
  return `${crop}scale=out_color_matrix=bt709:out_range=tv,format=yuv420p`;
}

/**
 * The source's frame rate as an exact fraction for `-framerate`. The probe keeps it as a number
 * (avg_frame_rate, or r_frame_rate when that is missing); the best fraction with a denominator
 * up to 1001 recovers 24/1 and 30000/1001 exactly and is within a part per million otherwise
 * (variable-rate phone clips), far below a frame over any clip this farm takes. Falls back to
 * frames over duration; null when neither is known.
 */
export function frameRateFraction(video: Pick<VideoStreamInfo, 'frameRate' | 'frameCount'>, durationSeconds: number): string | null {
  const rate = video.frameRate > 0 ? video.frameRate : video.frameCount && durationSeconds > 0 ? video.frameCount / durationSeconds : 0;
  if (!(rate > 0) || !Number.isFinite(rate)) return null;
  const { num, den } = bestFraction(rate, 1001);
  return `${num}/${den}`;
}

/** Continued-fraction convergents of x, the last whose denominator stays within maxDen. */
function bestFraction(x: number, maxDen: number): { num: number; den: number } {
  let [h0, h1, k0, k1] = [0, 1, 1, 0];
  let rest = x;
  for (;;) {
    const a = Math.floor(rest);
    const [h2, k2] = [a * h1 + h0, a * k1 + k0];
    if (k2 > maxDen) break;
    [h0, h1, k0, k1] = [h1, h2, k1, k2];
    if (Math.abs(h1 / k1 - x) < 1e-9 * x) break;
    rest = 1 / (rest - a);
  }
  return { num: h1, den: k1 };
}
