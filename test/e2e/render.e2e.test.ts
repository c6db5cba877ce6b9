/**
 * The render farm end to end with real processes: a real scene built with Blender's own Python,
 * 12 frames in chunks of 3 across 2 workers, every frame checked (size, not blank) and a preview
 * video of 12 frames; an operator's template (ffmpeg's lavfi) through the same path; a corrupt
 * scene failed clearly; pause, resume and cancel on a running job, cancel killing Blender.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiClient, waitForJob, type ApiClient } from '../helpers/api-client.js';
import { makeBlendScene, makeCorruptBlend } from '../helpers/blend-scene.js';
import { startFarm, waitFor, type FarmProcesses } from '../helpers/farm-processes.js';
import { testWorld } from '../helpers/test-env.js';

let farm: FarmProcesses;
let api: ApiClient;
let ops: ApiClient;
let home: string;
let apiKey = '';

beforeAll(async () => {
  const world = await testWorld({ env: { MALAN_LOCK_MS: '5000', MALAN_STALLED_INTERVAL_MS: '2000', MALAN_KILL_GRACE_MS: '2000' } });
  home = world.home;
  farm = await startFarm(world.env, { workers: 2 });
  apiKey = await farm.createKey('studio-render');
  api = apiClient(farm.baseUrl, apiKey);
  ops = apiClient(farm.baseUrl, await farm.createKey('ops', true));
}, 120_000);
afterAll(() => farm?.stop());

async function upload(file: string) {
  return (await api.upload(readFileSync(file), 'application/octet-stream', path.basename(file))).body.id as string;
}
/** An operator template that draws each frame with ffmpeg's lavfi: a renderer other than Blender. */
function lavfiTemplate(name: string, size: number) {
  return {
    name,
    parameters: [{ name: 'size', type: 'INT', min: 16, max: 1024, default: size }],
    command: ['ffmpeg', '-v', 'error', '-nostdin', '-f', 'lavfi', '-i', 'testsrc2=s={{Param.size}}x{{Param.size}}:d=1', '-frames:v', '1', '-y', '{{Task.OutputDir}}/frame_{{Task.Frame:04}}.png'],
    per: 'frame',
    outputs: { pattern: 'frame_####.png', format: 'png' },
  };
}

/** An output's bytes, fetched with the tenant's key. */
const bytes = async (url: string) => Buffer.from(await (await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } })).arrayBuffer());

