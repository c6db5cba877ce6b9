/**
 * The transcode's I/O: fetch the source, probe it, run the plan's fallback ladder, verify the
 * output with ffprobe, store it. Planning stays pure in plan.ts (one MP4) and ladder-plan (HLS).
 */
import path from 'node:path';
import type { MediaProbe } from '../../media/media-probe.js';
import { JobError } from '../job-error.js';
import type { JobResult, JobRuntime } from '../job-runtime.js';
import { assertSupported, planTranscode } from './plan.js';
import { describeMedia, executionSummary, fetchAndProbe, runAttempts } from './run-steps.js';
import { runLadder } from './run-ladder.js';
import type { TranscodeInput } from './spec.js';

/** How far the output's duration may stray from the source's before the output is refused. */
const DURATION_TOLERANCE_SECONDS = 0.5;

export async function runTranscode(rt: JobRuntime<TranscodeInput>): Promise<JobResult> {
  assertSupported(rt.input); // before anything is fetched
  const { source, probe } = await fetchAndProbe(rt);
  if (!probe.video) throw new JobError('no_video_stream', 'the source has no video stream to transcode');
  if (rt.input.ladder !== undefined) return runLadder(rt, source, probe);
  const output = path.join(rt.workDir, 'output.mp4');
  const plan = planTranscode(rt.input, probe, rt.caps, { input: source, output });
  rt.log('info', `target ${plan.target.width}x${plan.target.height}; paths to try: ${plan.attempts.map((a) => a.path).join(' → ')}`);
  const outcome = await runAttempts(rt, plan.attempts, plan.outputSeconds, { from: 0.05, to: 0.95 });
  rt.progress(0.97);
  // Verify and upload at once (the upload is most of the fixed cost of a short job); an output
  // that fails verification is discarded again, so it is never recorded as the job's.
  const uploading = rt.transfer.upload('output.mp4', output, 'video/mp4', rt.signal);
  uploading.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
  let outProbe: MediaProbe;
  try {
    outProbe = await verifyOutput(rt, output, probe, plan.target.height, outcome.inputErrors);
  } catch (err) {
    await uploading.then(() => rt.transfer.discard('output.mp4', rt.signal)).catch(() => undefined);
    throw err;
  }
  const file = await uploading;
  rt.log('info', `stored the output (${outcome.ran.path} path): ${describeMedia(outProbe)}`);
  const { gpu, execution } = executionSummary(rt, outcome, probe);
  return {
    outputs: [{ file, role: 'mp4' }],
    usage: { cpuSeconds: outcome.cpuSeconds, gpuSeconds: outcome.gpuSeconds, gpuModel: gpu?.name ?? 'cpu', gpuUuid: gpu?.uuid ?? null, outputSeconds: outProbe.durationSeconds },
    execution: { ...execution, target: plan.target },
  };
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
