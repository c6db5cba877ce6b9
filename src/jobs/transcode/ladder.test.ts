import { describe, expect, it } from 'vitest';
import type { GpuReading } from '../../capabilities/worker-capabilities.js';
import type { MediaProbe, VideoStreamInfo } from '../../media/media-probe.js';
import { defaultBitrate, planLadder, planRungs, type LadderCapabilities, type Rung } from './ladder.js';
import type { TranscodeInput } from './spec.js';

const SOURCE = { file: 'file_01hzy3k8m9x2v7q4w5e6r7t8y9' };
const FILES = { input: '/tmp/job/in', outDir: '/tmp/job/hls' };

function video(width: number, height: number, overrides: Partial<VideoStreamInfo> = {}): VideoStreamInfo {
  return {
    index: 0, codec: 'hevc', profile: 'Main', pixFmt: 'yuv420p', bitDepth: 8, width, height, rotation: 0,
    sampleAspect: { num: 1, den: 1 }, displayWidth: width, displayHeight: height, frameRate: 30000 / 1001,
    variableFrameRate: false, frameCount: 300, ...overrides,
  };
}

function probe(v: VideoStreamInfo | null, audio = true): MediaProbe {
  return {
    formatName: 'mov,mp4,m4a,3gp,3g2,mj2', durationSeconds: 10.01, sizeBytes: 1_000_000, bitRate: 800_000, video: v,
    audio: audio ? { index: 1, codec: 'aac', channels: 2, sampleRate: 48000 } : null,
  };
}

function gpu(name: string): GpuReading {
  return {
    index: 0, uuid: 'GPU-0', name, memoryTotalMiB: 24_000, memoryUsedMiB: 0, utilizationGpuPercent: 0, utilizationEncoderPercent: null,
    utilizationDecoderPercent: null, temperatureC: 30, powerDrawW: 70, driverVersion: '550.54', cudaVersion: '12.4',
  };
}

const ALL_NVDEC = ['h264', 'hevc', 'av1', 'vp9'];
const NO_GPU: LadderCapabilities = { gpus: [], videoAcceleration: null };
const H100: LadderCapabilities = {
  gpus: [gpu('NVIDIA H100 80GB HBM3')], videoAcceleration: { gpuIndex: 0, nvdecCodecs: ALL_NVDEC, nvencEncoders: [], scaleCuda: true },
};
const withNvenc = (name: string, nvencEncoders: string[]): LadderCapabilities => ({
  gpus: [gpu(name)], videoAcceleration: { gpuIndex: 0, nvdecCodecs: ALL_NVDEC, nvencEncoders, scaleCuda: true },
});
const L4 = withNvenc('NVIDIA L4', ['h264_nvenc', 'hevc_nvenc', 'av1_nvenc']);

const auto = (extra: Partial<TranscodeInput> = {}): TranscodeInput => ({ source: SOURCE, ladder: 'auto', ...extra });
const ladder = (rungs: Exclude<TranscodeInput['ladder'], 'auto' | undefined>, extra: Partial<TranscodeInput> = {}): TranscodeInput =>
  ({ source: SOURCE, ladder: rungs, ...extra });
/** name widthxheight codec kbit/s, one string per rung. */
const summary = (rungs: Rung[]) => rungs.map((r) => `${r.name} ${r.width}x${r.height} ${r.codec} ${r.bitsPerSecond / 1000}k`);

