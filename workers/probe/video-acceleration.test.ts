import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readGpus, type CommandResult, type RunCommand } from './nvidia-smi.js';
import {
  nvdecTestArgs,
  nvencTestArgs,
  parseFfmpegEncoders,
  probeVideoAcceleration,
  sampleEncodeArgs,
  scaleCudaTestArgs,
} from './video-acceleration.js';

const QUIET = ['-hide_banner', '-loglevel', 'error', '-nostdin'];

// `ffmpeg -hide_banner -encoders` from Debian 12's ffmpeg 5.1.
const FFMPEG_51_ENCODERS = parseFfmpegEncoders(
  await readFile(new URL('./fixtures/ffmpeg-5.1-encoders.txt', import.meta.url), 'utf8'),
);

describe('command builders', () => {
  it('encodes one black frame with NVENC on the given GPU', () => {
    expect(nvencTestArgs('hevc_nvenc', 1)).toEqual([
      ...QUIET,
      ...['-f', 'lavfi', '-i', 'color=black:s=256x256:d=0.04'],
      ...['-frames:v', '1'],
      ...['-c:v', 'hevc_nvenc', '-gpu', '1'],
      ...['-f', 'null', '-'],
    ]);
  });

  it('decodes one frame through -hwaccel cuda with the native decoder, failing if it fell back to the CPU', () => {
    expect(nvdecTestArgs('av1', 2, '/tmp/p/nvdec-sample-av1.mkv')).toEqual([
      ...QUIET,
      ...['-hwaccel', 'cuda', '-hwaccel_device', '2', '-hwaccel_output_format', 'cuda'],
      ...['-c:v', 'av1'],
      ...['-i', '/tmp/p/nvdec-sample-av1.mkv'],
      ...['-frames:v', '1'],
      ...['-vf', 'hwdownload,format=nv12'],
      ...['-f', 'null', '-'],
    ]);
  });

  it('makes each NVDEC sample on the CPU with the encoder this ffmpeg has', () => {
    const tail = (encoder: string[]): string[] => [
      ...QUIET,
      '-y',
      ...['-f', 'lavfi', '-i', 'testsrc2=s=256x144:d=0.1'],
      ...['-c:v', ...encoder],
      ...['-pix_fmt', 'yuv420p'],
      '/t/s.mkv',
    ];
    expect(sampleEncodeArgs('h264', '/t/s.mkv', FFMPEG_51_ENCODERS)).toEqual(tail(['libx264']));
    expect(sampleEncodeArgs('hevc', '/t/s.mkv', FFMPEG_51_ENCODERS)).toEqual(
      tail(['libx265', '-x265-params', 'log-level=error']),
    );
    expect(sampleEncodeArgs('av1', '/t/s.mkv', FFMPEG_51_ENCODERS)).toEqual(tail(['libsvtav1']));
    expect(sampleEncodeArgs('av1', '/t/s.mkv', ['libaom-av1'])).toEqual(tail(['libaom-av1', '-cpu-used', '8']));
    expect(sampleEncodeArgs('vp9', '/t/s.mkv', FFMPEG_51_ENCODERS)).toEqual(tail(['libvpx-vp9']));
    expect(sampleEncodeArgs('vp9', '/t/s.mkv', ['libx264'])).toBeNull();
  });

  it('uploads one frame to the given GPU and scales it with scale_cuda', () => {
    expect(scaleCudaTestArgs(3)).toEqual([
      ...QUIET,
      ...['-init_hw_device', 'cuda=gpu:3', '-filter_hw_device', 'gpu'],
      ...['-f', 'lavfi', '-i', 'color=black:s=256x144:d=0.04'],
      ...['-frames:v', '1'],
      ...['-vf', 'format=nv12,hwupload,scale_cuda=128:72'],
      ...['-f', 'null', '-'],
    ]);
  });
});

