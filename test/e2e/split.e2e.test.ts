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
