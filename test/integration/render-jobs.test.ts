/**
 * Render jobs on the API side, with the real recorder on a real database and Redis: a job compiles
 * into tasks on the render queue; tasks' reports move the task and job state machines (assembly
 * after the last frame, retries on other workers, a worker blocklisted after three failures, a
 * task failed after three workers, the job failed with it); pause, resume, requeue and cancel;
 * renderer templates and the bad input of each.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels, type Report } from '../../src/queue/messages.js';
import { recordReport } from '../../src/services/report-recorder.js';
import type { ApiClient } from '../helpers/api-client.js';
import { apiHarness, type Harness } from '../helpers/api-harness.js';
import { ASSETS } from '../helpers/test-env.js';

let h: Harness;
let api: ApiClient;
let ops: ApiClient;
let scene: string;
beforeAll(async () => {
  h = await apiHarness();
  api = await h.as('studio-r');
  ops = await h.as('park-ops', true);
  scene = (await api.upload(readFileSync(path.join(ASSETS, 'images', readdir()[0]!)), 'application/octet-stream', 'shot.blend')).body.id;
});
afterAll(() => h?.close());

function readdir() {
  return readdirSync(path.join(ASSETS, 'images'));
}

const at = () => new Date().toISOString();
const usage = { wallSeconds: 1, cpuSeconds: 1, gpuSeconds: 0, gpuModel: 'cpu', gpuUuid: null, outputSeconds: 0 };
const record = (r: Report) => recordReport(h.farm.ctx, r);
const attemptOf = (index: number, generation = 0, run = 1) => (index + 1) * 1000 + generation * 10 + run;

async function submit(input: Record<string, unknown> = {}) {
  const res = await api.post('/v1/jobs', { kind: 'render', input: { scene: { file: scene }, renderer: 'blender', frames: { start: 1, end: 6 }, chunk_size: 3, ...input } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}
const tasks = async (id: string) => (await api.get(`/v1/jobs/${id}/tasks`)).body.results as Array<{ index: number; type: string; status: string; failures: unknown[]; frames: { start: number; end: number } }>;
const job = async (id: string) => (await api.get(`/v1/jobs/${id}`)).body;
const queued = async (id: string) => (await h.farm.ctx.queues.render.getJobs(['waiting', 'prioritized', 'delayed'])).filter((j) => j.data.jobId === id).map((j) => j.id).sort();

/** What a worker does when it takes a task: the entry leaves the queue, and it says so. */
async function take(id: string, index: number, generation: number, worker: string) {
  await (await h.farm.ctx.queues.render.getJob(`${id}.${index}.${generation}`))?.remove();
  await record({ type: 'task-started', jobId: id, index, generation, attempt: attemptOf(index, generation), workerId: worker, at: at() });
}

async function runTask(id: string, index: number, worker: string, outcome: 'succeeded' | 'failed', opts: { generation?: number; code?: 'internal' | 'media_unreadable'; frames?: number[] } = {}) {
  const generation = opts.generation ?? 0;
  const attempt = attemptOf(index, generation);
  await take(id, index, generation, worker);
  const outputs = outcome === 'succeeded' ? await Promise.all((opts.frames ?? []).map(async (frame) => ({ frame, name: `frames/frame_${frame}.png`, file: (await api.upload(new Uint8Array([frame]), 'image/png', `f${frame}.png`)).body.id as string }))) : [];
  await record({
    type: 'task-ended', jobId: id, index, generation, attempt, workerId: worker, at: at(), outcome,
    error: outcome === 'succeeded' ? null : { code: opts.code ?? 'internal', message: 'the renderer crashed' },
    outputs, usage, execution: { path: 'cpu' },
  });
}

