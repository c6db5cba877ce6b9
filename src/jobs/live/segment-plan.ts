/**
 * How a worker turns one live segment into every rung: one ffmpeg per rung, run side by side, so
 * each rung's real-time factor is its own. Timestamps are copied from the source (`-copyts`, no
 * mux delay), so segment N of every rung starts where segment N of the source does and the rungs
 * play as one continuous stream. The passthrough rung is a copy. x264 runs `zerolatency` (no
 * B-frames, no lookahead): a segment must be done in about its own duration.
 *
 * GPU: NVDEC decodes where the probe showed it decodes the source's codec (8K HEVC needs it), and
 * scale_cuda resizes; NVENC encodes where it exists, else the frames come down and x264 encodes
 * (an H100 has NVDEC but no NVENC). Commands are data; the worker chooses and falls back.
 */
import type { VideoAcceleration } from '../../capabilities/worker-capabilities.js';
import type { LiveRung } from '../../db/live-schema.js';
import type { SegmentProbe } from '../../media/segment-probe.js';

export type LivePath = 'cpu' | 'nvdec-cpu' | 'nvdec-nvenc';

export interface LivePathChoice {
  path: LivePath;
  reason: string;
  gpuIndex?: number;
}

/** Audio the rungs can carry as it is; anything else is encoded to AAC once per rung. */
const COPYABLE_AUDIO = new Set(['aac', 'mp3', 'ac3']);

export function chooseLivePath(source: Pick<SegmentProbe, 'videoCodec'>, acc: VideoAcceleration | null): LivePathChoice {
  if (!acc) return { path: 'cpu', reason: 'no hardware video path passed its test on this worker' };
  if (!acc.nvdecCodecs.includes(source.videoCodec)) return { path: 'cpu', reason: `NVDEC on GPU ${acc.gpuIndex} did not decode ${source.videoCodec} in the probe` };
  if (!acc.scaleCuda) return { path: 'cpu', reason: `scale_cuda failed its test on GPU ${acc.gpuIndex}` };
  if (acc.nvencEncoders.includes('h264_nvenc')) return { path: 'nvdec-nvenc', reason: `GPU ${acc.gpuIndex} decodes ${source.videoCodec}, scales and encodes H.264 (NVENC)`, gpuIndex: acc.gpuIndex };
  return { path: 'nvdec-cpu', reason: `GPU ${acc.gpuIndex} decodes ${source.videoCodec} and scales; no NVENC, so the CPU encodes`, gpuIndex: acc.gpuIndex };
}

export interface RungCommandInput {
  rung: LiveRung;
  source: SegmentProbe;
  input: string;
  output: string;
  choice: LivePathChoice;
}

export function rungCommand({ rung, source, input, output, choice }: RungCommandInput): string[] {
  const head = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'warning'];
  const out = ['-f', 'mpegts', '-muxdelay', '0', '-muxpreload', '0', output];
  const audio = source.audioCodec === null ? [] : ['-map', '0:a:0', ...(COPYABLE_AUDIO.has(source.audioCodec) ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', '128k'])];
  if (rung.passthrough) return [...head, '-copyts', '-i', input, '-map', '0:v:0', '-c:v', 'copy', ...audio, ...out];
  const gop = String(Math.max(1, Math.round(source.fps || 30)) * 2);
  const rate = ['-b:v', String(rung.bitrate), '-maxrate', String(Math.round(rung.bitrate * 1.1)), '-bufsize', String(rung.bitrate)];
  const x264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'high', '-pix_fmt', 'yuv420p', ...rate, '-g', gop, '-sc_threshold', '0'];
  if (choice.path === 'cpu') {
    return [...head, '-copyts', '-i', input, '-map', '0:v:0', '-vf', `scale=${rung.width}:${rung.height}`, ...x264, ...audio, ...out];
  }
  const device = String(choice.gpuIndex ?? 0);
  const decode = ['-hwaccel', 'cuda', '-hwaccel_device', device, '-hwaccel_output_format', 'cuda', '-copyts', '-i', input];
  if (choice.path === 'nvdec-cpu') {
    return [...head, ...decode, '-map', '0:v:0', '-vf', `scale_cuda=${rung.width}:${rung.height},hwdownload,format=nv12`, ...x264, ...audio, ...out];
  }
  // p4/ll: NVENC's low-latency tuning, CBR as a live packager expects; -g as above, no B-frames.
  const nvenc = ['-c:v', 'h264_nvenc', '-preset', 'p4', '-tune', 'll', '-rc', 'cbr', '-profile:v', 'high', ...rate, '-g', gop, '-bf', '0'];
  return [...head, ...decode, '-map', '0:v:0', '-vf', `scale_cuda=${rung.width}:${rung.height}`, ...nvenc, ...audio, ...out];
}
