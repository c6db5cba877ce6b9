/**
 * Which hardware video paths this worker's GPU really has, decided by a one-frame ffmpeg run per
 * path at worker start. A listing proves nothing: ffmpeg lists h264_nvenc on an H100, which has
 * no NVENC, and `-hwaccel cuda` quietly decodes on the CPU when NVDEC cannot take the stream.
 * The commands are built by pure functions; the orchestrator reaches ffmpeg only through the
 * injected runner, so every outcome is a unit test and none needs a GPU.
 */
import { join } from 'node:path';
import type { VideoAcceleration } from '../../src/capabilities/worker-capabilities.js';
import { firstOutputLine, runCatching, type CommandResult, type RunCommand } from './nvidia-smi.js';

export type NvencEncoder = 'h264_nvenc' | 'hevc_nvenc' | 'av1_nvenc';
export type NvdecCodec = 'h264' | 'hevc' | 'av1' | 'vp9';

export const NVENC_ENCODERS: readonly NvencEncoder[] = ['h264_nvenc', 'hevc_nvenc', 'av1_nvenc'];
export const NVDEC_CODECS: readonly NvdecCodec[] = ['h264', 'hevc', 'av1', 'vp9'];

const QUIET = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
const TO_NULL = ['-f', 'null', '-'];

/** Encodes one black frame with NVENC on `gpuIndex` (a CUDA device index). */
export function nvencTestArgs(encoder: NvencEncoder, gpuIndex: number): string[] {
  return [
    ...QUIET,
    // NVENC refuses frames below a minimum size per codec; 256x256 is comfortably above all of them.
    ...['-f', 'lavfi', '-i', 'color=black:s=256x256:d=0.04'],
    ...['-frames:v', '1'],
    ...['-c:v', encoder, '-gpu', String(gpuIndex)],
    ...TO_NULL,
  ];
}

/**
 * Decodes one frame of `samplePath` with NVDEC through the generic `-hwaccel cuda` path, the one
 * transcode plans use (it keeps frames on the GPU for scale_cuda and NVENC).
 */
export function nvdecTestArgs(codec: NvdecCodec, gpuIndex: number, samplePath: string): string[] {
  return [
    ...QUIET,
    ...['-hwaccel', 'cuda', '-hwaccel_device', String(gpuIndex), '-hwaccel_output_format', 'cuda'],
    // Name ffmpeg's native decoder: for AV1 the default is libdav1d, which has no hwaccel hooks
    // and would decode on the CPU and pass.
    ...['-c:v', codec],
    ...['-i', samplePath],
    ...['-frames:v', '1'],
    // hwdownload accepts only GPU frames, so a silent fallback to CPU decoding fails the test
    // instead of passing it. The samples are 8-bit 4:2:0, which NVDEC returns as nv12.
    ...['-vf', 'hwdownload,format=nv12'],
    ...TO_NULL,
  ];
}

/** CPU encoders for the NVDEC samples, best first, with the flags that keep them quick and quiet. */
const SAMPLE_ENCODERS: Record<NvdecCodec, { encoder: string; flags: string[] }[]> = {
  h264: [{ encoder: 'libx264', flags: [] }],
  hevc: [{ encoder: 'libx265', flags: ['-x265-params', 'log-level=error'] }],
  av1: [
    { encoder: 'libsvtav1', flags: [] },
    // libaom's default speed (cpu-used 1) is minutes per second of video; 8 is its fastest.
    { encoder: 'libaom-av1', flags: ['-cpu-used', '8'] },
  ],
  vp9: [{ encoder: 'libvpx-vp9', flags: [] }],
};

/**
 * Makes the tiny clip the NVDEC test decodes, on the CPU. null when this ffmpeg has no CPU
 * encoder for the codec.
 */
export function sampleEncodeArgs(
  codec: NvdecCodec,
  outPath: string,
  ffmpegEncoders: string[],
): string[] | null {
  const choice = SAMPLE_ENCODERS[codec].find((candidate) => ffmpegEncoders.includes(candidate.encoder));
  if (choice === undefined) return null;
  return [
    ...QUIET,
    '-y',
    // 256x144 is at or above NVDEC's minimum frame size for each codec (HEVC's is 144x144);
    // 0.1 s at lavfi's 25 fps is 3 frames.
    ...['-f', 'lavfi', '-i', 'testsrc2=s=256x144:d=0.1'],
    ...['-c:v', choice.encoder, ...choice.flags],
    ...['-pix_fmt', 'yuv420p'],
    outPath,
  ];
}