describe('a render job', () => {
  it('compiles into frame tasks on the render queue, then an assembly, then succeeds with frames and preview', async () => {
    const id = await submit();
    expect((await tasks(id)).map((t) => [t.index, t.type, t.status, t.frames.start, t.frames.end])).toEqual([[0, 'frames', 'queued', 1, 3], [1, 'frames', 'queued', 4, 6]]);
    expect(await queued(id)).toEqual([`${id}.0.0`, `${id}.1.0`]);
    // No worker runs in this test: the job says what it waits for.
    expect((await job(id)).render.waiting_for_worker).toMatch(/no worker that takes render tasks is up/);
    await runTask(id, 0, 'wrk_a', 'succeeded', { frames: [1, 2, 3] });
    expect(await job(id)).toMatchObject({ status: 'running', render: { frames_done: 3 } });
    await runTask(id, 1, 'wrk_b', 'succeeded', { frames: [4, 5, 6] });
    expect((await tasks(id)).map((t) => [t.index, t.type, t.status])).toEqual([[0, 'frames', 'completed'], [1, 'frames', 'completed'], [2, 'assembly', 'queued']]);
    const assembly = (await h.farm.ctx.queues.render.getJob(`${id}.2.0`))!;
    expect(assembly.data.frames!.map((f) => f.frame)).toEqual([1, 2, 3, 4, 5, 6]);
    const preview = (await api.upload(new Uint8Array(10), 'video/mp4', 'preview.mp4')).body.id;
    await take(id, 2, 0, 'wrk_a');
    await record({ type: 'task-ended', jobId: id, index: 2, generation: 0, attempt: attemptOf(2), workerId: 'wrk_a', at: at(), outcome: 'succeeded', error: null, outputs: [{ frame: 0, file: preview, name: 'preview.mp4' }], usage, execution: {} });
    const done = await job(id);
    expect(done).toMatchObject({ status: 'succeeded', progress: 1 });
    expect(done.outputs.map((o: { role: string }) => o.role)).toEqual(['preview', 'frame', 'frame', 'frame', 'frame', 'frame', 'frame']);
    // Every task run is an attempt of the job, billed with its frames.
    const attempts = (await api.get(`/v1/jobs/${id}/attempts`)).body.results;
    expect(attempts.map((a: { attempt: number; billed_to: string }) => [a.attempt, a.billed_to])).toEqual([[1001, 'tenant'], [2001, 'tenant'], [3001, 'tenant']]);
    const frames = (await api.get('/v1/usage?group_by=job')).body.results.filter((r: { job: string; meter: string }) => r.job === id && r.meter === 'frames_rendered');
    expect(frames[0].quantity).toBe(6);
  });

  it('gives a failed task to other workers, blocklists a worker after three failures, fails the task after three workers', async () => {
    const id = await submit({ frames: { start: 1, end: 12 }, chunk_size: 3 });
    await runTask(id, 0, 'wrk_bad', 'failed');
    expect((await tasks(id))[0]).toMatchObject({ status: 'queued' });
    expect(await queued(id)).toContain(`${id}.0.1`);
    await runTask(id, 1, 'wrk_bad', 'failed');
    await runTask(id, 2, 'wrk_bad', 'failed');
    // Three failures of one worker on this job: it takes no more of its tasks.
    expect(await h.farm.ctx.redis.sismember(channels.blocklistKey(h.farm.ctx.config.MALAN_QUEUE_PREFIX, id), 'wrk_bad')).toBe(1);
    expect((await job(id)).render.blocklisted_workers).toEqual([{ worker_id: 'wrk_bad', failures: 3 }]);
    await runTask(id, 0, 'wrk_c', 'failed', { generation: 1 });
    await runTask(id, 0, 'wrk_d', 'failed', { generation: 2 });
    // Failed on three different workers: the task fails for good, and so does the job.
    expect((await tasks(id))[0]).toMatchObject({ status: 'failed' });
    const failed = await job(id);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'internal' } });
    expect(failed.error.message).toMatch(/task 0 \(frames 1–3\) failed on 3 workers/);
    expect(await queued(id)).toEqual([]);
    expect((await tasks(id)).filter((t) => t.status === 'canceled').length).toBeGreaterThan(0);
  });

  it('fails at once when the scene cannot be read: another worker would not do better', async () => {
    const id = await submit();
    await runTask(id, 0, 'wrk_a', 'failed', { code: 'media_unreadable' });
    expect(await job(id)).toMatchObject({ status: 'failed', error: { code: 'media_unreadable' } });
  });

  it('pauses (no task starts; the queue keeps them), resumes, requeues a completed task, and cancels', async () => {
    const id = await submit({ frames: { start: 1, end: 9 } });
    await runTask(id, 0, 'wrk_a', 'succeeded', { frames: [1, 2, 3] });
    const paused = await api.post(`/v1/jobs/${id}/pause`);
    expect(paused.body.status).toBe('paused');
    expect(await h.farm.ctx.redis.exists(channels.pausedKey(h.farm.ctx.config.MALAN_QUEUE_PREFIX, id))).toBe(1);
    expect((await tasks(id)).map((t) => t.status)).toEqual(['completed', 'paused', 'paused']);
    expect((await api.post(`/v1/jobs/${id}/pause`)).body.status).toBe('paused'); // twice is fine
    expect((await api.post(`/v1/jobs/${id}/resume`)).body.status).toBe('running');
    expect((await tasks(id)).map((t) => t.status)).toEqual(['completed', 'queued', 'queued']);
    const again = await api.post(`/v1/jobs/${id}/tasks/0/requeue`);
    expect(again.body).toMatchObject({ index: 0, status: 'queued' });
    expect(await queued(id)).toContain(`${id}.0.1`);
    expect((await api.post(`/v1/jobs/${id}/tasks/0/requeue`)).status).toBe(409);
    expect((await api.post(`/v1/jobs/${id}/tasks/99/requeue`)).status).toBe(404);
    expect((await api.post(`/v1/jobs/${id}/tasks/x/requeue`)).status).toBe(400);
    await take(id, 1, 0, 'wrk_a'); // running when the job is canceled: its worker stops and says so
    expect((await api.post(`/v1/jobs/${id}/cancel`)).body.status).toBe('canceled');
    expect(await queued(id)).toEqual([]);
    await record({ type: 'task-ended', jobId: id, index: 1, generation: 0, attempt: attemptOf(1), workerId: 'wrk_a', at: at(), outcome: 'canceled', error: { code: 'canceled', message: 'canceled while rendering' }, outputs: [], usage, execution: {} });
    expect((await tasks(id))[1]).toMatchObject({ status: 'canceled' });
    expect((await tasks(id)).every((t) => t.status === 'canceled' || t.status === 'completed')).toBe(true);
    expect((await api.post(`/v1/jobs/${id}/resume`)).status).toBe(409);
    expect((await api.post(`/v1/jobs/${id}/pause`)).status).toBe(409);
  });

  it("sizes tasks from the first frame's time with task_seconds", async () => {
    const id = await submit({ frames: { start: 1, end: 20 }, chunk_size: undefined, task_seconds: 10 });
    expect((await tasks(id)).map((t) => [t.frames.start, t.frames.end])).toEqual([[1, 1]]);
    await take(id, 0, 0, 'wrk_a');
    const f = (await api.upload(new Uint8Array([1]), 'image/png', 'f.png')).body.id;
    await record({ type: 'task-ended', jobId: id, index: 0, generation: 0, attempt: attemptOf(0), workerId: 'wrk_a', at: at(), outcome: 'succeeded', error: null, outputs: [{ frame: 1, file: f, name: 'frames/frame_1.png' }], secondsPerFrame: 2.5, usage, execution: {} });
    // 10 s a task at 2.5 s a frame: 4 frames a task for the 19 left.
    expect((await tasks(id)).slice(1).map((t) => [t.frames.start, t.frames.end])).toEqual([[2, 5], [6, 9], [10, 13], [14, 17], [18, 20]]);
    expect((await queued(id)).length).toBe(5);
  });

  it.each([
    [{ frames: { start: 10, end: 1 } }, /end is before start/],
    [{ frames: { start: 1, end: 10_000_000 } }, /100000 frames/],
    [{ frames: { start: 1, end: 90_000 }, chunk_size: 1 }, /tasks is more than/],
    [{ renderer: 'unknown-renderer' }, /no renderer template 'unknown-renderer'/],
    [{ renderer: 'blender', parameters: { x: 1 } }, /parameters are for renderer templates/],
    [{ scene: { file: '../../etc/passwd' } }, /scene.file/],
    [{ scene: { file: 'file_0000000000aaaaaaaaaaaaaaaa' } }, /not found/],
  ])('refuses %j and creates nothing', async (over, message) => {
    const before = (await api.get('/v1/jobs?kind=render&limit=100')).body.results.length;
    const res = await api.post('/v1/jobs', { kind: 'render', input: { scene: { file: scene }, renderer: 'blender', frames: { start: 1, end: 6 }, ...over } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
    expect((await api.get('/v1/jobs?kind=render&limit=100')).body.results.length).toBe(before);
  });
});

