/**
 * The ffmpeg argument array for an ABR ladder packaged as HLS with fMP4 (CMAF) segments: ONE run
 * that decodes the source once, `split`s the frames into one scaled branch per rung, encodes each
 * at its capped bitrate and lets the HLS muxer write every variant and the master playlist.
 * Pure data in, argv out (without the binary), one token per element, like transcode-commands.ts.
 *
 * Checked against Debian's ffmpeg 5.1 (see ladder-commands.test.ts, which runs it):
 * - `%v` in the output names is the variant's position in -var_stream_map (a `name:` there would
 *   replace it, so none is given: the folders are v0, v1, … whatever the rungs are called).
 * - Video variants come first, so v<i> is rung i; the audio rendition is the last folder.
 * - With more than one stream in -var_stream_map, ffmpeg appends `_<k>` to the init file name (init_0.mp4…).
 * - The master names the audio group "group_aud" and also lists the audio playlist as an
 *   audio-only variant (hls.js drops audio-only variants when video ones exist).
 * - ffmpeg 5.1 writes CODECS for H.264, HEVC and AAC but none for AV1 variants.
 */
import path from 'node:path';
import { inputHardeningArgs } from '../../media/input-hardening.js';
import type { Rung } from './ladder.js';
import type { VideoCodec, X264Preset } from './spec.js';
import { audioArgs, cudaDecodeArgs, frameGrid, GLOBAL_ARGS, kbps, type TranscodePath } from './transcode-commands.js';

export type CpuAv1Encoder = 'libsvtav1' | 'libaom-av1';

/** Everything the command needs, already decided by planLadder. */
export interface LadderSettings {
  files: { input: string; outDir: string };
  /** Absolute stream indexes from the probe; audio null: a video-only ladder. */
  videoStream: number;
  audioStream: number | null;
  /** High to low; rung i becomes variant v<i>. */
  rungs: readonly Rung[];
  /** Output constant frame rate, as ffmpeg reads it ("30000/1001"). */
  frameRate: string;
  segmentSeconds: number;
  /** Frames per GOP: segmentSeconds × output fps, so that every segment starts on a keyframe. */
  gop: number;
  x264Preset: X264Preset;
  av1Encoder: CpuAv1Encoder;
  /** AAC bitrate, "128k". */
  audioBitrate: string;
  loudness: 'ebu-r128' | null;
  gpuIndex: number | null;
}

export const NVENC_ENCODERS: Record<VideoCodec, string> = { h264: 'h264_nvenc', hevc: 'hevc_nvenc', av1: 'av1_nvenc' };

/** The input's x264 preset, carried over to SVT-AV1's 0 (slowest) … 13 scale at a similar speed. */
const SVT_AV1_PRESETS: Record<X264Preset, number> = {
  ultrafast: 12, superfast: 11, veryfast: 10, faster: 9, fast: 8, medium: 7, slow: 6, slower: 5, veryslow: 4, placebo: 2,
};

export interface LadderLayout {
  master: 'master.m3u8';
  variants: { rung: string; dir: string; playlist: string; init: string }[];
  audio: { dir: string; playlist: string; init: string } | null;
}

/** What ffmpeg writes under outDir for these args (paths relative to outDir; segments are `<dir>/seg_NNNNN.m4s`). */
export function ladderLayout(rungNames: readonly string[], hasAudio: boolean): LadderLayout {
  const streams = rungNames.length + (hasAudio ? 1 : 0);
  const entry = (k: number) => ({
    dir: `v${k}`,
    playlist: `v${k}/index.m3u8`,
    init: `v${k}/${streams > 1 ? `init_${k}.mp4` : 'init.mp4'}`,
  });
  return {
    master: 'master.m3u8',
    variants: rungNames.map((rung, k) => ({ rung, ...entry(k) })),
    audio: hasAudio ? entry(rungNames.length) : null,
  };
}

