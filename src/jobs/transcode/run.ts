/**
 * The transcode's I/O: fetch the source, probe it, run the plan's fallback ladder (each step down
 * logged with its reason), verify the output with ffprobe, store it. Planning stays pure in plan.ts.
 */
import path from 'node:path';
import { FfmpegError, ProbeError } from '../../media/ffmpeg.js';
import type { MediaProbe } from '../../media/media-probe.js';
import { JobError } from '../job-error.js';
import type { JobResult, JobRuntime } from '../job-runtime.js';
import { assertSupported, planTranscode, type PlannedCommand } from './plan.js';
import type { TranscodeInput } from './spec.js';

/** How far the output's duration may stray from the source's before the output is refused. */
const DURATION_TOLERANCE_SECONDS = 0.5;

export async function runTranscode(rt: JobRuntime<TranscodeInput>): Promise<JobResult> {
  const source = path.join(rt.workDir, 'source');
  const output = path.join(rt.workDir, 'output.mp4');

  assertSupported(rt.input); // before anything is fetched
  const fetched = await rt.transfer.fetchInput(rt.input.source.file, source, rt.signal);
  rt.log('info', fetched.via === 'local' ? `reading the source in place on this host (${fetched.bytes} bytes)` : `fetched the source over HTTP (${fetched.bytes} bytes)`);
  rt.progress(0.02);
  const probe = await probeSource(rt, source);
  rt.log('info', `source: ${describe(probe)}`);

  const plan = planTranscode(rt.input, probe, rt.caps, { input: source, output });
  rt.log('info', `target ${plan.target.width}x${plan.target.height}; paths to try: ${plan.attempts.map((a) => a.path).join(' → ')}`);
  const fallbacks: { path: string; reason: string; error: string }[] = [];
  let cpuSeconds = 0;
  let gpuSeconds = 0;
  let ran: PlannedCommand | null = null;
  const inputErrors: string[] = []; // demuxer/decoder errors: a damaged or truncated source
  for (const [i, attempt] of plan.attempts.entries()) {
    rt.log('info', `path ${attempt.path}: ${attempt.reason}`);
    try {
      const result = await rt.media.runFfmpeg(attempt.args, {
        signal: rt.signal,
        killGraceMs: rt.killGraceMs,
        onLog: (line) => {
          const level = levelOf(line);
          if (level === 'error') inputErrors.push(line.replace(/ @ 0x[0-9a-f]+/, ''));
          rt.log(level, line);
        },
        onProgress: (p) => {
          if (plan.outputSeconds > 0) rt.progress(0.05 + 0.9 * Math.min(1, p.outTimeSeconds / plan.outputSeconds));
        },
      });
      cpuSeconds += result.cpuSeconds;
      if (attempt.gpuIndex !== null) gpuSeconds += result.wallSeconds;
      ran = attempt;
      break;
    } catch (err) {
      if (rt.signal.aborted) throw err;
      const reason = err instanceof FfmpegError ? lastErrorLine(err) : (err as Error).message;
      const next = plan.attempts[i + 1];
      if (!next) throw new JobError('media_unreadable', `ffmpeg could not transcode the source: ${reason}`);
      // Never silent: the step down is logged with its reason and kept on the job.
      rt.log('warn', `FALLBACK: path ${attempt.path} failed (${reason}); stepping down to ${next.path}`);
      fallbacks.push({ path: attempt.path, reason: attempt.reason, error: reason });
    }
  }
  rt.progress(0.97);
  // Verify and upload at once (the upload is most of the fixed cost of a short job); an output
  // that fails verification is discarded again, so it is never recorded as the job's.
  const uploading = rt.transfer.upload('output.mp4', output, 'video/mp4', rt.signal);
  uploading.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
  let outProbe: MediaProbe;
  try {
    outProbe = await verifyOutput(rt, output, probe, plan.target.height, inputErrors);
  } catch (err) {
    await uploading.then(() => rt.transfer.discard('output.mp4', rt.signal)).catch(() => undefined);
    throw err;
  }
  const file = await uploading;
  rt.log('info', `stored the output (${ran!.path} path): ${describe(outProbe)}`);
  const gpu = ran!.gpuIndex !== null ? rt.caps.gpus.find((g) => g.index === ran!.gpuIndex) : undefined;
  return {
    outputs: [{ file, role: 'mp4' }],
    usage: { cpuSeconds, gpuSeconds, gpuModel: gpu?.name ?? 'cpu', gpuUuid: gpu?.uuid ?? null, outputSeconds: outProbe.durationSeconds },
    execution: {
      path: ran!.path,
      reason: ran!.reason,
      gpu: gpu ? { index: gpu.index, name: gpu.name, uuid: gpu.uuid } : null,
      fallbacks,
      target: plan.target,
      source: { format: probe.formatName, duration: probe.durationSeconds, video: probe.video, audio: probe.audio },
    },
  };
}

async function probeSource(rt: JobRuntime<TranscodeInput>, file: string): Promise<MediaProbe> {
  try {
    return await rt.media.probeMedia(file, { signal: rt.signal });
  } catch (err) {
    if (rt.signal.aborted) throw err;
    if (err instanceof ProbeError) throw new JobError('media_unreadable', `the source is not a media file this farm reads: ${err.message}`);
    throw err;
  }
}

async function verifyOutput(rt: JobRuntime<TranscodeInput>, file: string, source: MediaProbe, height: number, inputErrors: string[]): Promise<MediaProbe> {
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

function describe(p: MediaProbe): string {
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
