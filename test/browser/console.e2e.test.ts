/**
 * The operator console in Debian's Chromium against a real farm (API + two worker processes):
 * sign in, watch a running transcode's progress advance with no reload, read its log, play its HLS
 * output, see the workers with their GPU readings, see the billing chart, and a tenant refused the
 * operator pages. Hostile text rides along: the job's name and a line of its log (the source's
 * metadata title, which ffmpeg prints) are markup that must stay text.
 *
 * GPU READINGS ARE RECORDED: this machine has no GPU. The second worker finds an `nvidia-smi` on its
 * PATH that prints real recorded output (../shared/assets/nvidia-smi/tesla-t4.xml, see SOURCES.md),
 * and reads it through the worker's own parser, as it would on a GPU host. The first worker has no
 * nvidia-smi and must be shown as CPU-only.
 *
 * Screenshots are saved under test-artifacts/console/ (MALAN_TEST_ARTIFACTS to put them elsewhere).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { parseNvidiaSmiXml } from '../../workers/probe/nvidia-smi.js';
import { apiClient, waitForJob, type ApiClient } from '../helpers/api-client.js';
import { startFarm, type FarmProcesses } from '../helpers/farm-processes.js';
import { ASSETS, testWorld } from '../helpers/test-env.js';
import { launchChromium } from './player-page.js';

const RECORDED_SMI = path.join(ASSETS, 'nvidia-smi/tesla-t4.xml');
const ARTIFACTS = process.env.MALAN_TEST_ARTIFACTS ?? path.join(packageRoot, 'test-artifacts/console');
const XSS_NAME = '<img src=x onerror="window.pwned=\'name\'">Trailer <b>final</b>';
const XSS_TITLE = '<img src=x onerror="window.pwned=\'log\'">';

let launched: Promise<Browser> | undefined;
const browser = () => (launched ??= launchChromium());
let farm: FarmProcesses | undefined;
let opsKey: string;
let studioKey: string;
let studio: ApiClient;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'malan-console-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  farm = await startFarm((await testWorld()).env);
  // The second worker's nvidia-smi prints a real recorded reading (see the header).
  const bin = path.join(scratch, 'recorded-gpu-bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'nvidia-smi'), `#!/bin/sh\nexec cat '${RECORDED_SMI}'\n`);
  chmodSync(path.join(bin, 'nvidia-smi'), 0o755);
  await farm.startWorker({ PATH: `${bin}:${process.env.PATH}` });
  opsKey = await farm.createKey('park-ops', true);
  studioKey = await farm.createKey('console-studio');
  studio = apiClient(farm.baseUrl, studioKey);
}, 240_000);
afterAll(async () => {
  await (await launched?.catch(() => undefined))?.close();
  await farm?.stop();
});

async function signIn(page: Page, key: string) {
  await page.goto(`${farm!.baseUrl}/console`);
  await page.fill('input[name=key]', key);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top');
}
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
/** What the page must never have: markup from the farm's data run as markup. */
const injected = (page: Page) => page.evaluate(() => ({ pwned: (window as { pwned?: string }).pwned ?? null, imgs: document.querySelectorAll('img[src="x"]').length, bold: document.querySelectorAll('main b').length }));

