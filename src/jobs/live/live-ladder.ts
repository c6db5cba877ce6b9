/**
 * The channel's ladder, resolved once against its source (the first segment's probe): `auto` is
 * the source passed through, then up to three standard sizes below it; explicit rungs above the
 * source are dropped, never upscaled. Bitrates for encoded rungs follow the VOD ladder's table.
 */
import type { LiveRung, SegmentProbe } from '../../db/live-schema.js';
import { defaultBitrate, LADDER_HEIGHTS } from '../transcode/ladder.js';
import { parseBitrate } from '../transcode/spec.js';
import { rungName, type ChannelInput, type RungInput } from './spec.js';

const AUTO_ENCODED_RUNGS = 3;
/** An H.264 rung above this is too big for one x264 to encode in real time on a CPU; 4K and up pass through or use a GPU. */
export const MAX_ENCODED_HEIGHT = 2160;

export interface ResolvedLadder {
  rungs: LiveRung[];
  /** Rungs left out, and why: shown on the channel. */
  dropped: string[];
}

export function resolveLiveLadder(ladder: ChannelInput['ladder'], source: SegmentProbe): ResolvedLadder {
  const wanted: RungInput[] = ladder === 'auto' ? autoLadder(source) : ladder;
  const rungs: LiveRung[] = [];
  const dropped: string[] = [];
  const withAudio = (video: string | null) => (video === null ? null : [video, audioCodecs(source)].filter(Boolean).join(','));
  for (const r of wanted) {
    const name = rungName(r);
    if (r.passthrough) {
      rungs.push({ name, height: source.height, width: source.width, bitrate: 0, passthrough: true, codecs: withAudio(sourceCodecs(source)) });
      continue;
    }
    const height = r.height!;
    if (height > source.height) {
      dropped.push(`${name}: ${height}p is above the ${source.height}p source (never upscaled)`);
      continue;
    }
    if (height > MAX_ENCODED_HEIGHT) {
      dropped.push(`${name}: ${height}p is encoded only up to ${MAX_ENCODED_HEIGHT}p; pass the source through instead`);
      continue;
    }
    const width = evenWidth(source, height);
    rungs.push({ name, height, width, bitrate: r.bitrate ? parseBitrate(r.bitrate) : defaultBitrate(width, height, 'h264', source.fps), passthrough: false, codecs: withAudio(h264Codecs(height)) });
  }
  return { rungs: rungs.sort((a, b) => b.height - a.height || Number(b.passthrough) - Number(a.passthrough)), dropped };
}

function autoLadder(source: SegmentProbe): RungInput[] {
  const below = LADDER_HEIGHTS.filter((h) => h < source.height && h >= 360).slice(0, AUTO_ENCODED_RUNGS);
  return [{ passthrough: true }, ...below.map((height) => ({ height }))];
}

function evenWidth(source: SegmentProbe, height: number): number {
  const w = Math.round((source.width * height) / source.height);
  return w + (w % 2);
}

/** x264 High profile at the level the size needs (4.0 to 1080p30, 5.1 above). */
function h264Codecs(height: number): string {
  return height > 1080 ? 'avc1.640033' : 'avc1.640028';
}

/** The rungs' audio: copied when MP3, AC-3 or AAC (segment-plan.ts), else encoded to AAC. */
function audioCodecs(source: SegmentProbe): string | null {
  if (source.audioCodec === null) return null;
  return { mp3: 'mp4a.40.34', ac3: 'ac-3' }[source.audioCodec] ?? 'mp4a.40.2';
}

const H264_PROFILES: Record<string, string> = { Baseline: '42', 'Constrained Baseline': '42', Main: '4d', High: '64', 'High 10': '6e' };

/** RFC 6381 for a passed-through source, when its profile and level are known. */
export function sourceCodecs(p: SegmentProbe): string | null {
  if (p.level === null || p.profile === null) return null;
  if (p.videoCodec === 'h264' && H264_PROFILES[p.profile]) return `avc1.${H264_PROFILES[p.profile]}00${p.level.toString(16).padStart(2, '0')}`;
  if (p.videoCodec === 'hevc') return `hvc1.${p.profile === 'Main 10' ? 2 : 1}.6.L${p.level}.B0`;
  return null;
}
