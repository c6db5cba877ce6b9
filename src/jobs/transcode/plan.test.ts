import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuReading } from '../../capabilities/worker-capabilities.js';
import type { MediaProbe, VideoStreamInfo } from '../../media/media-probe.js';
import { inputHardeningArgs } from '../../media/input-hardening.js';
import { JobError } from '../job-error.js';
import { buildCommand, planTranscode, type CommandSettings, type TranscodeCapabilities } from './plan.js';
import type { TranscodeInput } from './spec.js';
import { VIDEO } from '../../../test/helpers/assets.js';

const FILES = { input: '/tmp/job/in', output: '/tmp/job/out.mp4' };
const SOURCE = { file: 'file_01hzy3k8m9x2v7q4w5e6r7t8y9' };
const HEAD = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'level+info', '-benchmark', '-progress', 'pipe:1', '-nostats', ...inputHardeningArgs()];
const AUDIO = ['-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000', '-af', 'aresample=async=1'];
const TAIL = ['-movflags', '+faststart', '-f', 'mp4', FILES.output];

function video(overrides: Partial<VideoStreamInfo> = {}): VideoStreamInfo {
  return {
    index: 0, codec: 'hevc', profile: 'Main', pixFmt: 'yuv420p', bitDepth: 8, width: 1920, height: 1080, rotation: 0,
    sampleAspect: { num: 1, den: 1 }, displayWidth: 1920, displayHeight: 1080, frameRate: 30000 / 1001,
    variableFrameRate: false, frameCount: 300, ...overrides,
  };
}

function probe(v: VideoStreamInfo | null, audio = true, durationSeconds = 10.01): MediaProbe {
  return {
    formatName: 'mov,mp4,m4a,3gp,3g2,mj2', durationSeconds, sizeBytes: 1_000_000, bitRate: 800_000, video: v,
    audio: audio ? { index: 1, codec: 'aac', channels: 2, sampleRate: 48000 } : null,
  };
}

function gpu(name: string): GpuReading {
  return {
    index: 0, uuid: 'GPU-0', name, memoryTotalMiB: 81559, memoryUsedMiB: 0, utilizationGpuPercent: 0,
    utilizationEncoderPercent: null, utilizationDecoderPercent: null, temperatureC: 30, powerDrawW: 70,
    driverVersion: '550.54', cudaVersion: '12.4',
  };
}

const NO_GPU: TranscodeCapabilities = { gpus: [], videoAcceleration: null };
const H100: TranscodeCapabilities = {
  gpus: [gpu('NVIDIA H100 80GB HBM3')],
  videoAcceleration: { gpuIndex: 0, nvdecCodecs: ['h264', 'hevc', 'av1', 'vp9'], nvencEncoders: [], scaleCuda: true },
};
const L4: TranscodeCapabilities = {
  gpus: [gpu('NVIDIA L4')],
  videoAcceleration: {
    gpuIndex: 0, nvdecCodecs: ['h264', 'hevc', 'av1', 'vp9'], nvencEncoders: ['h264_nvenc', 'hevc_nvenc', 'av1_nvenc'], scaleCuda: true,
  },
};

const at = (height: number, extra: Partial<TranscodeInput> = {}): TranscodeInput => ({ source: SOURCE, height, ...extra });
const paths = (caps: TranscodeCapabilities, v = video(), height = 720) =>
  planTranscode(at(height), probe(v), caps, FILES).attempts.map((a) => a.path);

