/**
 * Split-and-stitch for long sources: the parent cuts the video at keyframes (no re-encode) and
 * shares the pieces; each piece is a child job on the chunk queue that any worker encodes with its
 * own best path; the parent, resumed when all are done, joins them (no re-encode), adds the
 * source's audio, and verifies the result like any other output. A failing piece retries alone.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MediaProbe } from '../../media/media-probe.js';
import { JobError } from '../job-error.js';
import type { JobResult, JobRuntime } from '../job-runtime.js';
import { DEFAULT_AUDIO_BITRATE, planTranscode, type TranscodePlan } from './plan.js';
import { describeMedia, executionSummary, mp4Rendition, runAttempts, verifyOutput } from './run-steps.js';
import { concatList, splitArgs, stitchArgs } from './split-commands.js';
import type { TranscodeInput } from './spec.js';

/** Sources longer than this are split when the input names no chunk size. */
export const SPLIT_ABOVE_SECONDS = 600;
export const DEFAULT_CHUNK_SECONDS = 120;

export interface ChunkResult {
  index: number;
  file: string;
  url: string;
  path: string;
  frames: number | null;
  usage: { cpuSeconds: number; gpuSeconds: number; gpuModel: string; gpuUuid: string | null; wallSeconds: number };
}

/** The chunk size to split at, or null to encode in one piece (and why, for the log). */
export function chunking(input: TranscodeInput, probe: MediaProbe): { seconds: number } | { seconds: null; why: string } {
  const seconds = input.chunk_seconds ?? (probe.durationSeconds > SPLIT_ABOVE_SECONDS ? DEFAULT_CHUNK_SECONDS : null);
  if (seconds === null) return { seconds: null, why: '' };
  if (probe.durationSeconds < seconds * 1.5) return { seconds: null, why: `the source (${probe.durationSeconds.toFixed(1)} s) is under 1.5 chunks of ${seconds} s` };
  // Matroska pieces do not carry the display matrix: a rotated source is encoded whole.
  if (probe.video?.rotation) return { seconds: null, why: `the source is rotated ${probe.video.rotation}°` };
  return { seconds };
}

