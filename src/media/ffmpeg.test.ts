import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FfmpegProgress } from './ffmpeg-output.js';
import { FfmpegError, probeMedia, ProbeError, runFfmpeg, spawnFfmpegPipe, splitArgv } from './ffmpeg.js';
import { VIDEO } from '../../test/helpers/assets.js';
import { alive } from '../../test/helpers/process-alive.js';


describe('splitArgv', () => {
  it('splits input options, the input, output options and the output', () => {
    expect(splitArgv(['-ss', '2', '-i', 'in.mp4', '-c:v', 'libx264', '-crf', '23', 'out.mp4'])).toEqual({
      inputs: [{ options: ['-ss', '2'], input: 'in.mp4' }],
      outputOptions: ['-c:v', 'libx264', '-crf', '23'],
      output: 'out.mp4',
    });
  });

  it('accepts a command with no options', () => {
    expect(splitArgv(['-i', 'in.mp4', 'out.mp4'])).toEqual({ inputs: [{ options: [], input: 'in.mp4' }], outputOptions: [], output: 'out.mp4' });
  });

  it('keeps each input with the options before it', () => {
    expect(splitArgv(['-y', '-i', 'video.mp4', '-ss', '1', '-i', 'audio.m4a', '-map', '0:v', '-map', '1:a', '-c', 'copy', 'out.mp4'])).toEqual({
      inputs: [
        { options: ['-y'], input: 'video.mp4' },
        { options: ['-ss', '1'], input: 'audio.m4a' },
      ],
      outputOptions: ['-map', '0:v', '-map', '1:a', '-c', 'copy'],
      output: 'out.mp4',
    });
  });

  it('throws without -i, with -i and nothing after it, or with no output after the input', () => {
    expect(() => splitArgv(['-c:v', 'libx264', 'out.mp4'])).toThrow('an ffmpeg command needs an -i input and an output');
    expect(() => splitArgv(['-i'])).toThrow('an ffmpeg command needs an -i input and an output');
    expect(() => splitArgv(['-i', 'in.mp4'])).toThrow('an ffmpeg command needs an -i input and an output');
  });
});

