/**
 * End to end, real processes: `malan serve` and `malan worker` from the built CLI, a real clip
 * uploaded over HTTP, a transcode followed over SSE to the end, the result downloaded and probed,
 * the webhook received and its signature checked.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, waitForJob, type ApiClient } from '../helpers/api-client.js';
import { startFarm, type FarmProcesses } from '../helpers/farm-processes.js';
import { ASSETS, testWorld } from '../helpers/test-env.js';
import { webhookReceiver } from '../helpers/webhook-receiver.js';
import { followSse } from '../helpers/sse.js';

let farm: FarmProcesses;
let api: ApiClient;
let key: string;
let receiver: Awaited<ReturnType<typeof webhookReceiver>>;

beforeAll(async () => {
  receiver = await webhookReceiver();
  const world = await testWorld();
  farm = await startFarm(world.env);
  key = await farm.createKey('studio-a');
  api = apiClient(farm.baseUrl, key);
});
afterAll(async () => {
  await farm?.stop();
  receiver?.close();
});

const ffprobe = (file: string, entries: string) => execFileSync('ffprobe', ['-v', 'error', '-show_entries', entries, '-of', 'json', file], { encoding: 'utf8' });

describe('a transcode through the whole farm', () => {
  it('uploads, runs, streams progress, and produces a verified MP4; the webhook arrives signed', async () => {
    const source = path.join(ASSETS, 'video/flower.mp4');
    const up = await api.upload(readFileSync(source), 'video/mp4', 'flower.mp4');
    expect(up.status).toBe(201);
    const submitted = await api.post('/v1/jobs', { kind: 'transcode', input: { source: { file: up.body.id }, height: 240 }, webhook: receiver.url, webhook_events_filter: ['completed'] });
    expect(submitted.status).toBe(201);
    const id = submitted.body.id;

    const events = await followSse(`${farm.baseUrl}/v1/jobs/${id}/events`, key, 120_000);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('status');
    expect(names).toContain('progress');
    expect(names).toContain('log');
    expect(names.at(-1)).toBe('done');
    const done = JSON.parse(events.at(-1)!.data);
    expect(done.status).toBe('succeeded');
    const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data).progress as number);
    expect(progress.some((p) => p > 0 && p < 1)).toBe(true);

    const job = (await api.get(`/v1/jobs/${id}`)).body;
    expect(job.execution).toMatchObject({ path: 'cpu', fallbacks: [] });
    expect(job.execution.reason).toContain('no GPU');
    expect(job.usage.wall_seconds).toBeGreaterThan(0);
    expect(job.usage.cpu_seconds).toBeGreaterThan(0);
    expect(job.usage).toMatchObject({ gpu_seconds: 0, gpu_model: 'cpu', attempts_billed: 1 });
    const mp4 = job.outputs.find((o: { role: string }) => o.role === 'mp4');
    expect(mp4).toMatchObject({ content_type: 'video/mp4' });

    expect(mp4.url).toBe(`${farm.baseUrl}/v1/jobs/${id}/outputs/output.mp4`);
    const res = await fetch(mp4.url, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    const byId = await fetch(`${farm.baseUrl}/v1/files/${mp4.file}/content`, { headers: { authorization: `Bearer ${key}`, range: 'bytes=0-99' } });
    expect(byId.status).toBe(206);
    const other = apiClient(farm.baseUrl, await farm.createKey('studio-z'));
    expect((await other.get(`/v1/jobs/${id}/outputs/output.mp4`)).status).toBe(404);
    expect((await api.get(`/v1/jobs/${id}/outputs/../../etc/passwd`)).status).toBe(404);
    const preflight = await fetch(mp4.url, { method: 'OPTIONS', headers: { origin: 'https://player.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization,range' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const out = path.join(farm.home, 'downloaded.mp4');
    writeFileSync(out, Buffer.from(await res.arrayBuffer()));
    const probe = JSON.parse(ffprobe(out, 'format=duration:stream=codec_type,codec_name,height,pix_fmt'));
    const sourceDuration = Number(JSON.parse(ffprobe(source, 'format=duration')).format.duration);
    expect(probe.streams).toEqual(expect.arrayContaining([expect.objectContaining({ codec_type: 'video', codec_name: 'h264', height: 240, pix_fmt: 'yuv420p' }), expect.objectContaining({ codec_type: 'audio', codec_name: 'aac' })]));
    expect(Math.abs(Number(probe.format.duration) - sourceDuration)).toBeLessThan(0.1);
    // faststart: the moov box comes before mdat
    const head = readFileSync(out).subarray(0, 64 * 1024).toString('latin1');
    expect(head.indexOf('moov')).toBeGreaterThan(-1);
    expect(head.indexOf('moov')).toBeLessThan(head.indexOf('mdat') === -1 ? Infinity : head.indexOf('mdat'));

    const logs = (await api.get(`/v1/jobs/${id}/logs`)).body as string;
    expect(logs).toContain('path cpu:');
    expect(logs).toContain('reading the source in place on this host');
    expect(logs).toContain('Input #0');

    const secret = (await api.get('/v1/webhooks/default/secret')).body.key as string;
    const hooks = await receiver.waitFor(1);
    expect(hooks).toHaveLength(1);
    const hook = hooks[0]!;
    const expected = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`${hook.headers['webhook-id']}.${hook.headers['webhook-timestamp']}.${hook.body}`).digest('base64');
    expect(hook.headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(JSON.parse(hook.body)).toMatchObject({ id, status: 'succeeded' });

    // The processes' own logs: JSON lines a shipper can index, each line about the job tied to it.
    const op = apiClient(farm.baseUrl, await farm.createKey('ops', true));
    const tenant = ((await op.get('/v1/admin/tenants')).body.results as Array<{ id: string; name: string }>).find((t) => t.name === 'studio-a')!.id;
    const { id: workerId, hostname } = ((await op.get('/v1/admin/workers')).body.results as Array<{ id: string; hostname: string }>)[0]!;
    const workerLog = farm.logRecords('worker-0');
    expect(workerLog.find((l) => l.msg === 'ready')).toMatchObject({ level: 'info', component: 'worker', worker: workerId, hostname });
    for (const line of workerLog) expect(line, JSON.stringify(line)).toMatchObject({ worker: workerId, time: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) });
    const aboutJob = (lines: typeof workerLog) => lines.filter((l) => l.job_id === id || JSON.stringify(l).includes(id));
    expect(aboutJob(workerLog).map((l) => l.msg)).toEqual(expect.arrayContaining(['started', 'succeeded']));
    for (const line of aboutJob(workerLog)) expect(line, JSON.stringify(line)).toMatchObject({ job_id: id, tenant, worker: workerId });
    // The API's line for the webhook sent when the job ended.
    await expect.poll(() => aboutJob(farm.logRecords('serve')).map((l) => l.msg)).toContain('webhook delivered');
    for (const line of aboutJob(farm.logRecords('serve'))) expect(line, JSON.stringify(line)).toMatchObject({ job_id: id, tenant });
    expect(farm.log('worker-0') + farm.log('serve')).not.toMatch(/[?&]sig=(?!\[redacted\])/);
  });

  it('shows operators the workers, their capabilities and heartbeats; tenants get 403', async () => {
    const op = apiClient(farm.baseUrl, await farm.createKey('ops', true));
    const res = await op.get('/v1/admin/workers');
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(1);
    const w = res.body.results[0];
    expect(w).toMatchObject({ status: 'up', kinds: ['transcode', 'inference', 'render', 'live'], gpus: [] });
    expect(w.capabilities.ffmpeg.encoders).toContain('libx264');
    expect(w.capabilities.notes).toContain('nvidia-smi not found: no GPU on this host');
    expect(Date.now() - Date.parse(w.last_heartbeat_at)).toBeLessThan(15_000);
    expect((await api.get('/v1/admin/workers')).status).toBe(403);
  });

  it('keeps an idle connection open past 60 s, so a client reusing it never loses a streamed upload', async () => {
    // A reused keep-alive socket that the server closes while a POST body is on its way fails
    // with "other side closed" and cannot be retried; the server must outlast clients' idle timers.
    const res = await fetch(`${farm.baseUrl}/healthz`);
    await res.text();
    const timeout = Number(/timeout=(\d+)/.exec(res.headers.get('keep-alive') ?? '')?.[1]);
    expect(timeout).toBeGreaterThanOrEqual(65);
  });

  it('fails bad media with a readable reason and keeps serving', async () => {
    const flower = readFileSync(path.join(ASSETS, 'video/flower.mp4'));
    const cases: Array<[string, Buffer, RegExp]> = [
      ['text', Buffer.from('this is not a video, just words\n'.repeat(50)), /not a media file/],
      ['truncated MP4', flower.subarray(0, Math.floor(flower.length / 3)), /damaged or truncated/],
      ['HLS playlist to /etc/passwd', Buffer.from('#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n'), /not a media file/],
      ['HLS playlist to loopback', Buffer.from('#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n'), /not a media file/],
      ['concat list to /etc/passwd', Buffer.from("ffconcat version 1.0\nfile 'file:///etc/passwd'\n"), /not a media file/],
    ];
    const ids: Array<[string, string, RegExp]> = [];
    for (const [name, bytes, reason] of cases) {
      const file = (await api.upload(bytes, 'video/mp4', `${name}.mp4`)).body.id;
      ids.push([name, (await api.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240 } })).body.id, reason]);
    }
    for (const [name, id, reason] of ids) {
      const job = await waitForJob(api, id);
      expect(job.status, name).toBe('failed');
      expect(job.error.code, name).toBe('media_unreadable');
      expect(job.error.message, name).toMatch(reason);
      expect(job.error.message).not.toContain('/tmp/'); // no paths of the worker leak
      expect(job.attempts, `${name}: bad input is not retried`).toBe(1);
    }
  });

  it('logs nothing but JSON lines, to the last one written on SIGTERM (last: it stops the farm)', async () => {
    await farm.stop();
    for (const name of ['serve', 'worker-0'] as const) {
      const lines = farm.logRecords(name);
      expect(lines.find((l) => l.msg === 'stopping'), name).toMatchObject({ signal: 'SIGTERM' });
      expect(lines.at(-1), name).toMatchObject({ level: 'info', msg: 'stopped' });
    }
  });
});