describe('parseFfmpegEncoders', () => {
  it('reads every encoder of the real ffmpeg 5.1 listing and none of its legend', () => {
    expect(FFMPEG_51_ENCODERS).toHaveLength(217); // 227 lines less the 10 of the legend
    expect(new Set(FFMPEG_51_ENCODERS).size).toBe(217);
    expect(FFMPEG_51_ENCODERS[0]).toBe('a64multi');
    expect(FFMPEG_51_ENCODERS).toEqual(
      expect.arrayContaining(['libx264', 'libx265', 'libvpx-vp9', 'aac', 'libsvtav1', 'libaom-av1', 'h264_nvenc']),
    );
    // Debian's 5.1 predates av1_nvenc (ffmpeg 6.0).
    expect(FFMPEG_51_ENCODERS).not.toContain('av1_nvenc');
    for (const legend of ['V.....', 'A.....', 'S.....', '.F....', '------', '=', 'Encoders:']) {
      expect(FFMPEG_51_ENCODERS).not.toContain(legend);
    }
  });

  it('reads nothing from output without the separator', () => {
    expect(parseFfmpegEncoders('ffmpeg: command not found\n')).toEqual([]);
  });
});

/** A fake ffmpeg: answers each call from `answer`, records the argument lists, refuses other commands. */
function fakeFfmpeg(answer: (args: string[]) => CommandResult): RunCommand & { calls: string[][] } {
  const calls: string[][] = [];
  const run = async (cmd: string, args: string[]): Promise<CommandResult> => {
    if (cmd !== 'ffmpeg') throw new Error(`unexpected command: ${cmd}`);
    calls.push(args);
    return answer(args);
  };
  return Object.assign(run, { calls });
}

const pass: CommandResult = { code: 0, stdout: '', stderr: '' };
const fail = (stderr: string): CommandResult => ({ code: 1, stdout: '', stderr });
const isNvenc = (args: string[]): boolean => args.some((arg) => arg.endsWith('_nvenc'));
const isSample = (args: string[]): boolean => args.includes('testsrc2=s=256x144:d=0.1');
const ALL_ENCODERS = ['libx264', 'libx265', 'libsvtav1', 'libvpx-vp9', 'h264_nvenc', 'hevc_nvenc', 'av1_nvenc'];
const H100 = { gpuIndex: 0, gpuName: 'NVIDIA H100 80GB HBM3', tmpDir: '/tmp/probe' };

