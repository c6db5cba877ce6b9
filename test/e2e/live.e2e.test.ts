/**
 * A live event end to end: real processes (`malan serve`, `malan worker`), and ffmpeg pushing a
 * real clip in real time (-re) as HLS over HTTP PUT to the channel's ingest URL, as an encoder in
 * the park would. The farm's master and every rung must read in ffprobe while the event is live
 * and after it ends, the channel must carry its latency figures, and a segment whose worker is
 * made slow on purpose must become a gap in every rung while the segments after it publish.
 *
 * The slow worker: its `ffmpeg` is a wrapper that sleeps before encoding the source of segment 3
 * while a marker file exists (the test creates it for the gap test only).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, type ApiClient } from '../helpers/api-client.js';
import { startFarm, waitFor, type FarmProcesses } from '../helpers/farm-processes.js';
import { ASSETS, testWorld } from '../helpers/test-env.js';
import { launchChromium, startPlayerPageServer } from '../browser/player-page.js';

/** The nominal segment duration the encoder cuts (ffmpeg's -hls_time). */
const SEGMENT_SECONDS = 2;

const run = promisify(execFile);
let farm: FarmProcesses | undefined;
let api: ApiClient;
let scratch: string;
let slowMarker: string;
const pushers: ChildProcess[] = [];

beforeAll(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'malan-live-e2e-'));
  slowMarker = path.join(scratch, 'slow-segment-3');
  const bin = path.join(scratch, 'bin');
  mkdirSync(bin);
  const real = (await run('sh', ['-c', 'command -v ffmpeg'])).stdout.trim();
  writeFileSync(path.join(bin, 'ffmpeg'), `#!/bin/sh\nif [ -e '${slowMarker}' ]; then for a in "$@"; do case "$a" in */in-3.ts) sleep 8;; esac; done; fi\nexec '${real}' "$@"\n`);
  chmodSync(path.join(bin, 'ffmpeg'), 0o755);
  farm = await startFarm((await testWorld()).env, { workers: 1, workerEnv: { PATH: `${bin}:${process.env.PATH}` } });
  api = apiClient(farm.baseUrl, await farm.createKey('live-studio'));
}, 240_000);
afterAll(async () => {
  for (const p of pushers) p.kill('SIGKILL');
  await farm?.stop();
});

/** ffmpeg as the park's encoder: a real clip, in real time, as 2 s MPEG-TS segments PUT to the channel. */
function push(ingestUrl: string, loops: number): { done: Promise<number | null>; proc: ChildProcess } {
  const proc = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', String(loops), '-i', path.join(ASSETS, 'video/smpte-2997.mp4'), '-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-c:a', 'aac', '-f', 'hls', '-hls_time', '2', '-hls_list_size', '5', '-method', 'PUT', `${ingestUrl}/index.m3u8`], { stdio: ['ignore', 'ignore', 'pipe'] });
  pushers.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += String(d)));
  return { proc, done: new Promise((resolve) => proc.on('exit', (code) => (code === 0 ? resolve(code) : (console.error(stderr), resolve(code))))) };
}

