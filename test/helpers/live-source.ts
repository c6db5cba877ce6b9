/**
 * Live sources for tests: a real clip cut into 2 s MPEG-TS segments by ffmpeg's own HLS muxer
 * (what an encoder pushing to a channel sends), and a playlist in ffmpeg's words for any of them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ASSETS } from './assets.js';

export interface SegmentedSource {
  dir: string;
  segments: Array<{ name: string; bytes: Buffer; duration: number }>;
}

export function segmentClip(clip = 'video/smpte-2997.mp4', seconds = 2): SegmentedSource {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'malan-live-src-'));
  execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(ASSETS, clip), '-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-c:a', 'aac', '-f', 'hls', '-hls_time', String(seconds), '-hls_list_size', '0', path.join(dir, 'index.m3u8')]);
  const listed = readFileSync(path.join(dir, 'index.m3u8'), 'utf8');
  const durations = [...listed.matchAll(/#EXTINF:([\d.]+),\n(\S+)/g)].map((m) => ({ name: m[2]!, duration: Number(m[1]) }));
  const files = new Set(readdirSync(dir));
  return { dir, segments: durations.filter((d) => files.has(d.name)).map((d) => ({ ...d, bytes: readFileSync(path.join(dir, d.name)) })) };
}

/** The playlist ffmpeg PUTs after segment `upTo` (a sliding list of `size`), optionally ended. */
export function encoderPlaylist(src: SegmentedSource, upTo: number, opts: { size?: number; ended?: boolean; rename?: (name: string) => string } = {}): string {
  const first = Math.max(0, upTo - (opts.size ?? 5) + 1);
  const shown = src.segments.slice(first, upTo + 1);
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    '#EXT-X-TARGETDURATION:3',
    `#EXT-X-MEDIA-SEQUENCE:${first}`,
    ...shown.flatMap((s) => [`#EXTINF:${s.duration.toFixed(6)},`, opts.rename ? opts.rename(s.name) : s.name]),
    ...(opts.ended ? ['#EXT-X-ENDLIST'] : []),
    '',
  ].join('\n');
}