describe('planRungs: auto', () => {
  it('1080p: the source, then 720p, 480p and 360p, at the published H.264 bitrates', () => {
    const rungs = planRungs(auto(), probe(video(1920, 1080)));
    expect(summary(rungs)).toEqual(['1080p 1920x1080 h264 5000k', '720p 1280x720 h264 2800k', '480p 854x480 h264 1400k', '360p 640x360 h264 800k']);
    // Capped VBR: a ceiling 10% above the average, a buffer of two seconds' worth.
    expect(rungs[0]).toEqual({ name: '1080p', width: 1920, height: 1080, codec: 'h264', bitsPerSecond: 5_000_000, maxrateBitsPerSecond: 5_500_000, bufsizeBits: 10_000_000 });
  });

  it('720p down to 240p', () => {
    expect(summary(planRungs(auto(), probe(video(1280, 720))))).toEqual([
      '720p 1280x720 h264 2800k', '480p 854x480 h264 1400k', '360p 640x360 h264 800k', '240p 426x240 h264 400k',
    ]);
  });

  it('4K: four rungs, 2160p to 720p', () => {
    expect(summary(planRungs(auto(), probe(video(3840, 2160))))).toEqual([
      '2160p 3840x2160 h264 16000k', '1440p 2560x1440 h264 9000k', '1080p 1920x1080 h264 5000k', '720p 1280x720 h264 2800k',
    ]);
  });

  it('8K: the top rung scales the 4K bitrate by pixels; HEVC takes 65% of the bits', () => {
    const eightK = probe(video(7680, 4320));
    expect(summary(planRungs(auto(), eightK))).toEqual([
      '4320p 7680x4320 h264 64000k', '2160p 3840x2160 h264 16000k', '1440p 2560x1440 h264 9000k', '1080p 1920x1080 h264 5000k',
    ]);
    expect(summary(planRungs(auto({ codec: 'hevc' }), eightK))).toEqual([
      '4320p 7680x4320 hevc 41600k', '2160p 3840x2160 hevc 10400k', '1440p 2560x1440 hevc 5850k', '1080p 1920x1080 hevc 3250k',
    ]);
  });

  it('a source below 240 lines is one rung at its own size', () => {
    expect(summary(planRungs(auto(), probe(video(356, 200))))).toEqual(['200p 356x200 h264 279k']);
  });

  it('odd display sizes: even sides, bitrate interpolated by pixel count', () => {
    expect(summary(planRungs(auto(), probe(video(1279, 719))))).toEqual([
      '718p 1278x718 h264 2789k', '480p 854x480 h264 1400k', '360p 640x360 h264 800k', '240p 426x240 h264 400k',
    ]);
  });

  it('portrait video gets the landscape ladder on its short side', () => {
    const portrait = ['1080p 1080x1920 h264 5000k', '720p 720x1280 h264 2800k', '480p 480x854 h264 1400k', '360p 360x640 h264 800k'];
    expect(summary(planRungs(auto(), probe(video(1080, 1920))))).toEqual(portrait);
    // Stored landscape, shown portrait: the display size counts.
    const rotated = video(1920, 1080, { rotation: 90, displayWidth: 1080, displayHeight: 1920 });
    expect(summary(planRungs(auto(), probe(rotated)))).toEqual(portrait);
  });

  it('skips standard sizes less than 25% below the rung above', () => {
    expect(planRungs(auto(), probe(video(1600, 900))).map((r) => r.name)).toEqual(['900p', '480p', '360p', '240p']);
    expect(planRungs(auto(), probe(video(568, 320))).map((r) => r.name)).toEqual(['320p', '240p']);
    expect(planRungs(auto(), probe(video(534, 300))).map((r) => r.name)).toEqual(['300p']);
  });

  it('adjusts bitrates for codec and frame rate', () => {
    expect(summary(planRungs(auto({ codec: 'av1' }), probe(video(1280, 720)))).at(0)).toBe('720p 1280x720 av1 1540k');
    expect(summary(planRungs(auto(), probe(video(1920, 1080, { frameRate: 60000 / 1001 })))).at(0)).toBe('1080p 1920x1080 h264 7500k');
    expect(summary(planRungs(auto(), probe(video(1920, 1080, { frameRate: 25 })))).at(0)).toBe('1080p 1920x1080 h264 5000k');
    expect(defaultBitrate(1440, 1080, 'h264', 30)).toBe(4_010_000); // 4:3, between 720p and 1080p
  });
});