describe('runFfmpeg', () => {
  it('passes every token whole, spaces and all', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'malan-ffmpeg-space-'));
    const out = path.join(dir, 'titled.mp4');
    await runFfmpeg(['-hide_banner', '-nostdin', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=160x120:d=0.2', '-metadata', 'title=two words', '-c:v', 'libx264', out]);
    const title = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format_tags=title', '-of', 'csv=p=0', out], { encoding: 'utf8' }).trim();
    expect(title).toBe('two words');
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a command with two inputs, each with its own options', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'malan-ffmpeg-two-'));
    const out = path.join(dir, 'muxed.mp4');
    await runFfmpeg(['-hide_banner', '-nostdin', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=160x120:d=1', '-f', 'lavfi', '-i', 'sine=d=1', '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-c:a', 'aac', out]);
    // An input with no options of its own, and an output with none.
    const copy = path.join(dir, 'copy.mp4');
    await runFfmpeg(['-y', '-i', out, '-i', out, copy]);
    expect(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', copy], { encoding: 'utf8' }).trim().split('\n')).toEqual(['video', 'audio']);
    const streams = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', out], { encoding: 'utf8' }).trim().split('\n');
    expect(streams).toEqual(['video', 'audio']);
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a short encode and reports progress, log lines, wall and CPU time', async () => {
    const progress: FfmpegProgress[] = [];
    const logs: string[] = [];
    const spawned: number[] = [];
    const result = await runFfmpeg(
      ['-f', 'lavfi', '-i', 'testsrc2=s=160x120:d=1', '-loglevel', 'level+info', '-benchmark', '-progress', 'pipe:1', '-nostats', '-f', 'null', '-'],
      { onProgress: (p) => progress.push(p), onLog: (l) => logs.push(l), onSpawn: (pid) => spawned.push(pid) },
    );
    expect(result.wallSeconds).toBeGreaterThan(0);
    expect(result.cpuSeconds).toBeGreaterThan(0);
    expect(spawned).toHaveLength(1);
    expect(progress.at(-1)).toMatchObject({ done: true, frame: 25 });
    expect(progress.at(-1)!.outTimeSeconds).toBeCloseTo(1, 1);
    expect(logs.some((l) => l.startsWith('[info]'))).toBe(true);
    // The benchmark lines are consumed, not logged.
    expect(logs.some((l) => l.includes('bench:'))).toBe(false);
  });

  it('counts the CPU time the kernel charged ffmpeg, with or without -benchmark', async () => {
    const bench: string[] = [];
    const args = ['-f', 'lavfi', '-i', 'testsrc2=s=320x240:d=1', '-benchmark', '-c:v', 'libx264', '-preset', 'medium', '-f', 'null', '-'];
    const result = await runFfmpeg(args, { onLog: (l) => bench.push(l) });
    // Without -benchmark too: the kernel's count does not depend on ffmpeg's report.
    const quiet = await runFfmpeg(args.filter((a) => a !== '-benchmark'));
    expect(result.cpuSeconds).toBeGreaterThan(0.05);
    expect(quiet.cpuSeconds).toBeGreaterThan(0.05);
  });

  it('rejects with ffmpeg’s reason and the stderr tail when the input does not exist', async () => {
    const missing = '/nonexistent/malan-missing.mp4';
    const err = await runFfmpeg(['-i', missing, '-f', 'null', '-']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FfmpegError);
    const e = err as FfmpegError;
    expect(e.aborted).toBe(false);
    expect(e.message).toContain('ffmpeg exited with code 1');
    expect(e.message).toContain('No such file or directory');
    expect(e.message).not.toContain('\n');
    expect(e.stderrTail.some((l) => l.includes(`${missing}: No such file or directory`))).toBe(true);
    expect(e.stderrTail.length).toBeLessThanOrEqual(20);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=d=1', '-f', 'null', '-'], { signal: controller.signal })).rejects.toMatchObject({
      aborted: true,
      message: 'aborted before start',
    });
  });

  it('stops ffmpeg on abort, and the process is gone when it rejects', async () => {
    const controller = new AbortController();
    let pid = 0;
    let resolveStarted!: () => void;
    const started = new Promise<void>((resolve) => (resolveStarted = resolve));
    const running = runFfmpeg(
      ['-f', 'lavfi', '-i', 'testsrc2=s=1280x720:d=600', '-progress', 'pipe:1', '-nostats', '-c:v', 'libx264', '-preset', 'veryslow', '-f', 'null', '-'],
      {
        signal: controller.signal,
        killGraceMs: 500,
        onSpawn: (p) => (pid = p),
        onProgress: () => resolveStarted(), // encoding is under way
      },
    );
    const outcome = running.catch((e: unknown) => e);
    await started;
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(true);
    controller.abort();
    const err = await outcome;
    expect(err).toBeInstanceOf(FfmpegError);
    expect(err).toMatchObject({ aborted: true, message: 'ffmpeg was stopped' });
    expect(alive(pid)).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  it('follows SIGTERM with SIGKILL when ffmpeg does not stop (blocked opening a FIFO with no writer)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'malan-ffmpeg-fifo-'));
    try {
      const fifo = path.join(dir, 'input');
      execFileSync('mkfifo', [fifo]);
      const controller = new AbortController();
      let pid = 0;
      const running = runFfmpeg(['-loglevel', 'debug', '-i', fifo, '-f', 'null', '-'], {
        signal: controller.signal,
        killGraceMs: 500,
        onSpawn: (p) => (pid = p),
        // Logged after ffmpeg has installed its signal handlers, just before the open() that blocks.
        onLog: (line) => {
          if (line.startsWith('Opening an input file')) controller.abort();
        },
      });
      await expect(running).rejects.toMatchObject({ aborted: true, message: 'ffmpeg was stopped' });
      expect(pid).toBeGreaterThan(0);
      expect(alive(pid)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('spawnFfmpegPipe', () => {
  const RAW_GRAY = ['-f', 'rawvideo', '-pix_fmt', 'gray', '-s', '4x2', '-framerate', '25'];

  it('takes frames on stdin and gives frames on stdout, with the CPU time of the run', async () => {
    const spawned: number[] = [];
    const pipe = spawnFfmpegPipe(['-nostdin', '-loglevel', 'level+info', '-benchmark', ...RAW_GRAY, '-i', 'pipe:0', '-vf', 'negate', ...RAW_GRAY.slice(0, 4), 'pipe:1'], {
      onSpawn: (pid) => spawned.push(pid),
    });
    const out: Buffer[] = [];
    pipe.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    pipe.stdin.end(Buffer.from([0, 10, 20, 30, 40, 50, 60, 255, 1, 2, 3, 4, 5, 6, 7, 8]));
    const result = await pipe.done;
    expect([...Buffer.concat(out)]).toEqual([255, 245, 235, 225, 215, 205, 195, 0, 254, 253, 252, 251, 250, 249, 248, 247]);
    expect(result.cpuSeconds).toBeGreaterThan(0);
    expect(spawned).toHaveLength(1);
  });

  it('rejects with ffmpeg’s own error line and the stderr tail', async () => {
    const logs: string[] = [];
    const pipe = spawnFfmpegPipe(['-nostdin', '-loglevel', 'level+info', '-i', '/nonexistent/malan-missing.mp4', '-f', 'rawvideo', 'pipe:1'], { onLog: (l) => logs.push(l) });
    const err = await pipe.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FfmpegError);
    expect(err).toMatchObject({ aborted: false, message: '[error] /nonexistent/malan-missing.mp4: No such file or directory' });
    expect((err as FfmpegError).stderrTail).toEqual(logs);
  });

  it('rejects when the binary is missing', async () => {
    const pipe = spawnFfmpegPipe(['-version'], { ffmpegPath: '/nonexistent/ffmpeg' });
    await expect(pipe.done).rejects.toMatchObject({ message: 'spawn /nonexistent/ffmpeg ENOENT', aborted: false });
  });

  it('throws at once when the signal is already aborted', () => {
    expect(() => spawnFfmpegPipe(['-version'], { signal: AbortSignal.abort() })).toThrow('aborted before start');
  });

  it('kills an ffmpeg blocked writing to a stdout nobody reads: SIGTERM, then SIGKILL after the grace', async () => {
    const controller = new AbortController();
    let pid = 0;
    const pipe = spawnFfmpegPipe(['-nostdin', '-f', 'lavfi', '-i', 'testsrc2=s=640x360:d=60', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
      signal: controller.signal,
      killGraceMs: 300,
      onSpawn: (p) => (pid = p),
    });
    // Read one chunk so ffmpeg is surely running, then stop reading: the pipe fills and its write() blocks.
    await new Promise((resolve) => pipe.stdout.once('data', resolve));
    pipe.stdout.pause();
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    controller.abort();
    await expect(pipe.done).rejects.toMatchObject({ aborted: true, message: 'ffmpeg was stopped' });
    expect(performance.now() - started).toBeLessThan(3000);
    expect(alive(pid)).toBe(false);
  });
});

describe('probeMedia', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'malan-ffmpeg-door-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('probes a real MP4', async () => {
    const p = await probeMedia(path.join(VIDEO, 'flower.mp4'));
    expect(p).toMatchObject({ formatName: 'mov,mp4,m4a,3gp,3g2,mj2', durationSeconds: 5.055, sizeBytes: 1128375 });
    expect(p.video).toMatchObject({ index: 0, codec: 'h264', profile: 'High', width: 960, height: 540, frameRate: 30000 / 1001, frameCount: 150 });
    expect(p.audio).toEqual({ index: 1, codec: 'aac', channels: 2, sampleRate: 48000 });
  });

  it('rejects a text file with a ProbeError that does not repeat the path', async () => {
    const text = path.join(dir, 'notes.txt');
    await writeFile(text, 'these are not frames\nat all\n');
    const err = await probeMedia(text).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeError);
    expect((err as Error).message).toBe('the file: Invalid data found when processing input');
  });

  it('refuses an HLS playlist saved as .mp4 whose segment is file:///etc/passwd', async () => {
    const evil = path.join(dir, 'x.mp4');
    await writeFile(evil, ['#EXTM3U', '#EXT-X-TARGETDURATION:1', '#EXTINF:1,', 'file:///etc/passwd', '#EXT-X-ENDLIST', ''].join('\n'));
    const err = await probeMedia(evil).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeError);
    expect((err as Error).message).not.toContain('root:');
  });

  it('refuses an HLS playlist saved as .mp4 even when its segment is real media that plain ffprobe would read', async () => {
    const segment = path.join(dir, 'seg.ts');
    execFileSync('ffmpeg', ['-v', 'error', '-nostdin', '-f', 'lavfi', '-i', 'testsrc2=s=160x120:d=1', '-c:v', 'libx264', segment]);
    const playlist = path.join(dir, 'y.mp4');
    await writeFile(playlist, ['#EXTM3U', '#EXT-X-TARGETDURATION:1', '#EXTINF:1,', `file://${segment}`, '#EXT-X-ENDLIST', ''].join('\n'));
    // Control: without the hardening flags ffprobe follows the playlist, so the refusal below is the whitelist's doing.
    const plain = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-of', 'json', '-show_format', playlist], { encoding: 'utf8' })) as { format: { format_name: string } };
    expect(plain.format.format_name).toBe('hls');
    await expect(probeMedia(playlist)).rejects.toBeInstanceOf(ProbeError);
  });

  it('rejects a missing ffprobe binary with a ProbeError', async () => {
    await expect(probeMedia(path.join(VIDEO, 'flower.mp4'), { ffprobePath: '/nonexistent/ffprobe' })).rejects.toBeInstanceOf(ProbeError);
  });
});