describe('renderer templates', () => {
  const lavfi = {
    name: 'lavfi-frames',
    description: 'test frames drawn by ffmpeg',
    parameters: [{ name: 'size', type: 'INT', min: 16, max: 4096, default: 64 }, { name: 'label', type: 'STRING', default: 'shot' }],
    command: ['ffmpeg', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s={{Param.size}}x{{Param.size}}:d=1', '-frames:v', '1', '-y', '{{Task.OutputDir}}/frame_{{Task.Frame:04}}.png'],
    per: 'frame',
    outputs: { pattern: 'frame_####.png', format: 'png' },
  };

  it('are added by operators and listed for everyone, Blender first', async () => {
    expect((await api.post('/v1/admin/render-templates', lavfi)).status).toBe(403);
    expect((await ops.post('/v1/admin/render-templates', lavfi)).status).toBe(201);
    expect((await ops.post('/v1/admin/render-templates', lavfi)).status).toBe(200);
    expect((await api.get('/v1/render-templates')).body.results.map((t: { name: string }) => t.name)).toEqual(['blender', 'lavfi-frames']);
  });

  it.each([
    [{ ...lavfi, command: ['ffmpeg', '{{Task.Frames}}'] }, /Task.Frames/],
    [{ ...lavfi, outputs: { pattern: '../frame_####.png', format: 'png' } }, /\.\./],
    [{ ...lavfi, name: 'blender' }, /blender/],
  ])('refuse a bad template', async (body, message) => {
    const res = await ops.post('/v1/admin/render-templates', body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
  });

  it("check a job's parameters at submission: shell metacharacters never reach a worker", async () => {
    for (const label of ['; rm -rf /', '$(reboot)', '`id`', '../../etc/passwd']) {
      const res = await api.post('/v1/jobs', { kind: 'render', input: { scene: { file: scene }, renderer: 'lavfi-frames', frames: { start: 1, end: 2 }, parameters: { label } } });
      expect(res.status, label).toBe(400);
      expect(res.body.error.message).toMatch(/parameters.label/);
    }
    const ok = await api.post('/v1/jobs', { kind: 'render', input: { scene: { file: scene }, renderer: 'lavfi-frames', frames: { start: 1, end: 2 }, parameters: { size: 32 } } });
    expect(ok.status).toBe(201);
    const task = (await h.farm.ctx.queues.render.getJob(`${ok.body.id}.0.0`))!;
    expect((task.data.template as { name: string }).name).toBe('lavfi-frames');
  });
});
