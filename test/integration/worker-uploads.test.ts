/**
 * Workers store outputs through the signed URL their job carries: no key, only that job, only
 * until it expires; a second upload of the same output is the first; a discarded one is gone.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiHarness, type Harness } from '../helpers/api-harness.js';
import { playbackToken } from '../../src/api/routes/playback.js';
import { recordReport } from '../../src/services/report-recorder.js';
import { ASSETS } from '../helpers/test-env.js';

let h: Harness;
let jobId: string;
let uploadUrl: string;
beforeAll(async () => {
  h = await apiHarness();
  const a = await h.as('studio-a');
  const file = (await a.upload(readFileSync(path.join(ASSETS, 'video/flower.mp4')))).body.id;
  jobId = (await a.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240 } })).body.id;
  uploadUrl = (await h.farm.ctx.queues.byKind.transcode.getJob(jobId))!.data.uploadUrl;
});
afterAll(() => h?.close());

const put = (url: string, body: string) => h.app.request(url, { method: 'PUT', body, headers: { 'content-type': 'video/mp4' } });

it('stores an output for the job, once per (attempt, name), in the job tenant', async () => {
  const first = await put(`${uploadUrl}&name=output.mp4&attempt=1`, 'bytes of an output');
  expect(first.status).toBe(201);
  const { id } = (await first.json()) as { id: string };
  const again = await put(`${uploadUrl}&name=output.mp4&attempt=1`, 'bytes of an output');
  expect(((await again.json()) as { id: string }).id).toBe(id);
  const a = await h.as('studio-a');
  expect((await a.get(`/v1/files/${id}`)).body).toMatchObject({ name: 'output.mp4', size: 18 });
  expect((await (await h.as('studio-b')).get(`/v1/files/${id}`)).status).toBe(404);
});

it('refuses a bad or expired signature, another job, and bad names', async () => {
  expect((await put(`${uploadUrl.replace(/sig=[^&]+/, 'sig=forged')}&name=x.mp4&attempt=1`, 'x')).status).toBe(403);
  expect((await put(`${uploadUrl.replace(jobId, 'job_00000000000000000000000000')}&name=x.mp4&attempt=1`, 'x')).status).toBe(403);
  const expired = h.farm.ctx.signer.sign('PUT', `/internal/jobs/${jobId}/outputs`, -10);
  expect((await put(`${expired}&name=x.mp4&attempt=1`, 'x')).status).toBe(403);
  for (const name of ['../escape', 'hls/../../escape', '/abs.mp4', 'a//b.mp4', 'hls/.hidden', '', '.hidden', 'a/b/c/d/e/f/g.mp4']) {
    expect((await put(`${uploadUrl}&name=${encodeURIComponent(name)}&attempt=1`, 'x')).status, name).toBe(400);
  }
  expect((await put(`${uploadUrl}&name=x.mp4&attempt=0`, 'x')).status).toBe(400);
  // Relative paths are how a ladder's files find each other.
  expect((await put(`${uploadUrl}&name=${encodeURIComponent('hls/v0/seg_00000.m4s')}&attempt=1`, 'segment')).status).toBe(201);
});

it('discards an output that failed verification: the record and the bytes', async () => {
  const res = await put(`${uploadUrl}&name=bad.mp4&attempt=2`, 'not good');
  const { id } = (await res.json()) as { id: string };
  const del = await h.app.request(`${uploadUrl}&name=bad.mp4&attempt=2`, { method: 'DELETE' });
  expect(del.status).toBe(204);
  expect((await (await h.as('studio-a')).get(`/v1/files/${id}`)).status).toBe(404);
  expect((await h.app.request(`${uploadUrl}&name=bad.mp4&attempt=2`, { method: 'DELETE' })).status).toBe(404);
  expect((await h.app.request(`${uploadUrl.replace(/sig=[^&]+/, 'sig=forged')}&name=output.mp4&attempt=1`, { method: 'DELETE' })).status).toBe(403);
});

it('serves a succeeded job\'s outputs through a keyless playback link, until it expires', async () => {
  const stored = await h.app.request(`${uploadUrl}&name=${encodeURIComponent('hls/master.m3u8')}&attempt=3`, { method: 'PUT', body: '#EXTM3U\n', headers: { 'content-type': 'application/vnd.apple.mpegurl' } });
  const { id: fileId } = (await stored.json()) as { id: string };
  const at = new Date().toISOString();
  await recordReport(h.farm.ctx, { type: 'attempt-started', jobId, attempt: 3, workerId: 'wrk_p', at });
  await recordReport(h.farm.ctx, {
    type: 'attempt-ended', jobId, attempt: 3, workerId: 'wrk_p', at, outcome: 'succeeded', willRetry: false, error: null,
    outputs: [{ file: fileId, role: 'hls-master' }], execution: {}, usage: { wallSeconds: 1, cpuSeconds: 1, gpuSeconds: 0, gpuModel: 'cpu', gpuUuid: null, outputSeconds: 1 },
  });
  const job = (await (await h.as('studio-a')).get(`/v1/jobs/${jobId}`)).body;
  const master = job.outputs.find((o: { role: string }) => o.role === 'hls-master');
  expect(master.playback_url).toMatch(new RegExp(`/v1/playback/${jobId}\\.\\d+\\.[\\w-]+/hls/master\\.m3u8$`));
  const res = await h.app.request(master.playback_url); // no key
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
  expect(await res.text()).toBe('#EXTM3U\n');
  expect((await h.app.request(master.playback_url.replace(/\.([\w-]+)\/hls/, '.forged/hls'))).status).toBe(403);
  expect((await h.app.request(master.playback_url.replace('master.m3u8', 'other.m3u8'))).status).toBe(404);
  const stale = playbackToken(h.farm.ctx, jobId, Date.now() - 2 * 24 * 3600 * 1000);
  expect((await h.app.request(`/v1/playback/${stale}/hls/master.m3u8`)).status).toBe(403);
});