/** Uploads one frame to `gpuIndex` and scales it there with scale_cuda. */
export function scaleCudaTestArgs(gpuIndex: number): string[] {
  return [
    ...QUIET,
    ...['-init_hw_device', `cuda=gpu:${gpuIndex}`, '-filter_hw_device', 'gpu'],
    ...['-f', 'lavfi', '-i', 'color=black:s=256x144:d=0.04'],
    ...['-frames:v', '1'],
    // nv12 is what NVDEC hands to scale_cuda in a transcode.
    ...['-vf', 'format=nv12,hwupload,scale_cuda=128:72'],
    ...TO_NULL,
  ];
}

/** Encoder names from `ffmpeg -hide_banner -encoders`, in listing order, without the legend. */
export function parseFfmpegEncoders(stdout: string): string[] {
  const lines = stdout.split(/\r?\n/);
  const separator = lines.findIndex((line) => /^\s*-{6}\s*$/.test(line));
  const names = new Set<string>();
  for (const line of lines.slice(separator + 1)) {
    // " V....D libx264   libx264 H.264 …": six capability flags (type first), then the name.
    const match = /^\s*[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
    if (match?.[1] !== undefined) names.add(match[1]);
  }
  return separator === -1 ? [] : [...names];
}

export interface VideoAccelerationProbe {
  gpuIndex: number;
  gpuName: string;
  /** From parseFfmpegEncoders: NVENC tests are skipped for encoders this ffmpeg lacks. */
  ffmpegEncoders: string[];
  /** Where the NVDEC samples are written; the caller owns it and removes it. */
  tmpDir: string;
  run: RunCommand;
}

/** The first line worth showing from a failed run. SVT-AV1 prints its banner on stderr. */
function failureLine(result: CommandResult): string {
  return firstOutputLine({ ...result, stderr: result.stderr.replace(/^Svt\[info\].*$/gm, '') });
}

/**
 * Runs every test on one GPU and keeps what passed. Never throws: each path that failed or could
 * not be tested leaves a note saying why, for the operator. null acceleration when nothing passed.
 */
export async function probeVideoAcceleration(
  opts: VideoAccelerationProbe,
): Promise<{ acceleration: VideoAcceleration | null; notes: string[] }> {
  const { gpuIndex, gpuName, ffmpegEncoders, tmpDir, run } = opts;
  const where = `on GPU ${gpuIndex} (${gpuName})`;
  const notes: string[] = [];
  const failure = async (args: string[]): Promise<string | null> => {
    const result = await runCatching(run, 'ffmpeg', args);
    return result.code === 0 ? null : failureLine(result);
  };

  // One test at a time: consumer cards cap concurrent NVENC sessions, and the tests are short.
  const nvencEncoders: string[] = [];
  for (const encoder of NVENC_ENCODERS) {
    if (!ffmpegEncoders.includes(encoder)) {
      notes.push(`${encoder} ${where}: not tested, this ffmpeg has no ${encoder} encoder`);
      continue;
    }
    const why = await failure(nvencTestArgs(encoder, gpuIndex));
    if (why === null) nvencEncoders.push(encoder);
    else notes.push(`${encoder} ${where}: ${why}`);
  }

  const nvdecCodecs: string[] = [];
  for (const codec of NVDEC_CODECS) {
    const samplePath = join(tmpDir, `nvdec-sample-${codec}.mkv`);
    const sample = sampleEncodeArgs(codec, samplePath, ffmpegEncoders);
    if (sample === null) {
      notes.push(`${codec} NVDEC ${where}: not tested, this ffmpeg has no CPU ${codec} encoder to make a sample`);
      continue;
    }
    const sampleWhy = await failure(sample);
    if (sampleWhy !== null) {
      notes.push(`${codec} NVDEC ${where}: not tested, the CPU sample encode failed: ${sampleWhy}`);
      continue;
    }
    const why = await failure(nvdecTestArgs(codec, gpuIndex, samplePath));
    if (why === null) nvdecCodecs.push(codec);
    else notes.push(`${codec} NVDEC ${where}: ${why}`);
  }

  const scaleWhy = await failure(scaleCudaTestArgs(gpuIndex));
  if (scaleWhy !== null) notes.push(`scale_cuda ${where}: ${scaleWhy}`);
  const scaleCuda = scaleWhy === null;

  const anyPassed = nvencEncoders.length > 0 || nvdecCodecs.length > 0 || scaleCuda;
  return {
    acceleration: anyPassed ? { gpuIndex, nvdecCodecs, nvencEncoders, scaleCuda } : null,
    notes,
  };
}
