/**
 * What a streaming page shows around a video: a poster frame, and a thumbnail sprite sheet with a
 * WebVTT track that players (video.js, hls.js-based players, Bitmovin, JW) read for scrub previews.
 * ffmpeg commands are pure builders (argv out, run by the ffmpeg door); the sprite is composed
 * with sharp, which works on libuv's thread pool and so leaves the worker's event loop free.
 */
import path from 'node:path';
import sharp from 'sharp';
import { inputHardeningArgs } from '../../media/input-hardening.js';

// As the transcode commands, without -progress: these runs take a second or two. Info level,
// because -benchmark's CPU-time line (which meters the job) is printed at info.
const GLOBAL_ARGS = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'level+info', '-benchmark'];

/** Thumbnail spacings, in seconds: round numbers that line up with a player's timeline ticks. */
export const THUMBNAIL_STEPS: readonly number[] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
export const MAX_THUMBNAILS = 100;
export const DEFAULT_SPRITE_COLUMNS = 10;

/** Where the poster is taken: 10% in, at most 10 s in (past fades and logos), 0 for clips under 1 s. */
export function posterTime(durationSeconds: number): number {
  requireDuration(durationSeconds);
  if (durationSeconds < 1) return 0;
  return Math.round(Math.min(durationSeconds * 0.1, 10) * 1000) / 1000;
}

/**
 * The spacing between thumbnails: the smallest standard step that keeps the count at or under
 * MAX_THUMBNAILS (a 10×10 sprite). Round steps keep cue times on whole seconds, and the steps
 * grow by at most 2.5×, so a video gets between 40 and 100 thumbnails once it is over 100 s.
 * Past 600 s × 100 (16.7 h), multiples of 600 s.
 */
export function thumbnailInterval(durationSeconds: number): number {
  requireDuration(durationSeconds);
  const fits = THUMBNAIL_STEPS.find((step) => Math.ceil(durationSeconds / step) <= MAX_THUMBNAILS);
  return fits ?? Math.ceil(durationSeconds / MAX_THUMBNAILS / 600) * 600;
}

function requireDuration(durationSeconds: number): void {
  if (!Number.isFinite(durationSeconds) || durationSeconds < 0) throw new RangeError(`not a duration: ${durationSeconds}`);
}

/**
 * Guards shared by both commands. The map is by absolute index (`0:v:0` can be cover art); -an
 * -sn -dn make a non-video `videoStream` (an audio-only upload) fail with "Output file #0 does
 * not contain any stream" instead of ffmpeg's puzzling "Automatic encoder selection failed".
 */
function videoOnly(videoStream: number): string[] {
  return ['-map', `0:${videoStream}`, '-an', '-sn', '-dn'];
}

/** One JPEG frame at `atSeconds`, `height` pixels high, at the display aspect with square pixels. */
export function posterArgs(input: string, output: string, opts: { atSeconds: number; height: number; videoStream: number }): string[] {
  return [
    ...GLOBAL_ARGS,
    // Before -i: seek in the demuxer to the keyframe before, then decode up to the exact time.
    '-ss', opts.atSeconds.toFixed(3), // never "1e-7", which ffmpeg would not read
    ...inputHardeningArgs(),
    '-i', input,
    ...videoOnly(opts.videoStream),
    '-frames:v', '1',
    '-vf', `${scaleToHeight(opts.height)},setsar=1`,
    '-q:v', '3',
    // One file, not a numbered pattern: -update 1 writes (and overwrites) the name as given.
    '-f', 'image2', '-update', '1',
    output,
  ];
}

/** The pattern thumbnailFramesArgs writes: thumb_00001.jpg, thumb_00002.jpg, … in time order. */
export const THUMBNAIL_FILE_PATTERN = 'thumb_%05d.jpg';

/** One frame every `intervalSeconds`, `width` pixels wide, into `<outDir>/thumb_%05d.jpg`. */
export function thumbnailFramesArgs(input: string, outDir: string, opts: { intervalSeconds: number; width: number; videoStream: number }): string[] {
  return [
    ...GLOBAL_ARGS,
    ...inputHardeningArgs(),
    '-i', input,
    ...videoOnly(opts.videoStream),
    // fps= fills output slot n (time n×interval) with the last frame whose timestamp, rounded to
    // the slot grid, is ≤ n. The default rounding (near) would make slot 0 the last frame before
    // interval/2, and every thumbnail show the middle of its cue. round=up makes slot 0 the first
    // frame and slot n the frame at n×interval: each thumbnail shows its cue's start time.
    '-vf', `fps=1/${opts.intervalSeconds}:round=up,${scaleToWidth(opts.width)},setsar=1`,
    '-q:v', '5',
    '-f', 'image2',
    path.join(outDir, THUMBNAIL_FILE_PATTERN),
  ];
}

