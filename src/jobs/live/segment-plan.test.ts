import { describe, expect, it } from 'vitest';
import type { LiveRung } from '../../db/live-schema.js';
import type { SegmentProbe } from '../../media/segment-probe.js';
import { chooseLivePath, rungCommand } from './segment-plan.js';

const source: SegmentProbe = { width: 7680, height: 4320, videoCodec: 'hevc', profile: 'Main 10', level: 183, audioCodec: 'aac', start: 1.4, duration: 2, fps: 59.94, bytes: 25_000_000 };
const rung720: LiveRung = { name: '720p', width: 1280, height: 720, bitrate: 2_800_000, passthrough: false, codecs: null };
const passthrough: LiveRung = { name: 'source', width: 7680, height: 4320, bitrate: 0, passthrough: true, codecs: null };
const io = { input: '/w/in-7.ts', output: '/w/out-7.ts' };
const tail = ['-map', '0:a:0', '-c:a', 'copy', '-f', 'mpegts', '-muxdelay', '0', '-muxpreload', '0', '/w/out-7.ts'];
const x264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'high', '-pix_fmt', 'yuv420p', '-b:v', '2800000', '-maxrate', '3080000', '-bufsize', '2800000', '-g', '120', '-sc_threshold', '0'];

describe('chooseLivePath', () => {
  const acc = { gpuIndex: 1, nvdecCodecs: ['h264', 'hevc'], nvencEncoders: ['h264_nvenc'], scaleCuda: true };
  it('decodes on the GPU where NVDEC took the codec, encodes with NVENC where it exists', () => {
    expect(chooseLivePath(source, acc)).toMatchObject({ path: 'nvdec-nvenc', gpuIndex: 1 });
    // An H100: NVDEC, no NVENC.
    expect(chooseLivePath(source, { ...acc, nvencEncoders: [] })).toMatchObject({ path: 'nvdec-cpu', gpuIndex: 1 });
  });
  it('stays on the CPU, saying why, without a GPU path for the source', () => {
    expect(chooseLivePath(source, null)).toEqual({ path: 'cpu', reason: 'no hardware video path passed its test on this worker' });
    expect(chooseLivePath(source, { ...acc, nvdecCodecs: ['h264'] }).reason).toMatch(/did not decode hevc/);
    expect(chooseLivePath(source, { ...acc, scaleCuda: false }).reason).toMatch(/scale_cuda/);
  });
});

describe('rungCommand', () => {
  const head = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'warning'];
  it('copies the passthrough rung with the source timestamps', () => {
    expect(rungCommand({ rung: passthrough, source, ...io, choice: { path: 'cpu', reason: '' } })).toEqual([...head, '-copyts', '-i', '/w/in-7.ts', '-map', '0:v:0', '-c:v', 'copy', ...tail]);
  });
  it('CPU: scales and encodes x264 zerolatency, a GOP of two seconds', () => {
    expect(rungCommand({ rung: rung720, source, ...io, choice: { path: 'cpu', reason: '' } })).toEqual([...head, '-copyts', '-i', '/w/in-7.ts', '-map', '0:v:0', '-vf', 'scale=1280:720', ...x264, ...tail]);
  });
  it('NVDEC + CPU (H100): decodes and scales on the GPU, brings the frames down for x264', () => {
    expect(rungCommand({ rung: rung720, source, ...io, choice: { path: 'nvdec-cpu', reason: '', gpuIndex: 1 } })).toEqual([
      ...head, '-hwaccel', 'cuda', '-hwaccel_device', '1', '-hwaccel_output_format', 'cuda', '-copyts', '-i', '/w/in-7.ts',
      '-map', '0:v:0', '-vf', 'scale_cuda=1280:720,hwdownload,format=nv12', ...x264, ...tail,
    ]);
  });
  it('NVDEC + NVENC: the frames stay on the GPU', () => {
    const argv = rungCommand({ rung: rung720, source, ...io, choice: { path: 'nvdec-nvenc', reason: '', gpuIndex: 0 } });
    expect(argv).toContain('scale_cuda=1280:720');
    expect(argv.slice(argv.indexOf('-c:v'), argv.indexOf('-c:v') + 10)).toEqual(['-c:v', 'h264_nvenc', '-preset', 'p4', '-tune', 'll', '-rc', 'cbr', '-profile:v', 'high']);
    expect(argv).toContain('-bf');
  });
  it('encodes audio to AAC when the source has audio the rungs cannot carry, and maps none without audio', () => {
    expect(rungCommand({ rung: rung720, source: { ...source, audioCodec: 'opus' }, ...io, choice: { path: 'cpu', reason: '' } })).toEqual(expect.arrayContaining(['-c:a', 'aac', '-b:a', '128k']));
    expect(rungCommand({ rung: rung720, source: { ...source, audioCodec: null }, ...io, choice: { path: 'cpu', reason: '' } })).not.toContain('0:a:0');
  });
});
