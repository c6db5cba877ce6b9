/**
 * Live channels through the API, in-process on a real database and Redis with real segments (a
 * clip cut by ffmpeg's HLS muxer): channels made, read and ended per tenant; segments placed by
 * the encoder's playlist and queued with a deadline; published, or a gap when late or failed; and
 * every bad ingest refused with its reason while the channel keeps running.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveSegments } from '../../src/db/live-schema.js';
import { recordReport } from '../../src/services/report-recorder.js';
import { sweepLiveSegments } from '../../src/services/live-publisher.js';
import { meterEndedChannels } from '../../src/billing/live-meter.js';
import { charges } from '../../src/db/billing-schema.js';
import type { ApiClient } from '../helpers/api-client.js';
import { apiHarness, BASE, type Harness } from '../helpers/api-harness.js';
import { encoderPlaylist, segmentClip, type SegmentedSource } from '../helpers/live-source.js';
import { promtoolCheckMetrics } from '../helpers/prometheus-server.js';

let h: Harness;
let studio: ApiClient;
let src: SegmentedSource;
beforeAll(async () => {
  h = await apiHarness({ env: { MALAN_LIVE_MAX_SEGMENT_BYTES: String(2 * 1024 * 1024) } });
  studio = await h.as('live-studio');
  src = segmentClip();
});
afterAll(() => h?.close());

const put = (url: string, body: BodyInit, headers: Record<string, string> = {}) => h.app.request(url.replace(BASE, ''), { method: 'PUT', body, headers });
async function channel(body: unknown = {}) {
  const res = await studio.post('/v1/live/channels', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; ingest_url: string; playback_url: string; status: string };
}
const segmentRows = async (id: string) => (await h.farm.ctx.db.select().from(liveSegments).where(eq(liveSegments.channelId, id))).sort((a, b) => (a.seq ?? 1e9) - (b.seq ?? 1e9));
async function pushSegment(ch: { ingest_url: string }, i: number) {
  const s = src.segments[i]!;
  expect((await put(`${ch.ingest_url}/${s.name}`, new Uint8Array(s.bytes))).status).toBe(201);
  const pl = await put(`${ch.ingest_url}/index.m3u8`, encoderPlaylist(src, i));
  expect(pl.status, await pl.clone().text()).toBe(200);
  return pl.json() as Promise<{ placed: number }>;
}
const done = (channelId: string, seq: number, rungs: string[]) =>
  recordReport(h.farm.ctx, { type: 'live-segment-ended', channelId, seq, workerId: 'wrk_test', at: new Date().toISOString(), outcome: 'done', path: 'cpu', rungs: rungs.map((name) => ({ name, seconds: 0.8, bytes: 1000 })), error: null, fallback: null });

describe('channels', () => {
  it('are made from nothing, with ingest and playback URLs, and belong to their tenant', async () => {
    const ch = await channel();
    expect(ch).toMatchObject({ status: 'idle', ladder: 'auto', segment_duration: 2, window_size: 6 });
    expect(ch.ingest_url).toMatch(new RegExp(`/v1/live/channels/${ch.id}/ingest/sk_[A-Za-z0-9_-]{32}$`));
    expect(ch.playback_url).toMatch(/\/v1\/live\/play\/live_[^/]+\/master\.m3u8$/);
    expect((await studio.get(`/v1/live/channels/${ch.id}`)).body.id).toBe(ch.id);
    expect((await studio.get('/v1/live/channels')).body.results.map((c: { id: string }) => c.id)).toContain(ch.id);
    const other = await h.as('live-other');
    expect((await other.get(`/v1/live/channels/${ch.id}`)).status).toBe(404);
    expect((await other.post(`/v1/live/channels/${ch.id}/stop`)).status).toBe(404);
    expect((await other.get('/v1/live/channels')).body.results).toEqual([]);
    expect((await studio.post('/v1/live/channels', { ladder: [{ height: 721 }] })).status).toBe(400);
    expect((await h.anonymous.post('/v1/live/channels', {})).status).toBe(401);
  });

  it('end on stop (ingest refused after), and go with their files on delete', async () => {
    const ch = await channel();
    await pushSegment(ch, 0);
    const stopped = await studio.post(`/v1/live/channels/${ch.id}/stop`);
    expect(stopped.body.status).toBe('ended');
    const after = await put(`${ch.ingest_url}/${src.segments[1]!.name}`, new Uint8Array(src.segments[1]!.bytes));
    expect(after.status).toBe(409);
    expect((await studio.call('DELETE', `/v1/live/channels/${ch.id}`)).status).toBe(204);
    expect(await segmentRows(ch.id)).toEqual([]);
    expect(await h.farm.ctx.storage.size(`live/${ch.id}/in/${src.segments[0]!.name}`)).toBeNull();
    expect((await studio.get(`/v1/live/channels/${ch.id}`)).status).toBe(404);
  });
});

describe('ingest and publishing', () => {
  it('places segments by the playlist, queues each with a deadline, and publishes the ladder', async () => {
    const ch = await channel({ ladder: [{ passthrough: true }, { height: 360 }] });
    expect(await pushSegment(ch, 0)).toEqual({ placed: 1 });
    expect(await pushSegment(ch, 1)).toEqual({ placed: 1 });
    const rows = await segmentRows(ch.id);
    expect(rows.map((r) => [r.seq, r.status])).toEqual([[0, 'pending'], [1, 'pending']]);
    // Due 1.5 segment durations after it arrived.
    expect(rows[0]!.deadlineAt!.getTime() - rows[0]!.arrivedAt.getTime()).toBeCloseTo(1.5 * src.segments[0]!.duration * 1000, -1);
    const job = await h.farm.ctx.queues.live.getJob(`${ch.id}.0`);
    expect(job?.data).toMatchObject({ channelId: ch.id, seq: 0, rungs: [{ name: 'source', passthrough: true }, { name: '360p', height: 360, width: 640 }] });
    expect((await studio.get(`/v1/live/channels/${ch.id}`)).body.status).toBe('live');

    const master = await h.app.request(ch.playback_url.replace(BASE, ''));
    expect(master.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(await master.text()).toMatch(/RESOLUTION=1920x1080,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"\nsource\/index\.m3u8\n[\s\S]*RESOLUTION=640x360/);
    const rung = ch.playback_url.replace(BASE, '').replace('master.m3u8', '360p/index.m3u8');
    expect(await (await h.app.request(rung)).text()).not.toContain('.ts'); // nothing resolved yet: no hole, no wait past a deadline

    // Rung files as a worker stores them, then its report: segment 0 is published in every rung.
    for (const r of ['source', '360p']) await h.farm.ctx.storage.put(`live/${ch.id}/${r}/0.ts`, (await import('node:stream')).Readable.from([src.segments[0]!.bytes]));
    await done(ch.id, 0, ['source', '360p']);
    const playlist = await (await h.app.request(rung)).text();
    expect(playlist).toContain('#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:');
    expect(playlist).toMatch(/\n0\.ts\n$/);
    const segment = await h.app.request(rung.replace('index.m3u8', '0.ts'));
    expect(segment.status).toBe(200);
    expect(segment.headers.get('content-type')).toBe('video/mp2t');
    expect((await h.app.request(rung.replace('index.m3u8', '1.ts'))).status).toBe(404); // not published yet

    // Segment 1 misses its deadline: a gap in every rung; its late output is thrown away.
    await h.farm.ctx.db.update(liveSegments).set({ deadlineAt: new Date(Date.now() - 1) }).where(eq(liveSegments.name, src.segments[1]!.name));
    expect(await sweepLiveSegments(h.farm.ctx)).toBeGreaterThanOrEqual(1);
    expect(await h.farm.ctx.queues.live.getJob(`${ch.id}.1`)).toBeUndefined(); // not worth encoding any more
    await h.farm.ctx.storage.put(`live/${ch.id}/360p/1.ts`, (await import('node:stream')).Readable.from([Buffer.from('late')]));
    await done(ch.id, 1, ['360p']);
    expect(await h.farm.ctx.storage.size(`live/${ch.id}/360p/1.ts`)).toBeNull();
    expect(await (await h.app.request(rung)).text()).toMatch(/0\.ts\n#EXT-X-GAP\n#EXTINF:[\d.]+,\n1\.ts\n$/);
    const view = (await studio.get(`/v1/live/channels/${ch.id}`)).body;
    expect(view.metrics).toMatchObject({ segments: { published: 1, gaps: 1, pending: 0, late_discarded: 1 }, deadline_misses: 1, gaps_by_reason: { deadline: 1 } });
    expect(view.metrics.latency_seconds.p50).toBeGreaterThan(0);
    expect(view.metrics.realtime_factor['360p'].p50).toBeGreaterThan(0);

    // The same figures in /metrics, which promtool reads without a complaint.
    const text = await (await h.app.request('/metrics')).text();
    expect(text).toContain(`malan_live_deadline_misses_total{channel="${ch.id}"} 1\n`);
    expect(text).toContain(`malan_live_segments_total{channel="${ch.id}",outcome="published"} 1\n`);
    expect(text).toContain(`malan_live_segment_latency_seconds_count{channel="${ch.id}"} 1\n`);
    expect(text).toMatch(new RegExp(`malan_live_realtime_factor\\{channel="${ch.id}",rung="360p"\\} 0\\.\\d+`));
    expect(promtoolCheckMetrics(text)).toEqual({ code: 0, lines: [] });

    // The encoder ends the stream: the playlists close, and the archived event plays as a VOD.
    await put(`${ch.ingest_url}/index.m3u8`, encoderPlaylist(src, 1, { ended: true }));
    const ended = await (await h.app.request(rung)).text();
    expect(ended).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(ended).toMatch(/#EXT-X-ENDLIST\n$/);
    const endedView = (await studio.get(`/v1/live/channels/${ch.id}`)).body;
    expect(endedView.status).toBe('ended');

    // Its time on air is charged once, as channel-hours.
    expect(await meterEndedChannels(h.farm.ctx.db, h.farm.ctx.config)).toBeGreaterThanOrEqual(1);
    expect(await meterEndedChannels(h.farm.ctx.db, h.farm.ctx.config)).toBe(0);
    const hours = (Date.parse(endedView.ended_at) - Date.parse(endedView.started_at)) / 3_600_000;
    const [charge] = await h.farm.ctx.db.select().from(charges).where(eq(charges.id, `live:${ch.id}`));
    expect(charge).toMatchObject({ meter: 'live_channel_hours', unit: 'channel-hour', billedTo: 'tenant' });
    expect(charge!.quantity).toBeCloseTo(hours, 8);
  });

  it('a failed encode is a gap too, and a playback link that was tampered with is refused', async () => {
    const ch = await channel({ ladder: [{ height: 360 }] });
    await pushSegment(ch, 0);
    await recordReport(h.farm.ctx, { type: 'live-segment-ended', channelId: ch.id, seq: 0, workerId: 'wrk_test', at: new Date().toISOString(), outcome: 'failed', path: 'cpu', rungs: [], error: 'ffmpeg exited with code 1', fallback: null });
    expect((await segmentRows(ch.id))[0]).toMatchObject({ status: 'gap', gapReason: 'failed' });
    const forged = ch.playback_url.replace(BASE, '').replace(/\.([A-Za-z0-9_-]+)\/master/, '.x$1/master');
    expect((await h.app.request(forged)).status).toBe(403);
  });
});

describe('bad ingest is refused with its reason, and the channel keeps running', () => {
  it('wrong key, repeated and out-of-order segments, non-media, oversized, and playlists pointing outside', async () => {
    const ch = await channel({ ladder: [{ height: 360 }] });
    await pushSegment(ch, 0);
    const base = ch.ingest_url;
    const wrongKey = base.replace(/sk_[^/]+$/, 'sk_wrong');
    const cases: Array<[string, () => Response | Promise<Response>, number, RegExp]> = [
      ['wrong stream key', () => put(`${wrongKey}/x.ts`, new Uint8Array(src.segments[1]!.bytes)), 401, /wrong channel or stream key/],
      ['wrong channel', () => put(base.replace(ch.id, 'live_nope') + '/x.ts', new Uint8Array(src.segments[1]!.bytes)), 401, /wrong channel or stream key/],
      ['repeated segment', () => put(`${base}/${src.segments[0]!.name}`, new Uint8Array(src.segments[0]!.bytes)), 409, /already received and placed at sequence 0/],
      ['not media', () => put(`${base}/notes.ts`, 'this is not a video, just text '.repeat(40)), 415, /not MPEG-TS/],
      ['MP4 instead of TS', () => put(`${base}/clip.ts`, new Uint8Array(Buffer.concat([Buffer.from('\0\0\0\x18ftypisom'), Buffer.alloc(1000)]))), 415, /not MPEG-TS/],
      ['a 500 MB segment (declared)', () => put(`${base}/big.ts`, 'x', { 'content-length': String(500 * 1024 * 1024) }), 413, /most a live segment may be/],
      ['a segment over the limit (streamed)', () => put(`${base}/big2.ts`, new Uint8Array(3 * 1024 * 1024).fill(0x47)), 413, /over 2097152 bytes/],
      ['a path as a name', () => put(`${base}/..%2Fsecret.ts`, new Uint8Array(src.segments[1]!.bytes)), 400, /not a segment name|outside/],
      ['playlist pointing outside', () => put(`${base}/index.m3u8`, encoderPlaylist(src, 0, { rename: () => '../../etc/passwd' })), 400, /outside the channel/],
      ['playlist with a URL', () => put(`${base}/index.m3u8`, encoderPlaylist(src, 0, { rename: () => 'http://127.0.0.1:6379/x.ts' })), 400, /outside the channel/],
      ['not a playlist', () => put(`${base}/index.m3u8`, 'hello'), 400, /EXTM3U/],
    ];
    for (const [what, send, status, message] of cases) {
      const r = await send();
      const body = (await r.json()) as { error: { message: string } };
      expect([what, r.status, body.error.message]).toEqual([what, status, expect.stringMatching(message)]);
    }
    // Out of order: segment 1's bytes come, but the playlist puts an earlier place on it.
    expect((await put(`${base}/${src.segments[1]!.name}`, new Uint8Array(src.segments[1]!.bytes))).status).toBe(201);
    const backwards = await put(`${base}/index.m3u8`, encoderPlaylist(src, 1).replace('#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-MEDIA-SEQUENCE:0').replace(src.segments[0]!.name, 'gone.ts'));
    expect(backwards.status).toBe(409);
    expect(((await backwards.json()) as { error: { message: string } }).error.message).toMatch(/out of order/);
    // None of it changed the channel: the next playlist places segment 1 right after 0.
    expect(await (await put(`${base}/index.m3u8`, encoderPlaylist(src, 1))).json()).toEqual({ placed: 1 });
    expect((await segmentRows(ch.id)).filter((r) => r.seq !== null).map((r) => [r.seq, r.name])).toEqual([[0, src.segments[0]!.name], [1, src.segments[1]!.name]]);
    expect((await studio.get(`/v1/live/channels/${ch.id}`)).body.status).toBe('live');
  });

  it('a segment the encoder listed but never sent becomes a gap at its deadline, so later ones still publish', async () => {
    const ch = await channel({ ladder: [{ height: 360 }] });
    await pushSegment(ch, 0);
    // Segment 1 is lost on the way; 2 arrives and the playlist lists 0, 1 and 2.
    expect((await put(`${ch.ingest_url}/${src.segments[2]!.name}`, new Uint8Array(src.segments[2]!.bytes))).status).toBe(201);
    expect(await (await put(`${ch.ingest_url}/index.m3u8`, encoderPlaylist(src, 2))).json()).toEqual({ placed: 2 });
    expect((await segmentRows(ch.id)).map((r) => [r.seq, r.status])).toEqual([[0, 'pending'], [1, 'listed'], [2, 'pending']]);
    await h.farm.ctx.db.update(liveSegments).set({ deadlineAt: new Date(Date.now() - 1) }).where(eq(liveSegments.name, src.segments[1]!.name));
    // Past its deadline it is a gap at once, in the figures as in the playlists, before any sweep writes it.
    expect((await studio.get(`/v1/live/channels/${ch.id}`)).body.metrics).toMatchObject({ segments: { gaps: 1, pending: 2 }, gaps_by_reason: { missing: 1 }, deadline_misses: 0 });
    await sweepLiveSegments(h.farm.ctx);
    expect((await segmentRows(ch.id)).map((r) => [r.seq, r.status, r.gapReason])).toEqual([[0, 'pending', null], [1, 'gap', 'missing'], [2, 'pending', null]]);
    // Its bytes, too late, are refused with the reason.
    const late = await put(`${ch.ingest_url}/${src.segments[1]!.name}`, new Uint8Array(src.segments[1]!.bytes));
    expect([late.status, ((await late.json()) as { error: { message: string } }).error.message]).toEqual([409, expect.stringMatching(/came after its deadline/)]);
  });

  it('places a segment whose playlist came first (ffmpeg does not wait for the segment\'s answer)', async () => {
    const ch = await channel({ ladder: [{ height: 360 }] });
    expect(await (await put(`${ch.ingest_url}/index.m3u8`, encoderPlaylist(src, 0))).json()).toEqual({ placed: 1 });
    expect((await segmentRows(ch.id)).map((r) => [r.seq, r.status])).toEqual([[0, 'listed']]);
    expect(await h.farm.ctx.queues.live.getJob(`${ch.id}.0`)).toBeUndefined();
    expect((await put(`${ch.ingest_url}/${src.segments[0]!.name}`, new Uint8Array(src.segments[0]!.bytes))).status).toBe(201);
    const [row] = await segmentRows(ch.id);
    expect(row).toMatchObject({ seq: 0, status: 'pending' });
    // Due from when its bytes came, not from when it was listed.
    expect(row!.deadlineAt!.getTime() - row!.arrivedAt.getTime()).toBeCloseTo(1.5 * Math.max(2, src.segments[0]!.duration) * 1000, -1);
    expect((await h.farm.ctx.queues.live.getJob(`${ch.id}.0`))?.data).toMatchObject({ seq: 0, rungs: [{ name: '360p' }] });
  });
});
