/**
 * The transcode's I/O: fetch the source, probe it, run the plan's fallback ladder, verify the
 * output with ffprobe, store it. Planning stays pure in plan.ts (one MP4) and ladder-plan (HLS).
 */
import path from 'node:path';
import type { MediaProbe } from '../../media/media-probe.js';
import { JobError } from '../job-error.js';
import type { JobResult, JobRuntime } from '../job-runtime.js';
import { assertSupported, planTranscode } from './plan.js';
import { describeMedia, executionSummary, fetchAndProbe, mp4Rendition, runAttempts, verifyOutput } from './run-steps.js';
import { runLadder } from './run-ladder.js';
import { chunking, runSplit } from './run-split.js';
import type { TranscodeInput } from './spec.js';

export async function runTranscode(rt: JobRuntime<TranscodeInput>): Promise<JobResult> {
  assertSupported(rt.input); // before anything is fetched
  const { source, probe } = await fetchAndProbe(rt);
  if (!probe.video) throw new JobError('no_video_stream', 'the source has no video stream to transcode');
  if (rt.input.ladder !== undefined) return runLadder(rt, source, probe);
  const output = path.join(rt.workDir, 'output.mp4');
  const plan = planTranscode(rt.input, probe, rt.caps, { input: source, output });
  rt.log('info', `target ${plan.target.width}x${plan.target.height}; paths to try: ${plan.attempts.map((a) => a.path).join(' → ')}`);
  const split = rt.flow ? chunking(rt.input, probe) : { seconds: null, why: 'this run cannot fan out' };
  if (split.seconds !== null) return runSplit(rt, source, probe, plan, split.seconds);
  if (rt.input.chunk_seconds !== undefined) rt.log('info', `encoding in one piece: ${split.why}`);
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
    usage: { cpuSeconds: outcome.cpuSeconds, gpuSeconds: outcome.gpuSeconds, gpuModel: gpu?.name ?? 'cpu', gpuUuid: gpu?.uuid ?? null, outputSeconds: outProbe.durationSeconds, meters: { renditions: [mp4Rendition(outProbe, plan.target.height)] } },
    execution: { ...execution, target: plan.target },
  };
}