async function ffprobeStreams(url: string): Promise<Array<{ codec_type: string; width?: number; height?: number }>> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-of', 'json', '-show_entries', 'stream=codec_type,width,height', url], { timeout: 30_000 });
  return (JSON.parse(stdout) as { streams: Array<{ codec_type: string; width?: number; height?: number }> }).streams;
}
const text = async (url: string) => (await fetch(url)).text();
/** The media sequence numbers a playlist marks #EXT-X-GAP. */
const gapSeqs = (playlist: string) => [...playlist.matchAll(/#EXT-X-GAP\n#EXTINF:[\d.]+,\n(\d+)\.ts/g)].map((m) => Number(m[1]));

describe('a live event pushed by ffmpeg over HLS PUT', () => {
  it('publishes a ladder that reads while live and when ended, with latency figures on the channel', async () => {
    const ch = (await api.post('/v1/live/channels', { name: 'Stage A', ladder: [{ passthrough: true }, { height: 480 }, { height: 360 }] })).body;
    const pusher = push(ch.ingest_url, 1); // 20 s
    const rungs = ch.playback_url.replace('master.m3u8', '');
    await waitFor(async () => /\n\d+\.ts\n/.test(await text(`${rungs}360p/index.m3u8`)), 30_000, () => 'no segment published within 30 s');

    // While live: ffprobe reads the master (every variant) and each rung.
    const live = await text(`${rungs}360p/index.m3u8`);
    expect(live).not.toContain('#EXT-X-ENDLIST');
    const master = await ffprobeStreams(ch.playback_url);
    expect(master.filter((s) => s.codec_type === 'video').map((s) => s.height).sort()).toEqual([1080, 360, 480]);
    for (const [rung, height] of [['source', 1080], ['480p', 480], ['360p', 360]] as const) {
      expect((await ffprobeStreams(`${rungs}${rung}/index.m3u8`)).find((s) => s.codec_type === 'video')?.height, rung).toBe(height);
    }
    expect(await pusher.done).toBe(0);

    // Ended: the playlists close (the archive plays as a VOD) and still read.
    await waitFor(async () => (await text(`${rungs}360p/index.m3u8`)).includes('#EXT-X-ENDLIST'), 30_000, () => 'the playlists did not close after the encoder ended');
    const vod = await text(`${rungs}480p/index.m3u8`);
    expect(vod).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', `${rungs}480p/index.m3u8`, '-map', '0:v:0', '-f', 'null', '-'], { timeout: 60_000 });
    expect(stdout).toBe('');
    // The rungs keep the source's timeline: each published segment starts where the one before it ended.
    const listed = [...vod.matchAll(/(#EXT-X-GAP\n)?#EXTINF:([\d.]+),\n(\d+)\.ts/g)].map((x) => ({ gap: Boolean(x[1]), duration: Number(x[2]), seq: Number(x[3]) }));
    const pair = listed.findIndex((x, i) => !x.gap && listed[i + 1] && !listed[i + 1]!.gap);
    if (pair >= 0) {
      const start = async (n: number) => Number((JSON.parse((await run('ffprobe', ['-v', 'error', '-of', 'json', '-select_streams', 'v:0', '-show_entries', 'stream=start_time', `${rungs}480p/${n}.ts`])).stdout) as { streams: Array<{ start_time: string }> }).streams[0]!.start_time);
      const [a, b] = [await start(listed[pair]!.seq), await start(listed[pair + 1]!.seq)];
      expect(Math.abs(b - a - listed[pair]!.duration), `${a} + ${listed[pair]!.duration} vs ${b}`).toBeLessThan(0.1);
    }
    const view = (await api.get(`/v1/live/channels/${ch.id}`)).body;
    expect(view.status).toBe('ended');
    const m = view.metrics;
    expect(m.segments.published + m.segments.gaps).toBe(vod.match(/\.ts\n/g)!.length);
    expect(m.segments.published).toBeGreaterThan(0);
    expect(m.latency_seconds.p50).toBeGreaterThan(0);
    expect(m.latency_seconds.p99).toBeGreaterThanOrEqual(m.latency_seconds.p50);
    expect(Object.keys(m.realtime_factor).sort()).toEqual(['360p', '480p', 'source']);
    console.log(`live e2e: ${m.segments.published} published, ${m.segments.gaps} gaps, latency p50 ${m.latency_seconds.p50} s p95 ${m.latency_seconds.p95} s, RTF ${JSON.stringify(m.realtime_factor)}`);
  });

  it('makes a slow segment a gap in every rung, and publishes the ones after it on time', async () => {
    writeFileSync(slowMarker, '');
    const ch = (await api.post('/v1/live/channels', { ladder: [{ passthrough: true }, { height: 360 }] })).body;
    const pusher = push(ch.ingest_url, 0); // 10 s: segments 0–4
    expect(await pusher.done).toBe(0);
    const rungs = ch.playback_url.replace('master.m3u8', '');
    await waitFor(async () => (await text(`${rungs}360p/index.m3u8`)).includes('#EXT-X-ENDLIST'), 30_000, () => 'the playlists did not close');
    for (const rung of ['source', '360p']) {
      const playlist = await text(`${rungs}${rung}/index.m3u8`);
      expect(gapSeqs(playlist), rung).toContain(3);
      expect(gapSeqs(playlist), rung).not.toContain(4);
      expect(playlist, rung).toContain('\n4.ts\n');
      expect((await fetch(`${rungs}${rung}/3.ts`)).status).toBe(404);
      expect((await fetch(`${rungs}${rung}/4.ts`)).status).toBe(200);
    }
    const m = (await api.get(`/v1/live/channels/${ch.id}`)).body.metrics;
    expect(m.deadline_misses, JSON.stringify(m)).toBeGreaterThanOrEqual(1);
    expect(m.gaps_by_reason.deadline).toBeGreaterThanOrEqual(1);
    // Players go on across the gap: ffmpeg reads to the end, and hls.js in Chromium plays through it.
    await run('ffmpeg', ['-v', 'error', '-i', `${rungs}360p/index.m3u8`, '-f', 'null', '-'], { timeout: 60_000 });
    const gapEnds = [...(await text(`${rungs}360p/index.m3u8`)).matchAll(/#EXTINF:([\d.]+),/g)].slice(0, 4).reduce((t, m) => t + Number(m[1]), 0);
    const browser = await launchChromium();
    const pages = await startPlayerPageServer();
    try {
      const page = await browser.newPage();
      await page.goto(`${pages.origin}/#master=${encodeURIComponent(ch.playback_url)}&key=none`);
      await page.waitForFunction(() => (window as unknown as { player: { parsed: boolean } }).player.parsed, undefined, { timeout: 30_000 });
      // Start a little before the gap, so the test plays over it rather than waiting through the start.
      await page.evaluate((at) => { document.querySelector('video')!.currentTime = at; }, Math.max(0, gapEnds - 2 * SEGMENT_SECONDS - 1));
      const passed = await page.waitForFunction((end) => document.querySelector('video')!.currentTime > end + 0.5, gapEnds, { timeout: 45_000 });
      expect(await passed.jsonValue()).toBe(true);
      expect(await page.evaluate(() => (window as unknown as { player: { errors: Array<{ fatal: boolean }> } }).player.errors.filter((e) => e.fatal))).toEqual([]);
    } finally {
      await browser.close();
      await pages.close();
    }
  });
});
