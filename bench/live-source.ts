/**
 * The live phase's encoder, without the encoder's CPU: a 1080p30 H.264 + AAC stream is cut into
 * 2 s MPEG-TS segments once (ffmpeg's own hls muxer, with the settings a live encoder uses), and
 * then replayed to each channel's ingest URL in real time by an in-process HTTP PUT pusher. On a
 * 2-core host a live x264 encoder per channel would take the very cores the farm is measured on.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { probeSegment } from '../src/media/ffmpeg.js';
import type { SegmentProbe } from '../src/media/segment-probe.js';
import { sleep } from './measure.js';

export interface LiveSourceSegment {
  file: string;
  duration: number;
  bytes: number;
  probe: SegmentProbe;
}

export interface LiveSource {
  width: number;
  height: number;
  fps: number;
  segmentSeconds: number;
  /** The argv that cut the segments (recorded in results.json). */
  args: string[];
  segments: LiveSourceSegment[];
}

/**
 * `testsrc2` (as bench/transcode.ts `makeClip` draws it) + a sine, encoded as the encoder
 * command does: x264 veryfast, a keyframe every 2 s exactly (-g/-keyint_min, no scene cuts), AAC,
 * HLS with MPEG-TS segments of `segmentSeconds`.
 */
export async function prepareLiveSource(opts: { ffmpegPath: string; ffprobePath: string; dir: string; seconds: number; segmentSeconds: number }): Promise<LiveSource> {
  const { width, height, fps } = { width: 1920, height: 1080, fps: 30 };
  const gop = String(fps * opts.segmentSeconds);
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=s=${width}x${height}:r=${fps}:d=${opts.seconds}`,
    '-f', 'lavfi', '-i', `sine=d=${opts.seconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
    '-c:a', 'aac',
    '-f', 'hls', '-hls_time', String(opts.segmentSeconds), '-hls_list_size', '0', '-hls_segment_type', 'mpegts',
    '-hls_segment_filename', path.join(opts.dir, 'seg%03d.ts'),
    path.join(opts.dir, 'source.m3u8'),
  ];
  await promisify(execFile)(opts.ffmpegPath, args);
  const durations = [...readFileSync(path.join(opts.dir, 'source.m3u8'), 'utf8').matchAll(/#EXTINF:([\d.]+),\s*\n(\S+)/g)].map((m) => ({ duration: Number(m[1]), name: m[2]! }));
  const onDisk = readdirSync(opts.dir).filter((f) => f.endsWith('.ts'));
  if (durations.length === 0 || durations.length !== onDisk.length) throw new Error(`pre-segmenting gave ${onDisk.length} segments but the playlist lists ${durations.length}`);
  const segments: LiveSourceSegment[] = [];
  for (const d of durations) {
    const file = path.join(opts.dir, d.name);
    segments.push({ file, duration: d.duration, bytes: statSync(file).size, probe: await probeSegment(file, { ffprobePath: opts.ffprobePath }) });
  }
  return { width, height, fps, segmentSeconds: opts.segmentSeconds, args, segments };
}

/** When each segment is complete at the encoder, from its start: the end of its span of the stream. */
export function segmentEnds(source: LiveSource, count: number): number[] {
  let t = 0;
  return source.segments.slice(0, count).map((s) => (t += s.duration));
}

/** What `ffmpeg -f hls -hls_list_size 5` writes after segment `last`: the last five, ENDLIST at the end. */
export function encoderPlaylist(source: LiveSource, last: number, ended: boolean, listSize = 5): string {
  const first = Math.max(0, last - listSize + 1);
  const listed = source.segments.slice(first, last + 1);
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${Math.ceil(Math.max(...listed.map((s) => s.duration)))}`, `#EXT-X-MEDIA-SEQUENCE:${first}`];
  listed.forEach((s, i) => lines.push(`#EXTINF:${s.duration.toFixed(6)},`, `index${first + i}.ts`));
  if (ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

export interface PushResult {
  segments: number;
  /** How late each segment's PUT started against its due time (ms): the pusher's own pacing error. */
  lateMs: number[];
  /** Bytes sent → the farm's answer (ms): a segment's is its storing and ffprobe, a playlist's its placing and queueing. */
  segmentAnswerMs: number[];
  playlistAnswerMs: number[];
  /** Requests the farm answered with anything but 2xx, as "status name: body". */
  refused: string[];
}

/**
 * Replays `count` segments to one channel in real time from `startAt` (performance.now() ms):
 * segment i is PUT when the encoder would have finished it, and its playlist right behind it once
 * the segment's bytes are sent — without waiting for the segment's answer, as ffmpeg's hls muxer
 * does (its HTTP close reads the reply non-blocking). All answers are collected before returning.
 * `awaitSegment` waits for the segment's answer first instead: an encoder kinder than ffmpeg.
 */
export async function pushChannel(opts: { ingestUrl: string; source: LiveSource; count: number; startAt: number; awaitSegment?: boolean }): Promise<PushResult> {
  const ends = segmentEnds(opts.source, opts.count);
  const lateMs: number[] = [];
  const segmentAnswers: Array<Promise<Answer>> = [];
  const playlistAnswers: Array<Promise<Answer>> = [];
  for (let i = 0; i < ends.length; i++) {
    const due = opts.startAt + ends[i]! * 1000;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    lateMs.push(Math.max(0, performance.now() - due));
    const segment = put(`${opts.ingestUrl}/index${i}.ts`, readFileSync(opts.source.segments[i]!.file), 'video/mp2t');
    await segment.sent;
    // Not ffmpeg: a patient encoder that sends the playlist only once the segment was answered.
    if (opts.awaitSegment) await segment.answer;
    const playlist = put(`${opts.ingestUrl}/index.m3u8`, Buffer.from(encoderPlaylist(opts.source, i, i === ends.length - 1)), 'application/vnd.apple.mpegurl');
    await playlist.sent;
    segmentAnswers.push(segment.answer);
    playlistAnswers.push(playlist.answer);
  }
  const seg = await Promise.all(segmentAnswers);
  const list = await Promise.all(playlistAnswers);
  const refused = [...seg, ...list].map((a) => a.refused).filter((r): r is string => r !== null);
  return { segments: ends.length, lateMs, segmentAnswerMs: seg.map((a) => a.ms), playlistAnswerMs: list.map((a) => a.ms), refused };
}

interface Answer {
  /** Null on 2xx, else what the farm said. */
  refused: string | null;
  /** From the body's last byte flushed to the answer's end. */
  ms: number;
}

/** One PUT: `sent` when the body is flushed to the socket, then the farm's answer. */
function put(url: string, body: Buffer, contentType: string): { sent: Promise<void>; answer: Promise<Answer> } {
  let flushedAt = 0;
  let sent!: () => void;
  const flushed = new Promise<void>((r) => (sent = r));
  const answer = new Promise<Answer>((done) => {
    const resolve = (refused: string | null) => done({ refused, ms: performance.now() - (flushedAt || performance.now()) });
    const req = http.request(url, { method: 'PUT', headers: { 'content-type': contentType, 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(res.statusCode! < 300 ? null : `${res.statusCode} ${path.basename(new URL(url).pathname)}: ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`));
      res.on('error', (err) => resolve(`response error ${path.basename(url)}: ${err.message}`));
    });
    req.on('error', (err) => {
      flushedAt ||= performance.now();
      sent();
      resolve(`request error ${path.basename(new URL(url).pathname)}: ${err.message}`);
    });
    req.end(body, () => {
      flushedAt = performance.now();
      sent();
    });
  });
  return { sent: flushed, answer };
}
