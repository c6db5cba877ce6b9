/**
 * Transcode wall time: the plan's CPU command run bare (the exact argv a CPU worker would run,
 * built by planTranscode from ffprobe's view of the clip) against the same transcode through the
 * farm: upload once, then submit and wait. Runs are interleaved bare, farm, bare, farm… so that
 * drift in the machine's load hits both sides alike.
 */
import { spawn, execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ApiClient } from '../test/helpers/api-client.js';
import { planTranscode } from '../src/jobs/transcode/plan.js';
import { planLadder } from '../src/jobs/transcode/ladder.js';
import { transcodeInputSchema } from '../src/jobs/transcode/spec.js';
import { probeMedia } from '../src/media/ffmpeg.js';
import { followJob } from './follow-job.js';
import { round, sleep } from './measure.js';
import { logPhases, type Phases } from './log-phases.js';

export interface ClipSpec {
  seconds: number;
  width: number;
  height: number;
  fps: number;
  audio: boolean;
}

/** A synthetic H.264 (+AAC) clip; yuv420p as cameras and uploads are (testsrc2 alone would give 4:4:4). */
export async function makeClip(ffmpegPath: string, file: string, c: ClipSpec): Promise<string[]> {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=s=${c.width}x${c.height}:r=${c.fps}:d=${c.seconds}`,
    ...(c.audio ? ['-f', 'lavfi', '-i', `sine=d=${c.seconds}`] : []),
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p',
    ...(c.audio ? ['-c:a', 'aac'] : ['-an']),
    file,
  ];
  await promisify(execFile)(ffmpegPath, args);
  return args;
}

/** The argv the worker's CPU path runs for a ladder on this clip (HLS written under `outDir`). */
export async function bareLadderCommand(clip: string, outDir: string, input: Record<string, unknown>): Promise<{ args: string[]; path: string; reason: string }> {
  const probe = await probeMedia(clip);
  const parsed = transcodeInputSchema.parse({ source: { file: 'file_00000000000000000000000000' }, ...input });
  const plan = planLadder(parsed, probe, { gpus: [], videoAcceleration: null }, { input: clip, outDir });
  const first = plan.attempts[0]!;
  return { args: first.args, path: first.path, reason: first.reason };
}

/** The argv the worker's CPU path runs for `{source, height}` on this clip (output in `outDir`). */
export async function bareCommand(clip: string, outDir: string, height: number): Promise<{ args: string[]; path: string; reason: string }> {
  const probe = await probeMedia(clip);
  const input = transcodeInputSchema.parse({ source: { file: 'file_00000000000000000000000000' }, height });
  const plan = planTranscode(input, probe, { gpus: [], videoAcceleration: null }, { input: clip, output: path.join(outDir, 'bare-output.mp4') });
  const first = plan.attempts[0]!;
  return { args: first.args, path: first.path, reason: first.reason };
}

export interface BareRun {
  wallSeconds: number;
  /** ffmpeg's own `-benchmark` line: real time and user+system CPU time. */
  ffmpegRealSeconds: number | null;
  cpuSeconds: number | null;
}

/** Spawns ffmpeg with the argv as is; wall time from spawn to exit. */
export function runBare(ffmpegPath: string, args: string[]): Promise<BareRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-20_000);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wallSeconds = (performance.now() - started) / 1000;
      if (code !== 0) return reject(new Error(`bare ffmpeg exited ${code}: ${stderr.split('\n').slice(-5).join('\n')}`));
      const bench = /bench: utime=([\d.]+)s stime=([\d.]+)s rtime=([\d.]+)s/.exec(stderr);
      resolve({
        wallSeconds: round(wallSeconds),
        ffmpegRealSeconds: bench ? Number(bench[3]) : null,
        cpuSeconds: bench ? round(Number(bench[1]) + Number(bench[2])) : null,
      });
    });
  });
}

export interface FarmRun {
  jobId: string;
  /** completed_at - started_at: the worker's own time for the attempt (download … upload). */
  workerSeconds: number;
  /** POST sent → terminal status seen by the client on SSE. */
  endToEndSeconds: number;
  /** created_at → started_at for this (large) job. */
  dispatchMs: number;
  usage: { wall_seconds: number; cpu_seconds: number };
  executionPath: string;
  phases: Phases | null;
}

export async function runFarm(opts: { api: ApiClient; baseUrl: string; key: string; input: Record<string, unknown>; tag: string }): Promise<FarmRun> {
  const t0 = performance.now();
  const res = await opts.api.post('/v1/jobs', { kind: 'transcode', input: opts.input }, { 'idempotency-key': opts.tag });
  if (res.status !== 201) throw new Error(`POST /v1/jobs answered ${res.status}: ${JSON.stringify(res.body)}`);
  const id = res.body.id as string;
  const seen = await followJob(opts.baseUrl, opts.key, id, 600_000);
  const job = (await opts.api.get(`/v1/jobs/${id}`)).body;
  if (job.status !== 'succeeded') throw new Error(`farm transcode ${id} ended ${job.status}: ${JSON.stringify(job.error)}`);
  const started = Date.parse(job.started_at);
  const completed = Date.parse(job.completed_at);
  // Log batches and the end report are recorded by concurrent consumers: the last lines may land
  // a moment after the status does.
  let phases: Phases | null = null;
  for (let i = 0; i < 10 && phases === null; i++) {
    if (i > 0) await sleep(200);
    const logs = await opts.api.get<string>(`/v1/jobs/${id}/logs`);
    phases = logPhases(typeof logs.body === 'string' ? logs.body : '', started, completed);
  }
  return {
    jobId: id,
    workerSeconds: (completed - started) / 1000,
    endToEndSeconds: round((seen.terminalAt - t0) / 1000),
    dispatchMs: started - Date.parse(job.created_at),
    usage: { wall_seconds: job.usage.wall_seconds, cpu_seconds: job.usage.cpu_seconds },
    executionPath: String(job.execution?.path ?? 'unknown'),
    phases,
  };
}
