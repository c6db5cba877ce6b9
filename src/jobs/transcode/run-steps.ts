/**
 * Steps every transcode shares: fetch and probe the source, and run a plan's fallback ladder —
 * best path first, each step down logged as FALLBACK with its reason and kept on the job.
 */
import path from 'node:path';
import { FfmpegError, ProbeError } from '../../media/ffmpeg.js';
import type { MediaProbe } from '../../media/media-probe.js';
import { JobError } from '../job-error.js';
import type { JobRuntime } from '../job-runtime.js';
import type { PlannedCommand } from './plan.js';
import type { TranscodeInput } from './spec.js';

/** Above 8K's 7680 px with room for DCI and stitched panoramas; beyond it a header is lying or hostile. */
export const MAX_SOURCE_DIMENSION = 8192;

export async function fetchAndProbe(rt: JobRuntime<TranscodeInput>): Promise<{ source: string; probe: MediaProbe }> {
  const source = path.join(rt.workDir, 'source');
  const fetched = await rt.transfer.fetchInput(rt.input.source.file, source, rt.signal);
  rt.log('info', fetched.via === 'local' ? `reading the source in place on this host (${fetched.bytes} bytes)` : `fetched the source over HTTP (${fetched.bytes} bytes)`);
  rt.progress(0.02);
  try {
    const probe = await rt.media.probeMedia(source, { signal: rt.signal });
    rt.log('info', `source: ${describeMedia(probe)}`);
    const v = probe.video;
    // A header can declare any size: refuse before a decoder allocates frames for it.
    if (v && (v.width > MAX_SOURCE_DIMENSION || v.height > MAX_SOURCE_DIMENSION)) {
      throw new JobError('unsupported_input', `the source declares ${v.width}x${v.height} pixels; this farm transcodes sources up to ${MAX_SOURCE_DIMENSION} pixels on a side (8K is 7680x4320)`);
    }
    if (v && v.codec === 'unknown') throw new JobError('unsupported_input', "the source's video codec is not one this farm's ffmpeg can decode");
    if (v && (v.width < 2 || v.height < 2)) throw new JobError('media_unreadable', `the source declares an unusable size ${v.width}x${v.height}`);
    return { source, probe };
  } catch (err) {
    if (rt.signal.aborted) throw err;
    if (err instanceof ProbeError) throw new JobError('media_unreadable', `the source is not a media file this farm reads: ${err.message}`);
    throw err;
  }
}

export interface AttemptsOutcome {
  ran: PlannedCommand;
  cpuSeconds: number;
  gpuSeconds: number;
  fallbacks: Array<{ path: string; reason: string; error: string }>;
  /** Demuxer/decoder errors ffmpeg logged: a damaged or truncated source. */
  inputErrors: string[];
}

/** Runs the attempts in order until one succeeds; progress maps media time onto [from, to]. */
export async function runAttempts(
  rt: JobRuntime<TranscodeInput>,
  attempts: PlannedCommand[],
  mediaSeconds: number,
  progress: { from: number; to: number },
): Promise<AttemptsOutcome> {
  const fallbacks: AttemptsOutcome['fallbacks'] = [];
  const inputErrors: string[] = [];
  let cpuSeconds = 0;
  let gpuSeconds = 0;
  for (const [i, attempt] of attempts.entries()) {
    rt.log('info', `path ${attempt.path}: ${attempt.reason}`);
    rt.log('info', `ffmpeg ${attempt.args.join(' ')}`);
    try {
      const result = await rt.media.runFfmpeg(attempt.args, {
        onGpu: attempt.gpuIndex !== null,
        signal: rt.signal,
        killGraceMs: rt.killGraceMs,
        onLog: (line) => {
          const level = levelOf(line);
          if (level === 'error') inputErrors.push(line.replace(/ @ 0x[0-9a-f]+/, ''));
          rt.log(level, line);
        },
        onProgress: (p) => {
          if (mediaSeconds > 0) rt.progress(progress.from + (progress.to - progress.from) * Math.min(1, p.outTimeSeconds / mediaSeconds));
        },
      });
      cpuSeconds += result.cpuSeconds;
      if (attempt.gpuIndex !== null) gpuSeconds += result.wallSeconds;
      return { ran: attempt, cpuSeconds, gpuSeconds, fallbacks, inputErrors };
    } catch (err) {
      if (rt.signal.aborted) throw err;
      const reason = err instanceof FfmpegError ? lastErrorLine(err) : (err as Error).message;
      const next = attempts[i + 1];
      if (!next) throw new JobError('media_unreadable', `ffmpeg could not transcode the source: ${reason}`);
      // Never silent: the step down is logged with its reason and kept on the job.
      rt.log('warn', `FALLBACK: path ${attempt.path} failed (${reason}); stepping down to ${next.path}`);
      fallbacks.push({ path: attempt.path, reason: attempt.reason, error: reason });
    }
  }
  throw new Error('a plan with no attempts');
}