describe('planRungs: explicit', () => {
  const hd = probe(video(1280, 720));

  it('drops rungs above the source, removes repeats, sorts high to low; a rung bitrate wins', () => {
    const rungs = planRungs(
      ladder([{ height: 360 }, { height: 1080 }, { height: 480, bitrate: '1M' }, { height: 720, codec: 'hevc' }, { height: 480 }, { height: 720, codec: 'hevc', bitrate: '9M' }]),
      hd,
    );
    expect(summary(rungs)).toEqual(['720p 1280x720 hevc 1820k', '480p 854x480 h264 1000k', '360p 640x360 h264 800k']);
    expect(rungs[1]).toMatchObject({ maxrateBitsPerSecond: 1_100_000, bufsizeBits: 2_000_000 });
  });

  it('keeps one rung at the source height when every rung is above it', () => {
    expect(summary(planRungs(ladder([{ height: 1080, bitrate: '6M' }, { height: 720, codec: 'av1' }]), probe(video(640, 360))))).toEqual([
      '360p 640x360 av1 440k',
    ]);
  });

  it('takes the top-level codec for rungs without one, and names two codecs of one size apart', () => {
    expect(summary(planRungs(ladder([{ height: 720 }, { height: 720, codec: 'h264' }, { height: 360 }], { codec: 'hevc' }), hd))).toEqual([
      '720p-hevc 1280x720 hevc 1820k', '720p-h264 1280x720 h264 2800k', '360p 640x360 hevc 520k',
    ]);
  });

  it('explicit heights are heights, also for portrait sources', () => {
    expect(summary(planRungs(ladder([{ height: 1280 }]), probe(video(1080, 1920))))).toEqual(['720p 720x1280 h264 2800k']);
  });
});

describe('planLadder: path choice', () => {
  const paths = (caps: LadderCapabilities, input = auto(), v = video(1920, 1080)) => planLadder(input, probe(v), caps, FILES).attempts;

  it('no GPU: the CPU alone, and says so', () => {
    expect(paths(NO_GPU).map((a) => [a.path, a.gpuIndex, a.reason])).toEqual([
      ['cpu', null, 'decode, scale and encode 4 rungs on the CPU: no GPU on this worker'],
    ]);
  });

  it('H100-like (NVDEC, no NVENC): decode and scale on the GPU, encode on the CPU', () => {
    const attempts = paths(H100);
    expect(attempts.map((a) => [a.path, a.gpuIndex])).toEqual([['nvdec-cpu', 0], ['cpu', null]]);
    expect(attempts[0]?.reason).toBe(
      'GPU 0 (NVIDIA H100 80GB HBM3) decodes hevc with NVDEC but has no H.264 NVENC (h264_nvenc) for the 1080p rung: decode and scale 4 rungs on the GPU, encode H.264 on the CPU',
    );
  });

  it('L4-like: NVENC for every rung, then the fallbacks', () => {
    const attempts = paths(L4, auto({ codec: 'av1' }));
    expect(attempts.map((a) => a.path)).toEqual(['nvdec-nvenc', 'nvdec-cpu', 'cpu']);
    expect(attempts[0]?.reason).toBe(
      'GPU 0 (NVIDIA L4) decodes hevc with NVDEC, scales 4 rungs with scale_cuda and encodes AV1 with NVENC: the frames never leave the GPU',
    );
  });

  it('an AV1 rung without av1_nvenc takes the whole ladder to CPU encoders, with the reason', () => {
    const noAv1 = withNvenc('NVIDIA L4', ['h264_nvenc', 'hevc_nvenc']);
    const attempts = paths(noAv1, ladder([{ height: 1080 }, { height: 720, codec: 'av1' }]));
    expect(attempts.map((a) => a.path)).toEqual(['nvdec-cpu', 'cpu']);
    expect(attempts[0]?.reason).toBe(
      'GPU 0 (NVIDIA L4) decodes hevc with NVDEC but has no AV1 NVENC (av1_nvenc) for the 720p rung: decode and scale 2 rungs on the GPU, encode H.264 and AV1 on the CPU',
    );
  });

  it('8K: NVENC H.264 cannot, NVENC HEVC can', () => {
    const eightK = video(7680, 4320);
    expect(paths(L4, auto(), eightK)[0]?.reason).toContain('NVENC H.264 stops at 4096 px and the 4320p rung is 7680x4320');
    expect(paths(L4, auto({ codec: 'hevc' }), eightK).map((a) => a.path)).toEqual(['nvdec-nvenc', 'nvdec-cpu', 'cpu']);
  });

  it('GeForce cards: no NVENC for more rungs than the session limit', () => {
    const rtx = withNvenc('NVIDIA GeForce RTX 4090', ['h264_nvenc', 'hevc_nvenc', 'av1_nvenc']);
    const heights = (n: number) => ladder([1080, 720, 540, 480, 360, 240].slice(0, n).map((height) => ({ height })));
    expect(paths(rtx, heights(5)).map((a) => a.path)).toEqual(['nvdec-nvenc', 'nvdec-cpu', 'cpu']);
    expect(paths(rtx, heights(6))[0]?.reason).toContain(
      'but its driver runs at most 5 NVENC sessions at once on a GeForce card and the ladder needs 6',
    );
    expect(paths(L4, heights(6)).map((a) => a.path)).toEqual(['nvdec-nvenc', 'nvdec-cpu', 'cpu']);
  });

  it("keeps the MP4 plan's GPU obstacles: rotation, 10-bit, NVDEC codecs", () => {
    expect(paths(L4, auto(), video(1920, 1080, { rotation: 90, displayWidth: 1080, displayHeight: 1920 }))[0]?.reason).toBe(
      "decode, scale and encode 4 rungs on the CPU: the source is rotated 90° and ffmpeg's autorotate filters run on the CPU only",
    );
    expect(paths(L4, auto(), video(1920, 1080, { pixFmt: 'yuv420p10le', bitDepth: 10 })).map((a) => a.path)).toEqual(['cpu']);
    expect(paths(L4, auto(), video(1920, 1080, { codec: 'prores' })).map((a) => a.path)).toEqual(['cpu']);
  });
});