export async function runSplit(rt: JobRuntime<TranscodeInput>, source: string, probe: MediaProbe, plan: TranscodePlan, chunkSeconds: number): Promise<JobResult> {
  const flow = rt.flow!;
  const video = probe.video!;
  let splitCpu = Number(flow.state?.splitCpuSeconds ?? 0);
  if (flow.state === null) {
    const dir = path.join(rt.workDir, 'pieces');
    await mkdir(dir, { recursive: true });
    const cut = await rt.media.runFfmpeg(splitArgs(source, dir, { chunkSeconds, videoStream: video.index }), { signal: rt.signal, killGraceMs: rt.killGraceMs, onLog: (l) => rt.log('info', l) });
    splitCpu = cut.cpuSeconds;
    const pieces = (await readdir(dir)).filter((f) => f.startsWith('src_')).sort();
    if (pieces.length < 2) rt.log('warn', `the source cut into ${pieces.length} piece (keyframes too far apart for ${chunkSeconds} s chunks)`);
    const shared = [];
    for (const piece of pieces) shared.push(await rt.transfer.share(`chunks/${piece}`, path.join(dir, piece), 'video/x-matroska', rt.signal));
    rt.log('info', `split: ${pieces.length} pieces of about ${chunkSeconds} s, cut at keyframes without re-encoding; handing them to the farm's workers`);
    const { chunk_seconds: _, ...childInput } = rt.input;
    await flow.suspendForChildren(
      { step: 'stitch', pieces: pieces.length, splitCpuSeconds: splitCpu },
      shared.map((s, index) => ({ index, total: shared.length, url: s.url, input: childInput })),
    );
  }
  const results = (await flow.childResults<ChunkResult>()).sort((a, b) => a.index - b.index);
  rt.log('info', `stitch: ${results.length} encoded pieces (${[...new Set(results.map((r) => r.path))].join(', ')} path) joined without re-encoding`);
  rt.progress(0.92);
  const encoded: string[] = [];
  for (const r of results) {
    const file = path.join(rt.workDir, `enc_${String(r.index).padStart(3, '0')}.mp4`);
    await rt.transfer.fetchUrl(r.url, file, rt.signal);
    encoded.push(file);
  }
  const list = path.join(rt.workDir, 'pieces.ffconcat');
  await writeFile(list, concatList(encoded));
  const output = path.join(rt.workDir, 'output.mp4');
  const outcome = await runAttempts(
    rt,
    [{ path: 'cpu', reason: 'join the encoded pieces and add the source audio (stream copy, AAC audio)', gpuIndex: null, args: stitchArgs(list, source, output, { audioStream: probe.audio?.index ?? null, audioBitrate: rt.input.audio?.bitrate ?? DEFAULT_AUDIO_BITRATE }) }],
    plan.outputSeconds,
    { from: 0.93, to: 0.97 },
  );
  const outProbe = await verifyOutput(rt, output, probe, plan.target.height, outcome.inputErrors);
  const expectedFrames = results.every((r) => r.frames !== null) ? results.reduce((n, r) => n + r.frames!, 0) : null;
  if (expectedFrames !== null && outProbe.video?.frameCount !== null && outProbe.video?.frameCount !== expectedFrames) {
    throw new JobError('output_verification_failed', `the joined output has ${outProbe.video?.frameCount} frames, its pieces ${expectedFrames}`);
  }
  const file = await rt.transfer.upload('output.mp4', output, 'video/mp4', rt.signal);
  rt.log('info', `stored the output (split into ${results.length}): ${describeMedia(outProbe)}`);
  const gpuResult = results.find((r) => r.usage.gpuModel !== 'cpu');
  const { execution } = executionSummary(rt, outcome, probe);
  const sum = (f: (r: ChunkResult) => number) => results.reduce((n, r) => n + f(r), 0);
  return {
    outputs: [{ file, role: 'mp4' }],
    usage: {
      // The pieces' work is this job's work: their CPU and GPU time is counted here, once.
      cpuSeconds: splitCpu + outcome.cpuSeconds + sum((r) => r.usage.cpuSeconds),
      gpuSeconds: sum((r) => r.usage.gpuSeconds),
      gpuModel: gpuResult?.usage.gpuModel ?? 'cpu',
      gpuUuid: gpuResult?.usage.gpuUuid ?? null,
      outputSeconds: outProbe.durationSeconds,
      meters: { renditions: [mp4Rendition(outProbe, plan.target.height)] },
    },
    execution: {
      ...execution,
      path: `split:${[...new Set(results.map((r) => r.path))].join('+')}`,
      reason: `split into ${results.length} pieces of about ${chunkSeconds} s, encoded by the farm's workers, joined without re-encoding`,
      target: plan.target,
      chunks: results.map((r) => ({ index: r.index, path: r.path, frames: r.frames, wall_seconds: r.usage.wallSeconds })),
    },
  };
}

/** One piece, on whichever worker took it: plan its encode from this worker's capabilities, run, share. */
export async function runChunk(rt: JobRuntime<TranscodeInput>, chunk: { index: number; url: string }): Promise<ChunkResult> {
  const started = performance.now();
  const piece = path.join(rt.workDir, 'piece.mkv');
  await rt.transfer.fetchUrl(chunk.url, piece, rt.signal);
  const probe = await rt.media.probeMedia(piece, { signal: rt.signal });
  const output = path.join(rt.workDir, 'encoded.mp4');
  const plan = planTranscode(rt.input, probe, rt.caps, { input: piece, output });
  const outcome = await runAttempts(rt, plan.attempts, plan.outputSeconds, { from: 0, to: 1 });
  const encoded = await rt.media.probeMedia(output, { signal: rt.signal });
  const name = `chunks/enc_${String(chunk.index).padStart(3, '0')}.mp4`;
  const shared = await rt.transfer.share(name, output, 'video/mp4', rt.signal);
  const { gpu } = executionSummary(rt, outcome, probe);
  return {
    index: chunk.index,
    file: shared.file,
    url: shared.url,
    path: outcome.ran.path,
    frames: encoded.video?.frameCount ?? null,
    usage: { cpuSeconds: outcome.cpuSeconds, gpuSeconds: outcome.gpuSeconds, gpuModel: gpu?.name ?? 'cpu', gpuUuid: gpu?.uuid ?? null, wallSeconds: (performance.now() - started) / 1000 },
  };
}