describe('the three command paths', () => {
  const settings: CommandSettings = {
    files: FILES, videoStream: 0, audioStream: 1, width: 1280, height: 720, frameRate: '30000/1001',
    rateControl: { mode: 'crf', crf: 21 }, x264Preset: 'veryfast', audioBitrate: '128k', gpuIndex: 0,
  };
  const commonOut = ['-map', '0:0', '-map', '0:1', '-map_metadata', '-1', '-sn', '-dn'];
  const cuda = ['-hwaccel', 'cuda', '-hwaccel_device', '0', '-hwaccel_output_format', 'cuda'];

  it('cpu: libx264 from a CPU decode', () => {
    expect(buildCommand('cpu', settings)).toEqual([
      ...HEAD, '-i', FILES.input, ...commonOut,
      '-vf', 'fps=30000/1001,scale=1280:720:flags=lanczos,setsar=1,format=yuv420p', '-fps_mode', 'cfr', '-r', '30000/1001',
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '21', '-profile:v', 'high', '-pix_fmt', 'yuv420p', '-threads', '0',
      ...AUDIO, ...TAIL,
    ]);
  });

  it('nvdec-cpu: decode and scale on the GPU, libx264 on the CPU', () => {
    expect(buildCommand('nvdec-cpu', settings)).toEqual([
      ...HEAD, ...cuda, '-i', FILES.input, ...commonOut,
      '-vf', 'fps=30000/1001,scale_cuda=1280:720:interp_algo=lanczos:format=nv12,hwdownload,format=nv12,setsar=1',
      '-fps_mode', 'cfr', '-r', '30000/1001',
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '21', '-profile:v', 'high', '-threads', '0',
      ...AUDIO, ...TAIL,
    ]);
  });

  it('nvdec-nvenc: the frames never leave the GPU', () => {
    expect(buildCommand('nvdec-nvenc', settings)).toEqual([
      ...HEAD, ...cuda, '-i', FILES.input, ...commonOut,
      '-vf', 'fps=30000/1001,scale_cuda=1280:720:interp_algo=lanczos:format=nv12,setsar=1', '-fps_mode', 'cfr', '-r', '30000/1001',
      '-c:v', 'h264_nvenc', '-preset', 'p4', '-tune', 'hq', '-rc', 'vbr', '-cq', '21', '-b:v', '0', '-profile:v', 'high', '-gpu', '0',
      ...AUDIO, ...TAIL,
    ]);
  });

  it('a bitrate replaces constant quality on both encoders', () => {
    const rate = { ...settings, rateControl: { mode: 'bitrate', bitsPerSecond: 2_500_000 } } as const;
    const capped = ['-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '5000k'];
    expect(buildCommand('cpu', rate).join(' ')).toContain(['-preset', 'veryfast', ...capped, '-profile:v'].join(' '));
    expect(buildCommand('nvdec-nvenc', rate).join(' ')).toContain(['-rc', 'vbr', ...capped, '-profile:v'].join(' '));
  });

  it('refuses a GPU path without a GPU index', () => {
    expect(() => buildCommand('nvdec-cpu', { ...settings, gpuIndex: null })).toThrow(/needs a GPU index/);
  });
});

describe('planTranscode: path choice', () => {
  it('uses the CPU alone when there is no GPU, and says so', () => {
    const plan = planTranscode(at(720), probe(video()), NO_GPU, FILES);
    expect(plan.attempts).toHaveLength(1);
    expect(plan.attempts[0]).toMatchObject({ path: 'cpu', gpuIndex: null, reason: 'decode, scale and encode on the CPU: no GPU on this worker' });
  });

  it('H100 (NVDEC, no NVENC): decode on the GPU, encode on the CPU, then plain CPU', () => {
    const plan = planTranscode(at(720), probe(video()), H100, FILES);
    expect(plan.attempts.map((a) => [a.path, a.gpuIndex])).toEqual([['nvdec-cpu', 0], ['cpu', null]]);
    expect(plan.attempts[0]?.reason).toBe(
      'GPU 0 (NVIDIA H100 80GB HBM3) decodes hevc with NVDEC but has no H.264 NVENC: decode and scale on the GPU, encode H.264 on the CPU',
    );
    expect(plan.attempts[1]?.reason).toMatch(/^fallback if the GPU attempts fail/);
  });

  it('L4 (NVDEC + NVENC): the whole ladder, best first', () => {
    expect(paths(L4)).toEqual(['nvdec-nvenc', 'nvdec-cpu', 'cpu']);
  });

  it('decodes on the CPU what NVDEC did not pass its test for', () => {
    const plan = planTranscode(at(720), probe(video({ codec: 'prores', pixFmt: 'yuv422p10le', bitDepth: 10 })), L4, FILES);
    expect(plan.attempts.map((a) => a.path)).toEqual(['cpu']);
    expect(plan.attempts[0]?.reason).toContain('cannot decode prores with NVDEC (it decodes h264, hevc, av1, vp9)');
  });

  it('takes rotated sources off the GPU, with the reason', () => {
    const plan = planTranscode(at(720), probe(video({ rotation: 90, displayWidth: 1080, displayHeight: 1920 })), L4, FILES);
    expect(plan.attempts.map((a) => a.path)).toEqual(['cpu']);
    expect(plan.attempts[0]?.reason).toBe(
      "decode, scale and encode on the CPU: the source is rotated 90° and ffmpeg's autorotate filters run on the CPU only",
    );
  });

  it('takes 10-bit and full-range sources off the GPU', () => {
    const tenBit = planTranscode(at(720), probe(video({ pixFmt: 'yuv420p10le', bitDepth: 10 })), L4, FILES);
    expect(tenBit.attempts.map((a) => a.path)).toEqual(['cpu']);
    expect(tenBit.attempts[0]?.reason).toContain('the source is yuv420p10le (10-bit) and the GPU paths take 8-bit 4:2:0 only');
    expect(paths(L4, video({ codec: 'h264', pixFmt: 'yuvj420p' }))).toEqual(['cpu']);
  });

  it('skips NVENC when the output is wider than 4096 px', () => {
    const eightK = video({ width: 7680, height: 4320, displayWidth: 7680, displayHeight: 4320 });
    const plan = planTranscode(at(4320), probe(eightK), L4, FILES);
    expect(plan.target).toEqual({ width: 7680, height: 4320 });
    expect(plan.attempts.map((a) => a.path)).toEqual(['nvdec-cpu', 'cpu']);
    expect(plan.attempts[0]?.reason).toContain('NVENC H.264 stops at 4096 px and the output is 7680x4320');
    expect(paths(L4, eightK, 2160)).toEqual(['nvdec-nvenc', 'nvdec-cpu', 'cpu']);
  });

  it('names a GPU whose hardware tests all failed', () => {
    const plan = planTranscode(at(720), probe(video()), { gpus: [gpu('Tesla T4')], videoAcceleration: null }, FILES);
    expect(plan.attempts[0]?.reason).toBe('decode, scale and encode on the CPU: no hardware video path passed its test on GPU 0 (Tesla T4)');
  });
});

describe('planTranscode: output shape', () => {
  const target = (v: VideoStreamInfo, height: number) => planTranscode(at(height), probe(v), NO_GPU, FILES).target;

  it('never upscales', () => {
    expect(target(video({ width: 640, height: 360, displayWidth: 640, displayHeight: 360 }), 720)).toEqual({ width: 640, height: 360 });
  });

  it('keeps the display aspect with even dimensions', () => {
    // 720x480 with SAR 32:27 displays as 853.3x480.
    expect(target(video({ width: 720, height: 480, sampleAspect: { num: 32, den: 27 }, displayWidth: 853, displayHeight: 480 }), 1080))
      .toEqual({ width: 854, height: 480 });
    expect(target(video(), 720)).toEqual({ width: 1280, height: 720 });
    expect(target(video({ displayWidth: 1920, displayHeight: 1081 }), 2160)).toEqual({ width: 1918, height: 1080 });
  });

  it('swaps the dimensions of a source rotated by 90°', () => {
    expect(target(video({ rotation: 90, displayWidth: 1080, displayHeight: 1920 }), 720)).toEqual({ width: 406, height: 720 });
  });

  it('drops audio with -an when the source has none, and maps exactly the probed streams', () => {
    const args = planTranscode(at(720), probe(video({ index: 2 }), false), NO_GPU, FILES).attempts[0]?.args ?? [];
    expect(args).toContain('-an');
    expect(args).not.toContain('-c:a');
    expect(args.join(' ')).toContain('-map 0:2 -map_metadata -1');
  });

  it('caps the frame rate at 60 and writes NTSC rates exactly', () => {
    const rateOf = (frameRate: number) => {
      const args = planTranscode(at(720), probe(video({ frameRate })), NO_GPU, FILES).attempts[0]?.args ?? [];
      return args[args.indexOf('-r') + 1];
    };
    expect([rateOf(120), rateOf(60000 / 1001), rateOf(25), rateOf(750000 / 71393), rateOf(0)]).toEqual(['60', '60000/1001', '25', '10.505', '30']);
  });

  it('passes the settings through and reports the duration', () => {
    const plan = planTranscode(at(720, { crf: 18, preset: 'slow', audio: { bitrate: '96k' } }), probe(video()), L4, FILES);
    expect(plan.outputSeconds).toBe(10.01);
    const [nvenc, x264] = plan.attempts.map((a) => a.args.join(' '));
    expect(nvenc).toContain('-cq 18 -b:v 0');
    expect(x264).toContain('-preset slow -crf 18');
    expect(x264).toContain('-b:a 96k');
  });

  it('throws typed errors for a source without video and for features not built yet', () => {
    const noVideo = () => planTranscode(at(720), probe(null), NO_GPU, FILES);
    expect(noVideo).toThrow(JobError);
    expect(noVideo).toThrow(expect.objectContaining({ code: 'no_video_stream', retryable: false }));
    // A ladder has its own planner (ladder.ts); this one makes one MP4 at a height.
    const ladder = () => planTranscode({ source: SOURCE, ladder: 'auto', formats: ['hls', 'mp4'] }, probe(video()), NO_GPU, FILES);
    expect(ladder).toThrow(expect.objectContaining({ code: 'invalid_input', message: 'height is required' }));
    const notYet = () => planTranscode({ source: SOURCE, ladder: 'auto', crf: 20 }, probe(video()), NO_GPU, FILES);
    expect(notYet).toThrow(expect.objectContaining({ code: 'unsupported_input', message: expect.stringContaining('crf with a ladder') }));
  });
});

describe('the CPU plan, run for real', () => {
  const run = promisify(execFile);
  const ASSETS = VIDEO;
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'malan-transcode-plan-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Probes written by hand from `ffprobe -show_streams` of each asset, so this test covers the
  // plan and ffmpeg only.
  const clips: { name: string; height: number; probe: MediaProbe; expect: { width: number; height: number } }[] = [
    {
      name: 'flower.mp4',
      height: 240,
      probe: probe(video({ codec: 'h264', profile: 'High', width: 960, height: 540, displayWidth: 960, displayHeight: 540, frameCount: 150 }), true, 5.055),
      expect: { width: 426, height: 240 },
    },
    {
      // Display matrix of 180° and variable frame timing (r_frame_rate 90000, average 10.505).
      name: 'fire2_rotate180.mp4',
      height: 144,
      probe: {
        ...probe(video({ codec: 'h264', profile: 'Baseline', width: 1280, height: 720, rotation: 180, displayWidth: 1280, displayHeight: 720, frameRate: 750000 / 71393, variableFrameRate: true, frameCount: 25 }), true, 2.38),
        audio: { index: 1, codec: 'aac', channels: 1, sampleRate: 48000 },
      },
      expect: { width: 256, height: 144 },
    },
    {
      // 352x288 with SAR 63:44 displays as 504x288; mono AMR-NB at 8 kHz.
      name: 'h263_amrnb.3gp',
      height: 240,
      probe: {
        ...probe(video({ codec: 'h263', profile: null, width: 352, height: 288, sampleAspect: { num: 63, den: 44 }, displayWidth: 504, displayHeight: 288, frameRate: 30, frameCount: 166 }), true, 5.578),
        audio: { index: 1, codec: 'amr_nb', channels: 1, sampleRate: 8000 },
      },
      expect: { width: 420, height: 240 },
    },
  ];

  for (const clip of clips) {
    it(`transcodes ${clip.name} to a playable ${clip.height}p MP4`, async () => {
      const files = { input: join(ASSETS, clip.name), output: join(dir, `${clip.name}.mp4`) };
      const plan = planTranscode(at(clip.height), clip.probe, NO_GPU, files);
      expect(plan.target).toEqual(clip.expect);
      const [attempt] = plan.attempts;
      if (attempt === undefined) throw new Error('no attempt planned');
      const { stdout, stderr } = await run('ffmpeg', attempt.args);
      // The log is info level: no line may be a warning or an error.
      expect(stderr.split('\n').filter((l) => /^\[(warning|error|fatal)\]|\] \[(warning|error|fatal)\]/.test(l))).toEqual([]);
      expect(stderr).toMatch(/bench: utime=/);
      expect(stdout).toContain('progress=end');

      const { stdout: json } = await run('ffprobe', [
        '-v', 'error', '-show_entries',
        'format=duration:stream=codec_type,codec_name,profile,width,height,pix_fmt,sample_aspect_ratio,channels,sample_rate:stream_side_data',
        '-of', 'json', files.output,
      ]);
      const out = JSON.parse(json) as { format: { duration: string }; streams: Record<string, unknown>[] };
      expect(out.streams).toEqual([
        expect.objectContaining({
          codec_type: 'video', codec_name: 'h264', profile: 'High', pix_fmt: 'yuv420p', ...clip.expect, sample_aspect_ratio: '1:1',
        }),
        expect.objectContaining({ codec_type: 'audio', codec_name: 'aac', channels: 2, sample_rate: '48000' }),
      ]);
      // The rotation went into the pixels: no display matrix left for players to apply again.
      expect(out.streams[0]).not.toHaveProperty('side_data_list');
      expect(Math.abs(Number(out.format.duration) - plan.outputSeconds)).toBeLessThan(0.1);
      if (clip.probe.video?.rotation === 180) {
        // The first frame as stored, turned by 180°, is what the output must show.
        const stored = await grayThumb(['-noautorotate', '-i', files.input]);
        const shown = await grayThumb(['-i', files.output]);
        expect(meanAbsDiff(shown, Buffer.from(stored).reverse())).toBeLessThan(meanAbsDiff(shown, stored) / 2);
      }
    });
  }

  /** First frame as 32x18 8-bit gray pixels. */
  async function grayThumb(input: string[]): Promise<Buffer> {
    const { stdout } = await run(
      'ffmpeg',
      ['-v', 'error', ...input, '-frames:v', '1', '-vf', 'scale=32:18,format=gray', '-f', 'rawvideo', 'pipe:1'],
      { encoding: 'buffer' },
    );
    return stdout;
  }

  function meanAbsDiff(a: Buffer, b: Buffer): number {
    expect(a.length).toBe(b.length);
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
    return sum / a.length;
  }
});
