/**
 * A real browser plays the farm's HLS ladder: Debian's Chromium runs hls.js from a page on another
 * origin, fetching the master, rung playlists and fMP4 segments with the key in an Authorization
 * header (so every request is a CORS preflight plus a cross-origin GET). It must pick up several
 * rungs, play, switch rung by hand and keep playing, without a fatal hls.js error.
 *
 * Codecs: Debian's Chromium is built with its own ffmpeg and plays H.264 and AAC
 * (MediaSource.isTypeSupported is true for avc1.64001f and mp4a.40.2, as for av01 and opus; false
 * for hvc1/hev1), so the farm's default ladder (H.264 + AAC) is what is played here. The first
 * test checks that, so a build without them fails with a clear reason instead of a stalled video.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type Hls from 'hls.js';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, waitForJob, type ApiClient } from '../helpers/api-client.js';
import { startFarm, type FarmProcesses } from '../helpers/farm-processes.js';
import { ASSETS, testWorld } from '../helpers/test-env.js';
import { launchChromium, startPlayerPageServer, type PageServer } from './player-page.js';

interface HlsError { type: string; details: string; fatal: boolean; url: string | null; status: number | null; reason: string | null }
/** What the player page (player-page.ts) puts on `window`. */
interface PlayerWindow {
  hls: Hls;
  player: { supported: boolean; parsed: boolean; switched: number[]; errors: HlsError[]; playError: string | null };
}

// Launched by the tests, not beforeAll: without Chromium each test FAILS saying how to install it (a failing hook would report them skipped).
let launched: Promise<Browser> | undefined;
const browser = () => (launched ??= launchChromium());
let pages: PageServer | undefined;
let farm: FarmProcesses | undefined;
let api: ApiClient;
let key: string;
beforeAll(async () => {
  pages = await startPlayerPageServer();
  farm = await startFarm((await testWorld()).env);
  key = await farm.createKey('studio-a');
  api = apiClient(farm.baseUrl, key);
});
afterAll(async () => {
  await (await launched?.catch(() => undefined))?.close();
  await pages?.close();
  await farm?.stop();
});

/** Polls `fn(arg)` in the page until it returns a truthy value; on timeout says what the player saw. */
async function waitInPage<T>(page: Page, what: string, fn: (arg: number) => T, arg = 0, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; player: ${JSON.stringify(await snapshot(page))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
const snapshot = (page: Page) =>
  page.evaluate(() => {
    const w = window as unknown as PlayerWindow;
    const v = document.querySelector('video')!;
    return { ...w.player, currentLevel: w.hls.currentLevel, currentTime: v.currentTime, paused: v.paused, readyState: v.readyState, videoHeight: v.videoHeight, mediaError: v.error?.message ?? null };
  });

describe('HLS playback in a real browser', () => {
  it("Debian's Chromium can decode the farm's default ladder codecs (H.264 + AAC in fMP4)", async () => {
    const page = await (await browser()).newPage();
    const supported = await page.evaluate(() =>
      Object.fromEntries(['video/mp4; codecs="avc1.64001f"', 'audio/mp4; codecs="mp4a.40.2"'].map((t) => [t, MediaSource.isTypeSupported(t)])),
    );
    await page.close();
    expect(supported, `Chromium ${(await browser()).version()}`).toEqual({ 'video/mp4; codecs="avc1.64001f"': true, 'audio/mp4; codecs="mp4a.40.2"': true });
  });

  it('plays the ladder with hls.js across origins, switches rung by hand and keeps playing', async () => {
    const chromium = await browser(); // before the job, so a missing browser fails fast
    const source = path.join(ASSETS, 'video/smpte-2997.mp4'); // 1080p, 10 s: four rungs (1080/720/480/360)
    const file = (await api.upload(readFileSync(source), 'video/mp4', 'bars.mp4')).body.id;
    const submitted = await api.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, ladder: 'auto', formats: ['hls'], segment_duration: 2 } });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    const job = await waitForJob(api, submitted.body.id, 300_000);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const master: string = job.outputs.find((o: { role: string }) => o.role === 'hls-master').url;

    const page = await chromium.newPage({ viewport: { width: 640, height: 360 } });
    const farmResponses: string[] = []; // for failure messages: what the player got from the farm
    page.on('response', (r) => {
      if (r.url().startsWith(farm!.baseUrl)) farmResponses.push(`${r.status()} ${r.headers()['content-type']} ${r.url().slice(farm!.baseUrl.length)}`);
    });
    page.on('requestfailed', (r) => farmResponses.push(`FAILED ${r.failure()?.errorText} ${r.url()}`));
    await page.goto(`${pages!.origin}/#${new URLSearchParams({ master, key })}`);
    expect(await page.evaluate(() => (window as unknown as PlayerWindow).player.supported), 'Hls.isSupported()').toBe(true);

    // At least two selectable rungs, with their heights.
    await waitInPage(page, 'MANIFEST_PARSED', () => (window as unknown as PlayerWindow).player.parsed);
    const heights = await page.evaluate(() => (window as unknown as PlayerWindow).hls.levels.map((l) => l.height));
    expect(heights.length, farmResponses.join('\n')).toBeGreaterThanOrEqual(2);
    expect(new Set(heights).size).toBe(heights.length);
    expect([...heights].sort((a, b) => b - a)).toEqual([1080, 720, 480, 360]);

    // Playback starts and advances past 1.5 s.
    await waitInPage(page, 'currentTime > 1.5 s', () => document.querySelector('video')!.currentTime > 1.5);
    const before = await snapshot(page);
    expect(before.playError).toBeNull();

    // A manual switch to another rung: LEVEL_SWITCHED reports it, the picture is that rung's, and time keeps going.
    const lowest = heights.indexOf(Math.min(...heights));
    const target = before.currentLevel === lowest ? heights.indexOf(Math.max(...heights)) : lowest;
    await page.evaluate((level) => { (window as unknown as PlayerWindow).hls.currentLevel = level; }, target);
    await waitInPage(page, `LEVEL_SWITCHED to level ${target}`, (t) => (window as unknown as PlayerWindow).player.switched.at(-1) === t, target, 30_000);
    const switchedAt = (await snapshot(page)).currentTime;
    await waitInPage(page, `playback past ${switchedAt.toFixed(2)} s + 1 s on level ${target}`, (t) => document.querySelector('video')!.currentTime > t + 1, switchedAt, 30_000);
    const after = await snapshot(page);
    expect(after.videoHeight).toBe(heights[target]);
    expect(after.paused).toBe(false);
    expect(after.mediaError).toBeNull();

    const shot = path.join(farm!.home, 'hls-playback.png');
    await page.locator('video').screenshot({ path: shot });
    process.stderr.write(`hls playback: ${JSON.stringify({ heights, before: before.currentLevel, target, switchedAt, after })}\nscreenshot: ${shot}\n`);

    // Non-fatal errors are allowed: video that starts at PTS 0.08 s while audio starts at 0 gives one bufferSeekOverHole at the start.
    expect(after.errors.filter((e) => e.fatal), JSON.stringify(after.errors)).toEqual([]);
    await page.close();
  }, 420_000);
});