it('renders 12 frames of a real Blender scene in 4 tasks on 2 workers, and assembles a 12-frame preview', async () => {
  const scene = await upload(makeBlendScene(home, { frames: 12, width: 160, height: 90, samples: 4 }));
  const res = await api.post('/v1/jobs', { kind: 'render', input: { scene: { file: scene }, renderer: 'blender', frames: { start: 1, end: 12 }, chunk_size: 3 } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const job = await waitForJob(api, res.body.id, 240_000);
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  const tasks = (await api.get(`/v1/jobs/${job.id}/tasks`)).body.results;
  expect(tasks.map((t: { type: string; status: string }) => [t.type, t.status])).toEqual([...Array(4).fill(['frames', 'completed']), ['assembly', 'completed']]);
  // Both workers rendered.
  expect(new Set(tasks.filter((t: { type: string }) => t.type === 'frames').map((t: { worker_id: string }) => t.worker_id)).size).toBe(2);
  const frames = job.outputs.filter((o: { role: string }) => o.role === 'frame');
  expect(frames).toHaveLength(12);
  const stats = [];
  for (const f of frames) {
    const png = await bytes(f.url);
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).toEqual([160, 90]);
    const s = await sharp(png).stats();
    // Not blank: the picture has contrast.
    expect(Math.max(...s.channels.map((c) => c.stdev))).toBeGreaterThan(5);
    stats.push(s.channels[0]!.mean);
  }
  // The object moves: frames differ.
  expect(new Set(stats.map((m) => m.toFixed(2))).size).toBeGreaterThan(1);
  const preview = job.outputs.find((o: { role: string }) => o.role === 'preview');
  const mp4 = path.join(home, 'preview.mp4');
  writeFileSync(mp4, await bytes(preview.url));
  const counted = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', mp4], { encoding: 'utf8' }).trim();
  expect(Number(counted)).toBe(12);
  expect(job.render).toMatchObject({ frames_done: 12, tasks: { total: 5, completed: 5 } });
  expect(job.render.preview_url).toMatch(/\/v1\/files\/file_/);
  // Frames rendered are metered, task by task.
  const usage = (await api.get('/v1/usage?group_by=job')).body.results.filter((r: { job: string }) => r.job === job.id);
  expect(usage.find((r: { meter: string }) => r.meter === 'frames_rendered')?.quantity).toBe(12);
  expect(usage.find((r: { meter: string }) => r.meter === 'cpu_seconds')?.quantity).toBeGreaterThan(0);
  expect(job.execution).toMatchObject({ renderer: 'blender', paths: ['cpu'], frames: 12 });
  // Each task's own log: its start, Blender's words, and the frames it saved.
  const taskLog = String((await api.call('GET', `/v1/jobs/${job.id}/tasks/1/logs`)).body);
  expect(taskLog).toContain('task 1 (frames 4–6) started');
  expect(taskLog).toMatch(/Saved: '.*frame_0004\.png'/);
  expect(taskLog).not.toContain('task 0 (frames 1–3)');
}, 300_000);

it('runs an operator template (ffmpeg lavfi) through the same path', async () => {
  const template = lavfiTemplate('lavfi-test', 96);
  expect((await ops.post('/v1/admin/render-templates', template)).status).toBe(201);
  const scene = await upload(makeCorruptBlend(home)); // a template need not read its input
  const res = await api.post('/v1/jobs', { kind: 'render', input: { scene: { file: scene }, renderer: 'lavfi-test', frames: { start: 1, end: 6 }, chunk_size: 2, parameters: { size: 64 } } });
  const job = await waitForJob(api, res.body.id, 120_000);
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  const frames = job.outputs.filter((o: { role: string }) => o.role === 'frame');
  expect(frames).toHaveLength(6);
  const meta = await sharp(await bytes(frames[0].url)).metadata();
  expect([meta.width, meta.height]).toEqual([64, 64]);
}, 180_000);

it('says what a job waits for when no worker meets its requirements', async () => {
  const scene = await upload(makeCorruptBlend(home));
  const res = await api.post('/v1/jobs', { kind: 'render', input: { scene: { file: scene }, renderer: 'blender', frames: { start: 1, end: 2 }, requirements: { min_vram_mb: 40_000 } } });
  await new Promise((r) => setTimeout(r, 2000));
  const waiting = (await api.get(`/v1/jobs/${res.body.id}`)).body;
  expect(waiting.status).toBe('queued');
  expect(waiting.render.waiting_for_worker).toMatch(/no worker that is up can take its tasks: needs 1 GPU\(s\) with ≥ 40000 MiB; this worker has 0/);
  expect((await api.post(`/v1/jobs/${res.body.id}/cancel`)).body.status).toBe('canceled');
}, 60_000);

it('fails a corrupt scene clearly, at once, without retrying it elsewhere', async () => {
  const scene = await upload(makeCorruptBlend(home));
  const res = await api.post('/v1/jobs', { kind: 'render', input: { scene: { file: scene }, renderer: 'blender', frames: { start: 1, end: 3 } } });
  const job = await waitForJob(api, res.body.id, 120_000);
  expect(job).toMatchObject({ status: 'failed', error: { code: 'media_unreadable' } });
  expect(job.error.message).toMatch(/could not be read/);
  const tasks = (await api.get(`/v1/jobs/${job.id}/tasks`)).body.results;
  expect(tasks[0].failures).toHaveLength(1);
}, 120_000);

it('pauses and resumes a running job, and cancel kills Blender', async () => {
  // Slow frames (many samples, larger) so that the job is still running while it is driven.
  const scene = await upload(makeBlendScene(path.join(home), { frames: 40, width: 320, height: 180, samples: 64 }));
  const res = await api.post('/v1/jobs', { kind: 'render', input: { scene: { file: scene }, renderer: 'blender', frames: { start: 1, end: 40 }, chunk_size: 5 } });
  const id = res.body.id;
  const blenders = () => execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('blender') && l.includes(`malan-${id}-`));
  await waitFor(() => blenders().length > 0, 60_000, () => 'Blender never started');
  expect((await api.post(`/v1/jobs/${id}/pause`)).body.status).toBe('paused');
  // Running tasks finish; no new one starts.
  await waitFor(() => blenders().length === 0, 120_000, () => `Blender still running while paused: ${blenders().join('\n')}`);
  const paused = (await api.get(`/v1/jobs/${id}/tasks`)).body.results;
  expect(paused.some((t: { status: string }) => t.status === 'paused')).toBe(true);
  await new Promise((r) => setTimeout(r, 3000));
  expect(blenders()).toEqual([]);
  expect((await api.post(`/v1/jobs/${id}/resume`)).body.status).toBe('running');
  await waitFor(() => blenders().length > 0, 60_000, () => 'Blender did not start again after resume');
  const canceled = await api.post(`/v1/jobs/${id}/cancel`);
  expect(canceled.body.status).toBe('canceled');
  await waitFor(() => blenders().length === 0, 20_000, () => `Blender survived the cancel: ${blenders().join('\n')}`);
  const tasks = (await api.get(`/v1/jobs/${id}/tasks`)).body.results;
  expect(tasks.some((t: { status: string }) => t.status === 'canceled')).toBe(true);
}, 300_000);