describe('operator console in a real browser', () => {
  it('signs in, follows a transcode live without reloading, shows its log and plays its HLS output', async () => {
    const page = await (await browser()).newPage({ viewport: { width: 1366, height: 900 } });
    // A studio master whose metadata title is markup: ffmpeg prints it into the job's log.
    const master = path.join(scratch, 'master.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(ASSETS, 'video/chaplin.mp4'), '-c', 'copy', '-metadata', `title=${XSS_TITLE}`, '-y', master]);

    await page.goto(`${farm!.baseUrl}/console`);
    await page.fill('input[name=key]', 'mk_not_a_key');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('.sign-in [role=alert]')).toMatch(/not valid/);
    await signIn(page, opsKey);
    await page.evaluate(() => ((window as { loadedOnce?: number }).loadedOnce = 1)); // gone if the page reloads
    await page.evaluate(() => (location.hash = '/jobs'));

    const file = (await studio.upload(readFileSync(master), 'video/mp4', 'master.mp4')).body.id;
    const job = await studio.post('/v1/jobs', { kind: 'transcode', name: XSS_NAME, input: { source: { file }, ladder: 'auto', formats: ['hls'], preset: 'veryslow', segment_duration: 2 } });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    const row = `tr[data-job="${job.body.id}"]`;
    await page.waitForSelector(row, { timeout: 30_000 });

    // Progress as the page shows it, read until the job ends: it must move through values between 0 and 1.
    const seen = new Set<number>();
    let status = '';
    for (const deadline = Date.now() + 180_000; Date.now() < deadline && status !== 'succeeded' && status !== 'failed'; await page.waitForTimeout(150)) {
      const state = await page.$eval(row, (tr) => ({ status: tr.getAttribute('data-status')!, progress: Number(tr.querySelector('[data-progress]')!.getAttribute('data-progress')) }));
      status = state.status;
      if (state.progress > 0 && state.progress < 1) seen.add(state.progress);
      if (seen.size === 1 && status === 'running') await shot(page, '1-jobs-running');
    }
    expect(status).toBe('succeeded');
    expect(seen.size, `progress values seen while running: ${[...seen].join(', ')}`).toBeGreaterThanOrEqual(2);
    expect(await page.evaluate(() => (window as { loadedOnce?: number }).loadedOnce)).toBe(1);
    expect(await page.$eval(`${row} a`, (a) => a.textContent)).toBe(XSS_NAME);

    await page.click(`${row} a`);
    await page.waitForSelector('pre.log .line');
    await expect.poll(() => page.textContent('pre.log'), { timeout: 15_000 }).toContain(XSS_TITLE);
    expect(await page.textContent('.job-head h1')).toBe(XSS_NAME);
    // The master plays in hls.js from the job's signed playback URL.
    const played = await page.waitForFunction(() => {
      const v = document.querySelector<HTMLVideoElement>('video[data-player=hls]');
      return v && v.currentTime > 1 ? v.currentTime : null;
    }, undefined, { timeout: 60_000 });
    expect(await played.jsonValue()).toBeGreaterThan(1);
    await shot(page, '2-job-detail');
    expect(await injected(page)).toEqual({ pwned: null, imgs: 0, bold: 0 });
    await page.close();
  });

  it('shows each worker with what it can run: recorded GPU readings through the parser, and a CPU-only worker as such', async () => {
    const page = await (await browser()).newPage({ viewport: { width: 1366, height: 900 } });
    await signIn(page, opsKey);
    await page.evaluate(() => (location.hash = '/workers'));
    const [gpu] = parseNvidiaSmiXml(readFileSync(RECORDED_SMI, 'utf8'));
    const card = await page.waitForSelector('article.worker[data-gpus="1"]', { timeout: 30_000 });
    const text = (await card.textContent())!;
    expect(text).toContain(gpu!.name);
    expect(text).toContain(gpu!.uuid);
    if (gpu!.temperatureC !== null) expect(text).toContain(`${gpu!.temperatureC} °C`);
    expect(text).toContain(`${(gpu!.memoryTotalMiB / 1024).toFixed(1)} GiB`);
    expect(await page.$eval('article.worker[data-gpus="0"]', (a) => a.textContent)).toContain('CPU only');
    await shot(page, '3-workers');
    // The overview counts them, in the dark theme too.
    await page.evaluate(() => (location.hash = '/overview'));
    await page.click('button[aria-label="switch theme"]');
    await expect.poll(() => page.$eval('[data-card="Workers up"] .value', (v) => v.textContent), { timeout: 15_000 }).toBe('2');
    expect(await page.$eval('[data-card="GPUs"] .value', (v) => v.textContent)).toBe('1');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await shot(page, '4-overview-dark');
    await page.click('button[aria-label="switch theme"]');
    await page.close();
  });

  it('charts the money per tenant over the last 30 days', async () => {
    const page = await (await browser()).newPage({ viewport: { width: 1366, height: 900 } });
    await waitForJob(studio, (await studio.get('/v1/jobs?limit=1')).body.results[0].id);
    await signIn(page, opsKey);
    await page.evaluate(() => (location.hash = '/billing'));
    await page.waitForSelector('figure[data-chart][data-points="30"]', { timeout: 30_000 });
    expect(await page.$$eval('figure[data-chart] canvas', (c) => c.length)).toBeGreaterThan(0);
    await expect.poll(() => page.textContent('[data-table=billing]'), { timeout: 15_000 }).toContain('console-studio');
    await shot(page, '5-billing');
    await page.close();
  });

  it('refuses operator pages to a tenant key and shows the tenant only its own work', async () => {
    const context = await (await browser()).newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    await signIn(page, studioKey);
    expect(await page.$$eval('nav a', (as) => as.map((a) => a.textContent))).toEqual(['Overview', 'Jobs', 'Live', 'Billing']);
    expect(await page.textContent('[data-role]')).toContain('tenant');
    await page.evaluate(() => (location.hash = '/workers'));
    await expect.poll(() => page.textContent('main [role=alert]')).toMatch(/for operators/);
    expect(await page.$('[data-card="Workers up"]')).toBeNull();
    // The queue board stays shut with the tenant signed in: its sign-in got no board cookie.
    const board = await page.goto(`${farm!.baseUrl}/admin/queues`);
    expect(board!.status()).toBe(401);
    expect(await page.textContent('body')).toMatch(/operator key/);
    expect((await context.cookies()).map((c) => c.name)).not.toContain('malan_board');
    await shot(page, '6-tenant-refused');
    await context.close();
  });
});
