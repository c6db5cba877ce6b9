/**
 * Work that is interrupted ends exactly once: a cancel kills the running ffmpeg (no process left),
 * and a worker killed with SIGKILL mid-transcode loses its attempt to another worker, which
 * finishes the job once, with one billed attempt.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiClient, waitForJob, type ApiClient } from '../helpers/api-client.js';
import { startFarm, waitFor, type FarmProcesses } from '../helpers/farm-processes.js';
import { testWorld, type TestWorld } from '../helpers/test-env.js';

let world: TestWorld;
let farm: FarmProcesses;
let api: ApiClient;
let source: string;

beforeAll(async () => {
  // Short locks so that a dead worker's job is noticed within seconds, not the production 30 s.
  // Inputs over HTTP here, as a worker on another host would fetch them.
  // Usage every half second: a worker killed mid-job has still reported the time it used.
  world = await testWorld({ env: { MALAN_LOCK_MS: '3000', MALAN_STALLED_INTERVAL_MS: '1000', MALAN_KILL_GRACE_MS: '2000', MALAN_READ_LOCAL_INPUTS: 'false', MALAN_USAGE_INTERVAL_SECONDS: '0.5' } });
  farm = await startFarm(world.env);
  api = apiClient(farm.baseUrl, await farm.createKey('studio-a'));
  source = path.join(world.home, 'long.mp4');
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=1280x720:r=30:d=20', '-f', 'lavfi', '-i', 'sine=d=20', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', source]);
});
afterAll(() => farm?.stop());

/** ffmpeg processes working in a job's temp directory (`malan-<job id>-…`). */
function ffmpegsOf(jobId: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes('ffmpeg') && l.includes(`malan-${jobId}-`));
}

async function submitRunning(input: Record<string, unknown>): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const file = (await api.upload(readFileSync(source), 'video/mp4', 'long.mp4')).body.id;
  const id = (await api.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, ...input } })).body.id;
  await waitFor(async () => (await api.get(`/v1/jobs/${id}`)).body.progress > 0.06 && ffmpegsOf(id).length > 0, 60_000, () => `job ${id} never got going`);
  return id;
}

it('cancel stops the running ffmpeg and ends the job canceled', async () => {
  const id = await submitRunning({ height: 720, preset: 'veryslow' });
  expect(ffmpegsOf(id)).toHaveLength(1);
  const res = await api.post(`/v1/jobs/${id}/cancel`);
  expect(res.body.status).toBe('canceled');
  await waitFor(() => ffmpegsOf(id).length === 0, 15_000, () => `ffmpeg still running: ${ffmpegsOf(id).join('\n')}`);
  // The worker's end of the attempt (recorded with its usage in one transaction) says it stopped.
  await waitFor(async () => (await api.get(`/v1/jobs/${id}/attempts`)).body.results[0]?.status === 'canceled', 15_000, () => 'the worker never reported the cancel');
  await waitFor(async () => (await api.get(`/v1/jobs/${id}/logs`)).body.includes('canceled: the running processes were stopped'), 15_000, () => 'no cancel line in the log');
  const job = (await api.get(`/v1/jobs/${id}`)).body;
  expect(job.status).toBe('canceled');
  expect(job.outputs).toEqual([]);
  expect(job.usage.wall_seconds).toBeGreaterThan(0); // the time used is billed
});

it('a worker killed with SIGKILL mid-transcode: another finishes the job once, one billed attempt', async () => {
  await farm.startWorker();
  const id = await submitRunning({ height: 480, preset: 'fast' });
  // Whichever worker runs it dies without a word.
  const runner = farm.workers.find((w) => farm.log(`worker-${farm.workers.indexOf(w)}`).includes(id));
  expect(runner).toBeDefined();
  runner!.kill('SIGKILL');
  const job = await waitForJob(api, id, 180_000);
  expect(job.status).toBe('succeeded');
  expect(job.attempts).toBe(2);
  expect(job.outputs).toHaveLength(1);
  expect(job.usage.attempts_billed).toBe(1);
  await waitFor(() => ffmpegsOf(id).length === 0, 15_000, () => `orphan ffmpeg: ${ffmpegsOf(id).join('\n')}`);
  const attempts = (await api.get(`/v1/jobs/${id}/attempts`)).body.results;
  expect(attempts.map((a: { attempt: number; status: string }) => [a.attempt, a.status])).toEqual([[1, 'lost'], [2, 'succeeded']]);
  // The dead worker's increments are counted, as the platform's cost: the tenant pays for the attempt that ran.
  expect(attempts[0]).toMatchObject({ billed_to: 'platform', usage: { billable: false } });
  expect(attempts[0].usage.wall_seconds).toBeGreaterThan(0);
  expect(attempts[1]).toMatchObject({ billed_to: 'tenant', usage: { billable: true } });
  expect(attempts[1].worker_id).not.toBe(attempts[0].worker_id);
  expect((await api.get(`/v1/jobs/${id}/logs`)).body).toContain('fetched the source over HTTP');
});

it('a job past its timeout is stopped: ffmpeg killed, failed with code timeout, not retried', async () => {
  const id = await submitRunning({ height: 720, preset: 'veryslow', timeout_seconds: 4 });
  const job = await waitForJob(api, id, 60_000);
  expect(job.status).toBe('failed');
  expect(job.error).toMatchObject({ code: 'timeout' });
  expect(job.error.message).toContain('4 s');
  expect(job.attempts).toBe(1);
  await waitFor(() => ffmpegsOf(id).length === 0, 15_000, () => `ffmpeg still running: ${ffmpegsOf(id).join('\n')}`);
});

it('SIGTERM to a worker stops its ffmpeg and hands the job to another worker', async () => {
  const id = await submitRunning({ height: 360, preset: 'fast' });
  const runner = farm.workers.find((w) => w.exitCode === null && farm.log(`worker-${farm.workers.indexOf(w)}`).includes(id));
  expect(runner).toBeDefined();
  const exited = new Promise((r) => runner!.once('exit', r));
  runner!.kill('SIGTERM');
  await exited;
  expect(ffmpegsOf(id)).toEqual([]); // gone with the worker, not orphaned
  if (!farm.workers.some((w) => w.exitCode === null && w.signalCode === null)) await farm.startWorker();
  const job = await waitForJob(api, id, 180_000);
  expect(job.status).toBe('succeeded');
  const attempts = (await api.get(`/v1/jobs/${id}/attempts`)).body.results;
  expect(attempts[0]).toMatchObject({ attempt: 1, status: 'failed', error: { code: 'worker_lost' } });
  expect(attempts.at(-1)).toMatchObject({ status: 'succeeded' });
});