it('retries a task failed on one worker on another, and blocklists a worker that fails the job three times', async () => {
  // A third worker whose ffmpeg fails on purpose for this template's frames (and only those).
  const bin = path.join(home, 'broken-bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    path.join(bin, 'ffmpeg'),
    '#!/bin/bash\nfor a in "$@"; do case "$a" in *s=77x77*) echo "this worker\'s ffmpeg fails on purpose" >&2; exit 1;; esac; done\nexec /usr/bin/ffmpeg "$@"\n',
  );
  chmodSync(path.join(bin, 'ffmpeg'), 0o755);
  const bad = await farm.startWorker({ PATH: `${bin}:${process.env.PATH}` });
  const badId = ((await ops.get('/v1/admin/workers')).body.results as Array<{ id: string; pid: number }>).find((w) => w.pid === bad.pid)!.id;
  const template = lavfiTemplate('lavfi-sized', 77);
  expect((await ops.post('/v1/admin/render-templates', template)).status).toBe(201);
  const scene = await upload(makeCorruptBlend(home));
  const res = await api.post('/v1/jobs', { kind: 'render', input: { scene: { file: scene }, renderer: 'lavfi-sized', frames: { start: 1, end: 12 }, chunk_size: 1 } });
  const job = await waitForJob(api, res.body.id, 180_000);
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  expect(job.outputs.filter((o: { role: string }) => o.role === 'frame')).toHaveLength(12);
  const tasks = (await api.get(`/v1/jobs/${job.id}/tasks`)).body.results as Array<{ failures: Array<{ worker: string }>; worker_id: string; status: string }>;
  const failures = tasks.flatMap((t) => t.failures);
  // Every failure was the broken worker's, and every task it failed was done by another.
  expect(failures.length).toBeGreaterThanOrEqual(3);
  expect(new Set(failures.map((f) => f.worker))).toEqual(new Set([badId]));
  for (const t of tasks) expect(t.worker_id === badId && t.status === 'completed').toBe(false);
  expect(job.render.blocklisted_workers).toEqual([{ worker_id: badId, failures: expect.any(Number) }]);
  expect(job.render.blocklisted_workers[0].failures).toBeGreaterThanOrEqual(3);
  const log = (await api.call('GET', `/v1/jobs/${job.id}/logs`)).body as string;
  expect(log).toContain("this worker's ffmpeg fails on purpose");
}, 240_000);
