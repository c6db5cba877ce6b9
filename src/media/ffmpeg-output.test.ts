import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseBenchLine, ProgressParser, type FfmpegProgress } from './ffmpeg-output.js';

const run = promisify(execFile);

const BLOCK = ['frame=25', 'fps=12.50', 'bitrate=N/A', 'out_time_us=1000000', 'out_time=00:00:01.000000', 'speed=1.5x', 'progress=continue', ''].join('\n');

/** Feeds `text` to a fresh parser in chunks of `size` characters and collects every progress. */
function feed(text: string, size: number): FfmpegProgress[] {
  const parser = new ProgressParser();
  const out: FfmpegProgress[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...parser.push(text.slice(i, i + size)));
  return out;
}

describe('ProgressParser', () => {
  it('reads a whole block', () => {
    expect(new ProgressParser().push(BLOCK)).toEqual([{ outTimeSeconds: 1, frame: 25, fps: 12.5, speed: 1.5, done: false }]);
  });

  it('yields nothing until the progress line is complete, then the same block as when whole', () => {
    const parser = new ProgressParser();
    const cut = BLOCK.indexOf('progress=') + 'progress=cont'.length; // mid-line, inside the last line
    expect(parser.push(BLOCK.slice(0, 12))).toEqual([]); // "frame=25\nfps": ends inside the second line
    expect(parser.push(BLOCK.slice(12, cut))).toEqual([]);
    expect(parser.push(BLOCK.slice(cut))).toEqual([{ outTimeSeconds: 1, frame: 25, fps: 12.5, speed: 1.5, done: false }]);
  });

  it('gives the same result whatever the chunk size, across blocks', () => {
    const end = ['frame=50', 'fps=25.00', 'out_time_us=2000000', 'speed=2x', 'progress=end', ''].join('\n');
    const text = BLOCK + end;
    const expected = [
      { outTimeSeconds: 1, frame: 25, fps: 12.5, speed: 1.5, done: false },
      { outTimeSeconds: 2, frame: 50, fps: 25, speed: 2, done: true },
    ];
    for (const size of [1, 3, 7, 64, text.length]) expect(feed(text, size)).toEqual(expected);
  });

  it('does not carry keys from one block into the next', () => {
    const second = ['out_time_us=500000', 'progress=continue', ''].join('\n');
    expect(feed(BLOCK + second, 5)[1]).toEqual({ outTimeSeconds: 0.5, frame: null, fps: null, speed: null, done: false });
  });

  it('reads out_time_us=N/A and speed=N/A (before the first frame) as 0 and null', () => {
    const block = ['frame=0', 'fps=0.00', 'out_time_us=N/A', 'out_time_ms=N/A', 'speed=N/A', 'progress=continue', ''].join('\n');
    expect(new ProgressParser().push(block)).toEqual([{ outTimeSeconds: 0, frame: 0, fps: 0, speed: null, done: false }]);
  });

  it('falls back to out_time_ms, which is microseconds too', () => {
    expect(new ProgressParser().push('out_time_ms=2500000\nprogress=continue\n')[0]?.outTimeSeconds).toBe(2.5);
  });

  it('accepts CRLF line ends and ignores lines without a key', () => {
    expect(new ProgressParser().push('garbage\r\n=x\r\nout_time_us=3000000\r\nprogress=end\r\n')).toEqual([
      { outTimeSeconds: 3, frame: null, fps: null, speed: null, done: true },
    ]);
  });

  it('reads real ffmpeg -progress output fed in 7-byte chunks', async () => {
    const { stdout } = await run('ffmpeg', [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-progress', 'pipe:1', '-nostats',
      '-f', 'lavfi', '-i', 'testsrc2=s=160x120:d=1', '-f', 'null', '-',
    ]);
    const all = feed(stdout, 7);
    expect(all.length).toBeGreaterThan(0);
    expect(all.slice(0, -1).every((p) => !p.done)).toBe(true);
    const last = all.at(-1)!;
    expect(last.done).toBe(true);
    expect(last.outTimeSeconds).toBeCloseTo(1, 1);
    expect(last.frame).toBe(25); // testsrc2 runs at 25 fps
  });
});

describe('parseBenchLine', () => {
  it('adds user and system time', () => {
    expect(parseBenchLine('bench: utime=0.062s stime=0.016s rtime=0.072s')).toBeCloseTo(0.078, 10);
  });

  it('reads a line with a log level prefix', () => {
    expect(parseBenchLine('[info] bench: utime=1.500s stime=0.250s rtime=0.900s')).toBeCloseTo(1.75, 10);
  });

  it('gives null for other lines', () => {
    expect(parseBenchLine('bench: maxrss=12345kB')).toBeNull();
    expect(parseBenchLine('[info] Stream mapping:')).toBeNull();
    expect(parseBenchLine('frame=   25 fps=0.0 q=-0.0 Lsize=N/A time=00:00:01.00 bitrate=N/A speed= 608x')).toBeNull();
    expect(parseBenchLine('')).toBeNull();
  });
});
