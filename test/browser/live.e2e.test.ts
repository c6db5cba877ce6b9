/**
 * The console's Live page in Debian's Chromium against a real farm (API + one worker): a tenant
 * makes a channel, a real encoder (ffmpeg, -re, so at the pace of a live source) pushes HLS over
 * PUT to its ingest URL, and the console lists the channel, shows its figures, keeps its stream
 * key masked until asked, and plays it in hls.js while the encoder is still sending.
 *
 * Screenshots are saved under test-artifacts/console/ (MALAN_TEST_ARTIFACTS to put them elsewhere).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { apiClient } from '../helpers/api-client.js';
import { startFarm, stopChild, type FarmProcesses } from '../helpers/farm-processes.js';
import { ASSETS, testWorld } from '../helpers/test-env.js';
import { launchChromium } from './player-page.js';

const ARTIFACTS = process.env.MALAN_TEST_ARTIFACTS ?? path.join(packageRoot, 'test-artifacts/console');
const CLIP = path.join(ASSETS, 'video/smpte-2997.mp4'); // 1080p25, 10 s, with audio

let browser: Browser | undefined;
let farm: FarmProcesses | undefined;
let encoder: ChildProcess | undefined;
let encoderLog = '';
let key: string;
let channel: { id: string; name: string; ingest_url: string };

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  farm = await startFarm((await testWorld()).env, { workers: 1 });
  key = await farm.createKey('live-studio');
  // The source passed through and one encoded rung: with the encoder itself on the same two shared
  // cores, the automatic ladder's three x264 rungs would not keep up and every segment would be a gap.
  const made = await apiClient(farm.baseUrl, key).post('/v1/live/channels', { name: 'Studio B feed', ladder: [{ passthrough: true }, { height: 360 }] });
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  channel = made.body;
  browser = await launchChromium();
}, 240_000);
afterAll(async () => {
  if (encoder) await stopChild(encoder);
  await browser?.close();
  await farm?.stop();
});

/** The encoder as a studio runs it (keyframes every 2 s at 25 fps, so each 2 s segment starts on one); the clip looped to 40 s. */
function startEncoder(ingestUrl: string): ChildProcess {
  const args = ['-hide_banner', '-v', 'error', '-re', '-stream_loop', '3', '-i', CLIP];
  args.push('-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-c:a', 'aac');
  args.push('-f', 'hls', '-hls_time', '2', '-hls_list_size', '5', '-method', 'PUT', `${ingestUrl}/index.m3u8`);
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => (encoderLog = (encoderLog + d.toString()).slice(-4000)));
  return child;
}

async function signIn(page: Page) {
  await page.goto(`${farm!.baseUrl}/console`);
  await page.fill('input[name=key]', key);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top');
}
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const videoTime = (page: Page) => page.$eval('video[data-player=live]', (v) => (v as HTMLVideoElement).currentTime);
/** Seconds of media the element actually played (its `played` ranges), seeks not counted. */
const playedSeconds = (page: Page) =>
  page.$eval('video[data-player=live]', (el) => {
    const { played } = el as HTMLVideoElement;
    let total = 0;
    for (let i = 0; i < played.length; i++) total += played.end(i) - played.start(i);
    return total;
  });
const ingestRunning = () => encoder!.exitCode === null && encoder!.signalCode === null;

describe('the Live page in a real browser', () => {
  it('lists the channel, shows its figures and plays it at the live edge while the encoder sends', async () => {
    const context = await browser!.newContext({ viewport: { width: 1366, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const page = await context.newPage();
    await signIn(page);
    expect(await page.$$eval('nav a', (as) => as.map((a) => a.textContent))).toContain('Live');
    await page.evaluate(() => (location.hash = '/live'));
    const row = `tr[data-channel="${channel.id}"]`;
    await page.waitForSelector(row, { timeout: 15_000 });
    expect(await page.getAttribute(row, 'data-status')).toBe('idle');

    encoder = startEncoder(channel.ingest_url);
    // The list follows the stream: the channel goes live and gets latency figures with no reload.
    await expect.poll(() => page.getAttribute(row, 'data-status'), { timeout: 30_000 }).toBe('live');
    await expect.poll(() => page.$eval(`${row} td:nth-child(4)`, (td) => td.textContent), { timeout: 30_000 }).toMatch(/^\d/);
    await shot(page, '7-live-channels');

    await page.click(`${row} a`);
    await page.waitForSelector('[data-figure=latency]');
    // Playback: the player appears with the first published segment; its clock must run on.
    const first = await page.waitForFunction(() => {
      const v = document.querySelector<HTMLVideoElement>('video[data-player=live]');
      return v && v.currentTime > 0 ? v.currentTime : null;
    }, undefined, { timeout: 60_000 });
    const t1 = (await first.jsonValue())!;
    expect(ingestRunning(), `the encoder ended before playback began:\n${encoderLog}`).toBe(true);
    await expect.poll(() => videoTime(page), { timeout: 20_000 }).toBeGreaterThan(t1 + 2);
    // Played, not only jumped: hls.js also moves currentTime when it seeks to the live edge or over a hole.
    await expect.poll(() => playedSeconds(page), { timeout: 20_000 }).toBeGreaterThan(2);
    expect(ingestRunning(), `the encoder ended while the player was being read:\n${encoderLog}`).toBe(true);

    // The farm's figures for the channel: ingest → published latency and each rung's real-time factor.
    expect(await page.textContent('[data-figure=latency]')).toMatch(/^\d.* \/ \d.* \/ \d/);
    expect(await page.textContent('[data-figure=published]')).toMatch(/^[1-9]/);
    for (const rung of ['source', '360p']) expect(await page.textContent(`[data-figure=rtf] [data-rung="${rung}"]`)).toMatch(new RegExp(`^${rung} \\d`));
    // hls.js says how far behind the live edge it plays.
    await expect.poll(() => page.getAttribute('[data-behind-live]', 'data-behind-live'), { timeout: 15_000 }).toMatch(/^\d/);

    // The stream key stays off the screen until asked for; Copy puts the whole URL on the clipboard.
    const streamKey = channel.ingest_url.split('/').pop()!;
    expect(await page.textContent('[data-ingest]')).not.toContain(streamKey);
    await page.click('button:text-is("Copy")');
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(channel.ingest_url);
    await shot(page, '8-live-channel');
    await page.click('[data-ingest=masked]');
    expect(await page.textContent('[data-ingest=shown]')).toBe(channel.ingest_url);

    // Stop ends the channel (after the confirmation) and the page says so.
    page.once('dialog', (d) => void d.accept());
    await page.click('button:text-is("Stop")');
    await expect.poll(() => page.textContent('.job-head .badge'), { timeout: 15_000 }).toBe('ended');
    await context.close();
  }, 180_000);
});
