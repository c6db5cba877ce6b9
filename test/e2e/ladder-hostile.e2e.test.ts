/**
 * Awkward and hostile sources through the ladder path: each ends as a correct output or a clear
 * failure, never a hang and never a read outside the job.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseMaster } from '../../src/media/hls-playlists.js';
import { apiClient, waitForJob, type ApiClient } from '../helpers/api-client.js';
import { startFarm, type FarmProcesses } from '../helpers/farm-processes.js';
import { ASSETS, testWorld } from '../helpers/test-env.js';

let farm: FarmProcesses;
let api: ApiClient;
let key: string;
const jobs = new Map<string, string>();
const ffmpeg = (...args: string[]) => execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);

beforeAll(async () => {
  farm = await startFarm((await testWorld()).env);
  key = await farm.createKey('studio-a');
  api = apiClient(farm.baseUrl, key);
  const dir = farm.home;
  const make = (name: string) => path.join(dir, name);
  ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=1279x719:d=2', '-c:v', 'libx264', '-pix_fmt', 'yuv444p', make('odd.mp4'));
  // Variable frame timing: a third of the frames dropped, timestamps kept (as phones and screen captures do).
  ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=640x480:r=30:d=3', '-vf', "select='not(mod(n\\,3))+lt(n\\,30)'", '-fps_mode', 'vfr', '-c:v', 'libx264', make('vfr.mp4'));
  writeFileSync(make('huge.y4m'), Buffer.concat([Buffer.from('YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n'), Buffer.alloc(64)]));
  writeFileSync(make('impossible.y4m'), Buffer.concat([Buffer.from('YUV4MPEG2 W20000 H20000 F25:1 Ip A1:1 C420jpeg\nFRAME\n'), Buffer.alloc(64)]));
  const unknown = readFileSync(path.join(ASSETS, 'video/flower.mp4'));
  unknown.write('zzzz', unknown.indexOf('avc1', unknown.indexOf('stsd')), 'latin1'); // a sample entry no decoder knows
  writeFileSync(make('unknown-codec.mp4'), unknown);
  const flower = readFileSync(path.join(ASSETS, 'video/flower.mp4'));
  writeFileSync(make('truncated.mp4'), flower.subarray(0, Math.floor(flower.length / 3)));
  writeFileSync(make('private.m3u8.mp4'), '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://10.0.0.1/seg.ts\n#EXTINF:2,\nfile:///etc/hostname\n#EXT-X-ENDLIST\n');
  const sources: Record<string, string> = {
    'video only': path.join(ASSETS, 'video/bug_video_640.mp4'),
    'odd 1279x719': make('odd.mp4'),
    'rotated 180': path.join(ASSETS, 'video/fire2_rotate180.mp4'),
    'variable frame rate': make('vfr.mp4'),
    'declared 16000x16000': make('huge.y4m'),
    'declared 20000x20000': make('impossible.y4m'),
    'unknown codec': make('unknown-codec.mp4'),
    truncated: make('truncated.mp4'),
    'playlist to private addresses': make('private.m3u8.mp4'),
  };
  for (const [name, file] of Object.entries(sources)) {
    const id = (await api.upload(readFileSync(file), 'application/octet-stream', path.basename(file))).body.id;
    jobs.set(name, (await api.post('/v1/jobs', { kind: 'transcode', input: { source: { file: id }, ladder: [{ height: 360 }, { height: 240 }], segment_duration: 2 } })).body.id);
  }
});
afterAll(() => farm?.stop());

const master = async (job: { outputs: Array<{ role: string; url: string }> }) =>
  parseMaster(await (await fetch(job.outputs.find((o) => o.role === 'hls-master')!.url, { headers: { authorization: `Bearer ${key}` } })).text());

it.each([
  ['video only', (j: any, m: any) => {
    expect(m.renditions).toEqual([]);
    expect(j.outputs.some((o: any) => o.role === 'hls-audio')).toBe(false);
  }],
  ['odd 1279x719', (_j: any, m: any) => expect(m.variants.map((v: any) => [v.resolution.width % 2, v.resolution.height])).toEqual([[0, 360], [0, 240]])],
  ['rotated 180', (j: any) => expect(j.execution.path).toBe('cpu')],
  ['variable frame rate', (j: any) => expect(j.execution.rungs).toHaveLength(2)],
])('%s: a correct ladder', async (name, check) => {
  const job = await waitForJob(api, jobs.get(name)!, 180_000);
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  check(job, await master(job));
});

it.each([
  ['declared 16000x16000', 'unsupported_input', /declares 16000x16000 pixels/],
  ['declared 20000x20000', 'media_unreadable', /not a media file this farm reads/],
  ['unknown codec', 'unsupported_input', /video codec is not one/],
  ['truncated', 'media_unreadable', /damaged or truncated/],
  ['playlist to private addresses', 'media_unreadable', /not a media file this farm reads/],
])('%s: a clear failure', async (name, code, message) => {
  const job = await waitForJob(api, jobs.get(name)!, 180_000);
  expect(job.status).toBe('failed');
  expect(job.error.code).toBe(code);
  expect(job.error.message).toMatch(message);
  expect(job.attempts).toBe(1);
});