export function buildLadderCommand(path: TranscodePath, s: LadderSettings): string[] {
  if (path !== 'cpu' && s.gpuIndex === null) throw new Error(`ladder path ${path} needs a GPU index`);
  if (s.rungs.length === 0) throw new Error('a ladder needs at least one rung');
  return [
    ...GLOBAL_ARGS,
    ...inputHardeningArgs(),
    ...(s.gpuIndex === null || path === 'cpu' ? [] : cudaDecodeArgs(s.gpuIndex)),
    '-i', s.files.input,
    '-filter_complex', filterGraph(path, s),
    ...s.rungs.flatMap((_, i) => ['-map', `[v${i}]`]),
    ...(s.audioStream === null ? [] : ['-map', `0:${s.audioStream}`]),
    // As in the MP4 plan: no uploaded metadata carried over, no subtitle or data streams.
    '-map_metadata', '-1', '-sn', '-dn',
    // Constant frame rate, as in the MP4 plan; a fixed grid also makes the GOP a fixed duration.
    '-fps_mode', 'cfr', '-r', s.frameRate,
    ...s.rungs.flatMap((rung, i) => (path === 'nvdec-nvenc' ? nvencArgs(rung, i, s) : cpuEncoderArgs(rung, i, s))),
    ...audioArgs(s),
    ...hlsArgs(s),
  ];
}

/**
 * One decode, N branches. `split` only hands on references to the same frame and declares no
 * pixel formats of its own, so it passes CUDA frames as readily as system-memory ones: on the GPU
 * paths each branch gets its own scale_cuda, and the decoded frame is never copied.
 */
function filterGraph(path: TranscodePath, s: LadderSettings): string {
  const branches = s.rungs.map((_, i) => `[s${i}]`).join('');
  const scaled = s.rungs.map((rung, i) => `[s${i}]${scaleFilter(path, rung)}[v${i}]`);
  // The frame-rate grid once, before the split: every rung gets the same frames.
  return [`[0:${s.videoStream}]${frameGrid(s.frameRate)},split=${s.rungs.length}${branches}`, ...scaled].join(';');
}

function scaleFilter(path: TranscodePath, rung: Rung): string {
  const size = `${rung.width}:${rung.height}`;
  // setsar=1: the width came from the display aspect, so output pixels are square.
  switch (path) {
    case 'cpu':
      // As the MP4 plan: lanczos, then 8-bit 4:2:0 (also converts 10-bit and full-range sources).
      return `scale=${size}:flags=lanczos,setsar=1,format=yuv420p`;
    case 'nvdec-cpu': {
      // x264 takes NV12 as is; x265 and SVT-AV1 take planar yuv420p only, which scale_cuda can
      // write directly, so the CPU never converts.
      const format = rung.codec === 'h264' ? 'nv12' : 'yuv420p';
      return `scale_cuda=${size}:interp_algo=lanczos:format=${format},hwdownload,format=${format},setsar=1`;
    }
    case 'nvdec-nvenc':
      return `scale_cuda=${size}:interp_algo=lanczos:format=nv12,setsar=1`;
  }
}

/** Capped VBR: the average, a ceiling 10% above it, and a VBV buffer of two seconds at the average. */
function rateArgs(rung: Rung, v: string): string[] {
  return [`-b${v}`, kbps(rung.bitsPerSecond), `-maxrate${v}`, kbps(rung.maxrateBitsPerSecond), `-bufsize${v}`, kbps(rung.bufsizeBits)];
}

/**
 * Keyframes at the same instants in every rung, so a player can switch at any segment boundary:
 * one forced at each multiple of the segment duration (on the shared CFR grid), and the encoder's
 * own GOP fixed to the same length with scene-cut keyframes off.
 */
function forcedKeyframes(v: string, s: LadderSettings): string[] {
  return [`-force_key_frames${v}`, `expr:gte(t,n_forced*${s.segmentSeconds})`];
}