/** What the job shows about where it ran. */
export function executionSummary(rt: JobRuntime<TranscodeInput>, outcome: AttemptsOutcome, probe: MediaProbe) {
  const gpu = outcome.ran.gpuIndex !== null ? rt.caps.gpus.find((g) => g.index === outcome.ran.gpuIndex) : undefined;
  return {
    gpu,
    execution: {
      path: outcome.ran.path,
      reason: outcome.ran.reason,
      gpu: gpu ? { index: gpu.index, name: gpu.name, uuid: gpu.uuid } : null,
      fallbacks: outcome.fallbacks,
      source: { format: probe.formatName, duration: probe.durationSeconds, video: probe.video, audio: probe.audio },
    },
  };
}

export function describeMedia(p: MediaProbe): string {
  const v = p.video;
  const video = v ? `${v.codec} ${v.width}x${v.height}${v.rotation ? ` rotated ${v.rotation}°` : ''} ${v.pixFmt} ${v.frameRate.toFixed(2)} fps` : 'no video';
  const audio = p.audio ? `${p.audio.codec} ${p.audio.channels}ch ${p.audio.sampleRate} Hz` : 'no audio';
  return `${p.formatName}, ${p.durationSeconds.toFixed(2)} s, ${video}, ${audio}`;
}

/** ffmpeg's `-loglevel level+info` tags each line: "[libx264 @ 0x…] [warning] …". */
function levelOf(line: string): 'info' | 'warn' | 'error' {
  if (/\[(error|fatal|panic)\]/.test(line)) return 'error';
  if (/\[warning\]/.test(line)) return 'warn';
  return 'info';
}

function lastErrorLine(err: FfmpegError): string {
  const errors = err.stderrTail.filter((l) => /\[(error|fatal)\]/.test(l));
  return (errors[errors.length - 1] ?? err.stderrTail[err.stderrTail.length - 1] ?? err.message).replace(/ @ 0x[0-9a-f]+/, '');
}

/** How far an output's duration may stray from the source's before the output is refused. */
const DURATION_TOLERANCE_SECONDS = 0.5;

/** Reads an MP4 output back: codec, height, duration; a damaged source is named as the cause. */
export async function verifyOutput(rt: JobRuntime<TranscodeInput>, file: string, source: MediaProbe, height: number, inputErrors: string[]): Promise<MediaProbe> {
  const out = await rt.media.probeMedia(file, { signal: rt.signal }).catch((e: Error) => {
    throw new JobError('output_verification_failed', `the output could not be read back: ${e.message}`);
  });
  const problems: string[] = [];
  if (out.video?.codec !== 'h264') problems.push(`video codec is ${out.video?.codec ?? 'missing'}, expected h264`);
  if (out.video?.height !== height) problems.push(`height is ${out.video?.height}, expected ${height}`);
  if (source.durationSeconds > 0 && Math.abs(out.durationSeconds - source.durationSeconds) > DURATION_TOLERANCE_SECONDS) {
    problems.push(`duration is ${out.durationSeconds.toFixed(2)} s, the source's ${source.durationSeconds.toFixed(2)} s`);
  }
  if (problems.length && inputErrors.length) {
    // ffmpeg read what it could and said why it stopped: the source, not the farm, is at fault.
    throw new JobError('media_unreadable', `the source is damaged or truncated (ffmpeg: "${inputErrors[0]}"); the output would be wrong: ${problems.join('; ')}`);
  }
  if (problems.length) throw new JobError('output_verification_failed', `the output failed verification: ${problems.join('; ')}`);
  return out;
}

/** An MP4 rendition as metered (output minutes by resolution class and codec): what was verified, not what was planned. */
export function mp4Rendition(out: MediaProbe, plannedHeight: number): { height: number; codec: string; seconds: number } {
  return { height: out.video?.height ?? plannedHeight, codec: out.video?.codec ?? 'h264', seconds: out.durationSeconds };
}