// scale's -2 keeps the STORAGE aspect (iw/ih) and leaves the SAR on the frame, so a 352×288 frame
// with SAR 63:44 would come out 4:3 square-pixelled instead of 7:4. `dar` is the display aspect of
// the frame as it reaches the filter (after autorotate); rounded to even for the encoders that need it.
function scaleToHeight(height: number): string {
  return `scale=2*round(${height}*dar/2):${height}`;
}

function scaleToWidth(width: number): string {
  return `scale=${width}:2*round(${width}/dar/2)`;
}

export interface SpriteOptions {
  /** Tiles per row, default 10: with at most 100 thumbnails, a 10×10 grid at most. */
  columns?: number;
  intervalSeconds: number;
  durationSeconds: number;
  /** How the VTT refers to the sprite image (relative to the VTT's own URL): "sprite.jpg". */
  spriteName: string;
}

export interface Sprite {
  image: Buffer;
  vtt: string;
  tile: { width: number; height: number };
  rows: number;
}

/**
 * Composes the frames (thumbnailFramesArgs' output, in order) into one JPEG grid and writes its
 * WebVTT track. A frame that would start at or after the duration (the video stream running past
 * the duration the player shows) is left out: it could never be scrubbed to.
 */
export async function buildSprite(frames: string[], opts: SpriteOptions): Promise<Sprite> {
  const count = Math.min(frames.length, cueCount(opts.intervalSeconds, opts.durationSeconds));
  const used = frames.slice(0, count);
  if (used.length === 0) throw new Error('a sprite needs at least one frame');
  const sizes = await Promise.all(used.map((f) => sharp(f).metadata()));
  const tile = { width: sizes[0]!.width, height: sizes[0]!.height };
  const odd = sizes.findIndex((s) => s.width !== tile.width || s.height !== tile.height);
  if (odd >= 0) throw new Error(`sprite frames differ in size: ${used[odd]} is not ${tile.width}x${tile.height}`);
  const columns = Math.min(opts.columns ?? DEFAULT_SPRITE_COLUMNS, used.length);
  const rows = Math.ceil(used.length / columns);
  const image = await sharp({ create: { width: columns * tile.width, height: rows * tile.height, channels: 3, background: '#000000' } })
    .composite(used.map((input, i) => ({ input, left: (i % columns) * tile.width, top: Math.floor(i / columns) * tile.height })))
    .jpeg({ quality: 70 })
    .toBuffer();
  return { image, vtt: spriteVtt(used.length, { ...opts, columns, tile }), tile, rows };
}

/** Thumbnails that start before the end: ceil(duration / interval), at least one. */
function cueCount(intervalSeconds: number, durationSeconds: number): number {
  return Math.max(1, Math.ceil(ms(durationSeconds) / ms(intervalSeconds)));
}

/**
 * The WebVTT track: cue n covers [n×interval, (n+1)×interval), the last one ends at the
 * duration; its payload points into the sprite with a Media Fragments `#xywh=x,y,w,h`.
 */
export function spriteVtt(
  count: number,
  opts: { columns: number; intervalSeconds: number; durationSeconds: number; spriteName: string; tile: { width: number; height: number } },
): string {
  if (count > cueCount(opts.intervalSeconds, opts.durationSeconds)) throw new RangeError(`${count} cues of ${opts.intervalSeconds} s overrun ${opts.durationSeconds} s`);
  const { width, height } = opts.tile;
  const cues: string[] = [];
  for (let i = 0; i < count; i++) {
    const start = ms(i * opts.intervalSeconds);
    const end = i === count - 1 ? ms(opts.durationSeconds) : ms((i + 1) * opts.intervalSeconds);
    const x = (i % opts.columns) * width;
    const y = Math.floor(i / opts.columns) * height;
    cues.push(`${vttTime(start)} --> ${vttTime(end)}\n${opts.spriteName}#xywh=${x},${y},${width},${height}\n`);
  }
  return ['WEBVTT\n', ...cues].join('\n');
}

function ms(seconds: number): number {
  return Math.round(seconds * 1000);
}

/** HH:MM:SS.mmm, the hours always written (WebVTT allows them to be left out, not every parser does). */
function vttTime(totalMs: number): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const h = Math.floor(totalMs / 3_600_000);
  const m = Math.floor(totalMs / 60_000) % 60;
  const s = Math.floor(totalMs / 1000) % 60;
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(totalMs % 1000, 3)}`;
}