function cpuEncoderArgs(rung: Rung, i: number, s: LadderSettings): string[] {
  const v = `:v:${i}`;
  const g = String(s.gop);
  switch (rung.codec) {
    case 'h264':
      return [
        `-c${v}`, 'libx264', `-preset${v}`, s.x264Preset, ...rateArgs(rung, v),
        // x264 lowers keyint_min to keyint/2+1; sc_threshold 0 is what stops scene-cut keyframes.
        `-g${v}`, g, `-keyint_min${v}`, g, `-sc_threshold${v}`, '0', ...forcedKeyframes(v, s),
        `-profile${v}`, 'high',
      ];
    case 'hevc':
      return [
        `-c${v}`, 'libx265', `-preset${v}`, s.x264Preset, ...rateArgs(rung, v),
        // Closed GOPs: an open GOP's leading frames reference the previous segment.
        `-x265-params${v}`, `keyint=${g}:min-keyint=${g}:scenecut=0:open-gop=0:log-level=error`,
        `-forced-idr${v}`, '1', ...forcedKeyframes(v, s),
        // Apple's players play HEVC in MP4 only when tagged hvc1 (parameter sets in the init segment).
        `-tag${v}`, 'hvc1',
      ];
    case 'av1':
      if (s.av1Encoder === 'libaom-av1') {
        return [
          `-c${v}`, 'libaom-av1', `-cpu-used${v}`, '8', `-row-mt${v}`, '1', ...rateArgs(rung, v),
          `-g${v}`, g, `-keyint_min${v}`, g, ...forcedKeyframes(v, s),
        ];
      }
      return [
        `-c${v}`, 'libsvtav1', `-preset${v}`, String(SVT_AV1_PRESETS[s.x264Preset]), ...rateArgs(rung, v),
        // ffmpeg 5.1's libsvtav1 ignores forced keyframes (tested with SVT-AV1 1.4.1): the fixed
        // key-frame interval -g alone aligns the rungs. scd=0: no extra keyframes at scene changes.
        `-g${v}`, g, `-svtav1-params${v}`, 'scd=0', ...forcedKeyframes(v, s),
      ];
  }
}

function nvencArgs(rung: Rung, i: number, s: LadderSettings): string[] {
  const v = `:v:${i}`;
  const profile = rung.codec === 'h264' ? [`-profile${v}`, 'high'] : rung.codec === 'hevc' ? [`-profile${v}`, 'main', `-tag${v}`, 'hvc1'] : [];
  return [
    `-c${v}`, NVENC_ENCODERS[rung.codec], `-preset${v}`, 'p5', `-tune${v}`, 'hq', `-rc${v}`, 'vbr', ...rateArgs(rung, v),
    // forced-idr: the forced keyframes become IDR frames, which HLS segments must start with.
    `-g${v}`, String(s.gop), `-forced-idr${v}`, '1', `-no-scenecut${v}`, '1', ...forcedKeyframes(v, s),
    ...profile,
    `-gpu${v}`, String(s.gpuIndex),
  ];
}


/** Video variants v:0…v:N-1 (all in one audio group when there is audio), then the shared audio. */
export function varStreamMap(rungCount: number, hasAudio: boolean): string {
  const group = hasAudio ? ',agroup:aud' : '';
  const video = Array.from({ length: rungCount }, (_, i) => `v:${i}${group}`);
  return [...video, ...(hasAudio ? ['a:0,agroup:aud'] : [])].join(' ');
}

function hlsArgs(s: LadderSettings): string[] {
  return [
    '-f', 'hls', '-hls_time', String(s.segmentSeconds), '-hls_playlist_type', 'vod',
    // CMAF-style fragmented MP4 segments: one set of files serves HLS (and DASH later).
    '-hls_segment_type', 'fmp4',
    // Every segment starts with a keyframe (see forcedKeyframes): players may switch anywhere.
    '-hls_flags', 'independent_segments',
    '-hls_fmp4_init_filename', 'init.mp4',
    '-hls_segment_filename', path.join(s.files.outDir, 'v%v', 'seg_%05d.m4s'),
    '-master_pl_name', 'master.m3u8',
    '-var_stream_map', varStreamMap(s.rungs.length, s.audioStream !== null),
    path.join(s.files.outDir, 'v%v', 'index.m3u8'),
  ];
}
