/**
 * Split-and-stitch across two real worker processes: a clip forced into several pieces gives the
 * same frames and duration as the one-piece encode, and the pieces ran on both workers.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiClient, waitForJob, type ApiClient } from '../helpers/api-client.js';
import { startFarm, type FarmProcesses } from '../helpers/farm-processes.js';
import { testWorld } from '../helpers/test-env.js';

let farm: FarmProcesses;
let api: ApiClient;
let key: string;
let file: string;
beforeAll(async () => {
  farm = await startFarm((await testWorld()).env, { workers: 2 });
  key = await farm.createKey('studio-a');
  api = apiClient(farm.baseUrl, key);
  const clip = path.join(farm.home, 'long.mp4');
  // 24 s with a keyframe every 2 s: the pieces can only start at keyframes.
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=30:d=24', '-f', 'lavfi', '-i', 'sine=d=24', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-c:a', 'aac', '-shortest', clip]);
  file = (await api.upload(readFileSync(clip), 'video/mp4', 'long.mp4')).body.id;
});
afterAll(() => farm?.stop());

async function download(job: { outputs: Array<{ role: string; url: string }> }, name: string) {
  const res = await fetch(job.outputs.find((o) => o.role === 'mp4')!.url, { headers: { authorization: `Bearer ${key}` } });
  const out = path.join(farm.home, name);
  writeFileSync(out, Buffer.from(await res.arrayBuffer()));
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_type,codec_name,height,nb_read_frames:format=duration', '-of', 'json', out], { encoding: 'utf8' }));
  const video = probe.streams.find((s: { codec_type: string }) => s.codec_type === 'video');
  return { frames: Number(video.nb_read_frames), duration: Number(probe.format.duration), height: video.height, codec: video.codec_name, audio: probe.streams.some((s: { codec_type: string }) => s.codec_type === 'audio') };
}

it('encodes pieces on both workers and joins them into what one piece would have been', async () => {
  const whole = await waitForJob(api, (await api.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240 } })).body.id, 180_000);
  const split = await waitForJob(api, (await api.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240, chunk_seconds: 4 } })).body.id, 180_000);
  expect(whole.status).toBe('succeeded');
  expect(split.status, JSON.stringify(split.error)).toBe('succeeded');
  expect(split.execution.chunks.length).toBeGreaterThanOrEqual(4);
  expect(split.execution.path).toBe('split:cpu');

  const a = await download(whole, 'whole.mp4');
  const b = await download(split, 'split.mp4');
  expect(b).toMatchObject({ codec: 'h264', height: 240, audio: true });
  expect(b.frames).toBe(a.frames);
  expect(Math.abs(b.duration - a.duration)).toBeLessThan(0.1);

  const logs = (await api.get(`/v1/jobs/${split.id}/logs`)).body as string;
  const workers = new Set([...logs.matchAll(/piece \d+\/\d+ started on worker (wrk_\w+)/g)].map((m) => m[1]));
  expect(workers.size).toBe(2);
  expect(logs).toContain('resumed on worker');
  const attempts = (await api.get(`/v1/jobs/${split.id}/attempts`)).body.results;
  expect(attempts.map((x: { status: string }) => x.status)).toEqual(['succeeded']);
  expect(split.usage.attempts_billed).toBe(1);
  expect(split.usage.cpu_seconds).toBeGreaterThan(0);
});

it('retries a piece alone when its worker dies (SIGKILL): the other pieces are not encoded again', async () => {
  // Short locks, so the dead worker's piece is noticed within seconds.
  const world = await testWorld({ env: { MALAN_LOCK_MS: '3000', MALAN_STALLED_INTERVAL_MS: '1000' } });
  const fragile = await startFarm(world.env, { workers: 2 });
  try {
    const k = await fragile.createKey('studio-a');
    const client = apiClient(fragile.baseUrl, k);
    const clip = path.join(farm.home, 'long.mp4');
    const id = (await client.upload(readFileSync(clip), 'video/mp4', 'long.mp4')).body.id;
    const job = (await client.post('/v1/jobs', { kind: 'transcode', input: { source: { file: id }, height: 360, chunk_seconds: 4, preset: 'slow' } })).body.id;
    let victim = -1;
    for (let i = 0; i < 600 && victim < 0; i++) {
      const logs = (await client.get(`/v1/jobs/${job}/logs`)).body as string;
      const m = /piece (\d+)\/\d+ started on worker (wrk_\w+)/.exec(logs);
      if (m) victim = fragile.workers.findIndex((w, n) => fragile.log(`worker-${n}`).includes(m[2]!));
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(victim).toBeGreaterThanOrEqual(0);
    fragile.workers[victim]!.kill('SIGKILL');
    const done = await waitForJob(client, job, 240_000);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const logs = (await client.get(`/v1/jobs/${job}/logs`)).body as string;
    const starts = new Map<string, number>();
    for (const m of logs.matchAll(/piece (\d+)\/\d+ started/g)) starts.set(m[1]!, (starts.get(m[1]!) ?? 0) + 1);
    const pieces = done.execution.chunks.length as number;
    expect(starts.size).toBe(pieces);
    // The piece the dead worker held ran again (on the other worker); no other piece did.
    expect([...starts.values()].filter((n) => n > 1)).toEqual([2]);
    expect([...starts.values()].reduce((a, b) => a + b, 0)).toBe(pieces + 1);
  } finally {
    await fragile.stop();
  }
});
