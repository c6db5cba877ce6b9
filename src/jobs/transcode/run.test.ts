/**
 * The transcode's run with real ffmpeg. On this GPU-less machine a GPU path really fails, so the
 * fallback ladder is exercised for real: the step down must be logged, kept on the job, and the
 * CPU output verified. The transfer door is a strict local fake (files copied, calls recorded).
 */
import { copyFileSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkerCapabilities } from '../../capabilities/worker-capabilities.js';
import { probeMedia, runFfmpeg } from '../../media/ffmpeg.js';
import type { JobRuntime, MediaDoor, TransferDoor } from '../job-runtime.js';
import { runTranscode } from './run.js';
import type { TranscodeInput } from './spec.js';
import { VIDEO } from '../../../test/helpers/assets.js';

const FILE = 'file_0000000000000000000000000a';

const NO_GPU: WorkerCapabilities = { hostname: 'test', cpuCount: 2, gpus: [], ffmpeg: null, videoAcceleration: null, onnxRuntime: null, renderers: [], notes: [] };
/** What an L4 host's probe would say; here the GPU commands fail for real (no CUDA). */
const CLAIMS_GPU: WorkerCapabilities = {
  ...NO_GPU,
  gpus: [{ index: 0, uuid: 'GPU-test', name: 'NVIDIA L4', memoryTotalMiB: 23034, memoryUsedMiB: 0, utilizationGpuPercent: 0, utilizationEncoderPercent: 0, utilizationDecoderPercent: 0, temperatureC: 40, powerDrawW: 20, driverVersion: '550', cudaVersion: '12.4' }],
  videoAcceleration: { gpuIndex: 0, nvdecCodecs: ['h264', 'hevc'], nvencEncoders: ['h264_nvenc'], scaleCuda: true },
};

function runtime(source: string, caps: WorkerCapabilities, media: MediaDoor = { runFfmpeg, probeMedia }) {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'malan-run-'));
  const calls: string[] = [];
  const logs: Array<[string, string]> = [];
  const transfer: TransferDoor = {
    async fetchInput(fileId, dest) {
      if (fileId !== FILE) throw new Error(`unexpected input ${fileId}`);
      copyFileSync(source, dest);
      calls.push('fetch');
      return { bytes: statSync(dest).size, via: 'local' };
    },
    async upload(name, file) {
      calls.push(`upload ${name} ${statSync(file).size > 0}`);
      return 'file_out';
    },
    async share(name, file) {
      calls.push(`share ${name} ${statSync(file).size > 0}`);
      return { file: 'file_shared', url: `http://farm.test/${name}` };
    },
    async fetchUrl() {
      throw new Error('no fetching in this test');
    },
    async discard(name) {
      calls.push(`discard ${name}`);
    },
  };
  const rt: JobRuntime<TranscodeInput> = {
    jobId: 'job_test', attempt: 1, input: { source: { file: FILE }, height: 144 } as TranscodeInput, caps, workDir,
    signal: new AbortController().signal, killGraceMs: 1000, transfer, media, flow: null,
    log: (level, msg) => logs.push([level, msg]), progress: () => undefined,
  };
  return { rt, calls, logs };
}