describe('planLadder: the rest of the plan', () => {
  it('lays out v0… for the rungs and the last folder for the audio', () => {
    const plan = planLadder(auto({ segment_duration: 2 }), probe(video(1280, 720)), NO_GPU, FILES);
    expect(plan.segmentSeconds).toBe(2);
    expect(plan.outputSeconds).toBe(10.01);
    expect(plan.layout).toEqual({
      master: 'master.m3u8',
      variants: ['720p', '480p', '360p', '240p'].map((rung, k) => ({ rung, dir: `v${k}`, playlist: `v${k}/index.m3u8`, init: `v${k}/init_${k}.mp4` })),
      audio: { dir: 'v4', playlist: 'v4/index.m3u8', init: 'v4/init_4.mp4' },
    });
    // ffmpeg names the init segment init.mp4 only when it writes a single stream.
    expect(planLadder(auto(), probe(video(320, 180), false), NO_GPU, FILES).layout).toEqual({
      master: 'master.m3u8', variants: [{ rung: '180p', dir: 'v0', playlist: 'v0/index.m3u8', init: 'v0/init.mp4' }], audio: null,
    });
  });

  it('fixes the GOP at segment × fps', () => {
    const gopOf = (input: TranscodeInput, frameRate: number) => {
      const args = planLadder(input, probe(video(640, 360, { frameRate })), NO_GPU, FILES).attempts[0]?.args ?? [];
      return args[args.indexOf('-g:v:0') + 1];
    };
    expect([gopOf(auto(), 30000 / 1001), gopOf(auto({ segment_duration: 2 }), 30000 / 1001), gopOf(auto(), 25), gopOf(auto({ segment_duration: 6 }), 120)])
      .toEqual(['120', '60', '100', '360']);
  });

  it('picks the CPU AV1 encoder the worker has', () => {
    const withEncoders = (encoders: string[]): LadderCapabilities => ({ ...NO_GPU, ffmpeg: { encoders } });
    const av1 = auto({ codec: 'av1' });
    const encoderOf = (caps: LadderCapabilities) => {
      const args = planLadder(av1, probe(video(640, 360)), caps, FILES).attempts[0]?.args ?? [];
      return args[args.indexOf('-c:v:0') + 1];
    };
    expect(encoderOf(NO_GPU)).toBe('libsvtav1');
    expect(encoderOf(withEncoders(['libx264', 'libaom-av1', 'libsvtav1']))).toBe('libsvtav1');
    expect(encoderOf(withEncoders(['libx264', 'libaom-av1']))).toBe('libaom-av1');
    expect(() => encoderOf(withEncoders(['libx264']))).toThrow(expect.objectContaining({ code: 'unsupported_input' }));
  });

  it('throws typed errors for what it cannot plan', () => {
    const plan = (input: TranscodeInput, v: VideoStreamInfo | null = video(640, 360)) => () => planLadder(input, probe(v), NO_GPU, FILES);
    expect(plan(auto(), null)).toThrow(expect.objectContaining({ code: 'no_video_stream' }));
    expect(plan(auto({ crf: 20 }))).toThrow(expect.objectContaining({ code: 'unsupported_input', message: expect.stringContaining('crf with a ladder') }));
    expect(plan({ source: SOURCE, height: 720 })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });
});