describe('probeVideoAcceleration', () => {
  it('keeps every path when every test passes, running the commands one by one', async () => {
    const run = fakeFfmpeg(() => pass);
    const result = await probeVideoAcceleration({ ...H100, gpuIndex: 1, ffmpegEncoders: ALL_ENCODERS, run });
    expect(result).toEqual({
      acceleration: {
        gpuIndex: 1,
        nvdecCodecs: ['h264', 'hevc', 'av1', 'vp9'],
        nvencEncoders: ['h264_nvenc', 'hevc_nvenc', 'av1_nvenc'],
        scaleCuda: true,
      },
      notes: [],
    });
    const sample = (codec: 'h264' | 'hevc' | 'av1' | 'vp9'): string[] =>
      sampleEncodeArgs(codec, `/tmp/probe/nvdec-sample-${codec}.mkv`, ALL_ENCODERS) ?? [];
    expect(run.calls).toEqual([
      nvencTestArgs('h264_nvenc', 1),
      nvencTestArgs('hevc_nvenc', 1),
      nvencTestArgs('av1_nvenc', 1),
      ...(['h264', 'hevc', 'av1', 'vp9'] as const).flatMap((codec) => [
        sample(codec),
        nvdecTestArgs(codec, 1, `/tmp/probe/nvdec-sample-${codec}.mkv`),
      ]),
      scaleCudaTestArgs(1),
    ]);
  });

  it('on an H100 (NVDEC, no NVENC) keeps decode and scale, and says why each encoder is out', async () => {
    const run = fakeFfmpeg((args) =>
      isNvenc(args)
        ? fail(
            '[h264_nvenc @ 0x55d0c0a1b2c0] OpenEncodeSessionEx failed: unsupported device (2): (no details)\n' +
              'Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0\n',
          )
        : pass,
    );
    const result = await probeVideoAcceleration({ ...H100, ffmpegEncoders: FFMPEG_51_ENCODERS, run });
    expect(result).toEqual({
      acceleration: { gpuIndex: 0, nvdecCodecs: ['h264', 'hevc', 'av1', 'vp9'], nvencEncoders: [], scaleCuda: true },
      notes: [
        'h264_nvenc on GPU 0 (NVIDIA H100 80GB HBM3): [h264_nvenc] OpenEncodeSessionEx failed: unsupported device (2): (no details)',
        'hevc_nvenc on GPU 0 (NVIDIA H100 80GB HBM3): [h264_nvenc] OpenEncodeSessionEx failed: unsupported device (2): (no details)',
        'av1_nvenc on GPU 0 (NVIDIA H100 80GB HBM3): not tested, this ffmpeg has no av1_nvenc encoder',
      ],
    });
  });

  it('returns null and a note per path when nothing passes', async () => {
    const run = fakeFfmpeg((args) => (isSample(args) ? pass : fail('[AVHWDeviceContext @ 0x5581] Cannot load libcuda.so.1')));
    const result = await probeVideoAcceleration({ ...H100, ffmpegEncoders: ALL_ENCODERS, run });
    const why = 'on GPU 0 (NVIDIA H100 80GB HBM3): [AVHWDeviceContext] Cannot load libcuda.so.1';
    expect(result).toEqual({
      acceleration: null,
      notes: [
        `h264_nvenc ${why}`,
        `hevc_nvenc ${why}`,
        `av1_nvenc ${why}`,
        `h264 NVDEC ${why}`,
        `hevc NVDEC ${why}`,
        `av1 NVDEC ${why}`,
        `vp9 NVDEC ${why}`,
        `scale_cuda ${why}`,
      ],
    });
  });

  it('says which decoders went untested for want of a sample, and why a sample failed', async () => {
    const run = fakeFfmpeg((args) =>
      args.includes('libsvtav1') ? fail('Svt[info]: -------\nSvt[error]: Instance 1: Source Width must be at least 64') : pass,
    );
    const result = await probeVideoAcceleration({
      ...H100,
      ffmpegEncoders: ['libx264', 'libsvtav1'],
      run,
    });
    expect(result.acceleration).toEqual({ gpuIndex: 0, nvdecCodecs: ['h264'], nvencEncoders: [], scaleCuda: true });
    expect(result.notes.slice(3)).toEqual([
      'hevc NVDEC on GPU 0 (NVIDIA H100 80GB HBM3): not tested, this ffmpeg has no CPU hevc encoder to make a sample',
      'av1 NVDEC on GPU 0 (NVIDIA H100 80GB HBM3): not tested, the CPU sample encode failed: Svt[error]: Instance 1: Source Width must be at least 64',
      'vp9 NVDEC on GPU 0 (NVIDIA H100 80GB HBM3): not tested, this ffmpeg has no CPU vp9 encoder to make a sample',
    ]);
  });

  it('never throws when the runner does', async () => {
    const run: RunCommand = async () => {
      throw new Error('spawn ffmpeg EACCES');
    };
    const result = await probeVideoAcceleration({ ...H100, ffmpegEncoders: ['h264_nvenc'], run });
    expect(result.acceleration).toBeNull();
    expect(result.notes[0]).toBe('h264_nvenc on GPU 0 (NVIDIA H100 80GB HBM3): spawn ffmpeg EACCES');
  });
});

/** The real runner: a missing binary comes back as 127, like a shell says it. */
const execRun: RunCommand = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) return resolve({ code: 0, stdout, stderr });
      const code = err.code === 'ENOENT' ? 127 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr: stderr || err.message });
    });
  });

describe('probeVideoAcceleration on this machine', () => {
  it('runs the real commands; without a GPU it finds nothing and says why for every path', async () => {
    const { gpus } = await readGpus(execRun);
    const listing = await execRun('ffmpeg', ['-hide_banner', '-encoders']);
    const tmpDir = await mkdtemp(join(tmpdir(), 'malan-video-probe-'));
    try {
      const result = await probeVideoAcceleration({
        gpuIndex: 0,
        gpuName: gpus[0]?.name ?? 'no GPU',
        ffmpegEncoders: parseFfmpegEncoders(listing.stdout),
        tmpDir,
        run: execRun,
      });
      // The CPU samples are real whatever the GPU: the sample commands work on this ffmpeg.
      expect(result.notes.filter((note) => note.includes('sample encode failed'))).toEqual([]);
      if (listing.code === 0) {
        expect((await readdir(tmpDir)).sort()).toEqual(
          ['av1', 'h264', 'hevc', 'vp9'].map((codec) => `nvdec-sample-${codec}.mkv`),
        );
      }
      if (gpus.length === 0) {
        expect(result.acceleration).toBeNull();
        expect(result.notes.some((note) => note.startsWith('scale_cuda on GPU 0 (no GPU): '))).toBe(true);
        expect(result.notes.filter((note) => / NVDEC on GPU 0/.test(note))).toHaveLength(4);
      }
    } finally {
      await rm(tmpDir, { recursive: true, force: true });
    }
  }, 120_000);
});