describe('runTranscode', () => {
  it('steps down from a failing GPU path to the CPU, loudly, and reports what ran', async () => {
    const { rt, calls, logs } = runtime(path.join(VIDEO, 'flower.mp4'), CLAIMS_GPU);
    const result = await runTranscode(rt);
    expect(calls).toEqual(['fetch', 'upload output.mp4 true']);
    expect(result.outputs).toEqual([{ file: 'file_out', role: 'mp4' }]);
    expect(result.execution.path).toBe('cpu');
    const fallbacks = result.execution.fallbacks as Array<{ path: string; error: string }>;
    expect(fallbacks.map((f) => f.path)).toEqual(['nvdec-nvenc', 'nvdec-cpu']);
    expect(fallbacks[0]!.error).not.toBe('');
    expect(logs.filter(([level, msg]) => level === 'warn' && msg.startsWith('FALLBACK: path nvdec-nvenc failed'))).toHaveLength(1);
    expect(result.usage).toMatchObject({ gpuModel: 'cpu', gpuUuid: null });
    expect(result.usage.cpuSeconds).toBeGreaterThan(0);
    expect(result.usage.outputSeconds).toBeGreaterThan(5);
  });

  it('runs the CPU path directly on a worker without a GPU', async () => {
    const { rt, logs } = runtime(path.join(VIDEO, 'bug_video_640.mp4'), NO_GPU);
    const result = await runTranscode(rt);
    expect(result.execution).toMatchObject({ path: 'cpu', fallbacks: [], gpu: null });
    expect(logs.some(([level]) => level === 'warn')).toBe(false);
  });

  it('discards an output that fails verification and fails the job with the reason', async () => {
    const lying: MediaDoor = {
      runFfmpeg,
      probeMedia: async (file, opts) => {
        const probe = await probeMedia(file, opts);
        return file.endsWith('output.mp4') && probe.video ? { ...probe, video: { ...probe.video, height: 100 } } : probe;
      },
    };
    const { rt, calls } = runtime(path.join(VIDEO, 'flower.mp4'), NO_GPU, lying);
    await expect(runTranscode(rt)).rejects.toMatchObject({ code: 'output_verification_failed', message: expect.stringContaining('height is 100, expected 144') });
    expect(calls).toEqual(['fetch', 'upload output.mp4 true', 'discard output.mp4']);
  });

  it('runs a ladder: HLS rungs, MP4s remuxed from them, poster and sprite, all stored by relative name', async () => {
    const { rt, calls } = runtime(path.join(VIDEO, 'flower.mp4'), NO_GPU);
    rt.input = { source: { file: FILE }, ladder: [{ height: 240 }, { height: 144 }], formats: ['hls', 'mp4'], segment_duration: 2, quality_report: true } as TranscodeInput;
    const result = await runTranscode(rt);
    const stored = calls.filter((c) => c.startsWith('upload ')).map((c) => c.split(' ')[1]!);
    expect(stored).toEqual(expect.arrayContaining(['quality/report.json', 'hls/master.m3u8', 'hls/v0/index.m3u8', 'hls/v1/index.m3u8', 'hls/v2/index.m3u8', 'hls/v0/init_0.mp4', 'hls/v0/seg_00000.m4s', 'mp4/240p.mp4', 'mp4/144p.mp4', 'poster.jpg', 'thumbnails/sprite.jpg', 'thumbnails/thumbnails.vtt']));
    expect(result.outputs.map((o) => o.role)).toEqual(['hls-master', 'hls-playlist', 'hls-playlist', 'hls-audio', 'mp4', 'mp4', 'quality-report', 'poster', 'sprite', 'thumbnails']);
    const report = JSON.parse(readFileSync(path.join(rt.workDir, 'out/quality/report.json'), 'utf8'));
    expect(report.renditions.map((r: { name: string }) => r.name)).toEqual(['240p', '144p']);
    for (const r of report.renditions) {
      expect(r.ssim.all).toBeGreaterThan(0.8);
      expect(r.psnr.average).toBeGreaterThan(25);
    }
    expect(result.outputs.filter((o) => o.role === 'mp4').map((o) => o.rendition?.height)).toEqual([240, 144]);
    expect(result.execution).toMatchObject({ path: 'cpu', segment_seconds: 2, warnings: [] });
    expect(result.usage.outputSeconds).toBeGreaterThan(2 * 5);
  });

  it('discards a ladder whose packaging fails verification, everything it had stored', async () => {
    const lying: MediaDoor = {
      runFfmpeg,
      probeMedia: async (file, opts) => {
        const probe = await probeMedia(file, opts);
        return /rung-\d\.mp4$/.test(file) && probe.video ? { ...probe, video: { ...probe.video, codec: 'mpeg2video' } } : probe;
      },
    };
    const { rt, calls } = runtime(path.join(VIDEO, 'bug_video_640.mp4'), NO_GPU, lying);
    rt.input = { source: { file: FILE }, ladder: [{ height: 144 }], thumbnails: false } as TranscodeInput;
    await expect(runTranscode(rt)).rejects.toMatchObject({ code: 'output_verification_failed', message: expect.stringContaining('144p is mpeg2video, planned h264') });
    const uploaded = calls.filter((c) => c.startsWith('upload ')).map((c) => c.split(' ')[1]);
    const discarded = calls.filter((c) => c.startsWith('discard ')).map((c) => c.split(' ')[1]);
    expect(uploaded.length).toBeGreaterThan(0);
    expect(discarded.sort()).toEqual(uploaded.sort());
  });

  it('leaves the poster and sprite out when asked', async () => {
    const { rt, calls } = runtime(path.join(VIDEO, 'bug_video_640.mp4'), NO_GPU);
    rt.input = { source: { file: FILE }, ladder: [{ height: 144 }], thumbnails: false } as TranscodeInput;
    const result = await runTranscode(rt);
    expect(result.outputs.map((o) => o.role)).toEqual(['hls-master', 'hls-playlist']);
    expect(calls.some((c) => c.includes('poster') || c.includes('thumbnails/'))).toBe(false);
  });

  it('refuses what no planner makes yet before fetching anything', async () => {
    const { rt, calls } = runtime(path.join(VIDEO, 'flower.mp4'), NO_GPU);
    rt.input = { source: { file: FILE }, ladder: 'auto', crf: 20 } as TranscodeInput;
    await expect(runTranscode(rt)).rejects.toMatchObject({ code: 'unsupported_input' });
    expect(calls).toEqual([]);
  });
});
