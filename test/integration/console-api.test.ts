/**
 * What the console stands on, in-process on a real database and Redis: the page and its assets
 * (strict CSP, nothing outside the asset list), the overview and live stream per role, the queue
 * board behind an operator key or the console's signed session cookie, and the job additions the
 * console uses (a name, search, retry) with their bad inputs.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys } from '../../src/db/schema.js';
import { recordReport } from '../../src/services/report-recorder.js';
import type { ApiClient } from '../helpers/api-client.js';
import { apiHarness, BASE, type Harness } from '../helpers/api-harness.js';
import { endedReport, startedReport } from '../helpers/reports.js';

let h: Harness;
let ops: ApiClient;
let studio: ApiClient;
let other: ApiClient;
beforeAll(async () => {
  h = await apiHarness();
  ops = await h.as('console-ops', true);
  studio = await h.as('console-studio');
  other = await h.as('console-other');
});
afterAll(() => h?.close());

const raw = (path: string, init: RequestInit = {}) => h.app.request(`${BASE}${path}`, init);
async function submit(api: ApiClient, extra: Record<string, unknown> = {}) {
  const source = (await api.upload(new Uint8Array(1000), 'video/mp4', 'a.mp4')).body.id;
  return api.post('/v1/jobs', { kind: 'transcode', input: { source: { file: source }, height: 240 }, ...extra });
}
async function failedJob(api: ApiClient, extra: Record<string, unknown> = {}) {
  const job = (await submit(api, extra)).body;
  await recordReport(h.farm.ctx, startedReport(job.id, 1));
  await recordReport(h.farm.ctx, endedReport(job.id, 1, 'failed', { code: 'media_unreadable' }));
  return job;
}

describe('the console page', () => {
  it('is served with a strict Content-Security-Policy and only its listed assets', async () => {
    const page = await raw('/console');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await page.text();
    for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      const res = await raw(src[1]!);
      expect(res.status, src[1]).toBe(200);
    }
    expect((await raw('/console/assets/main.js')).headers.get('content-type')).toContain('text/javascript');
    for (const bad of ['/console/assets/..%2F..%2Fpackage.json', '/console/assets/secret', '/console/assets/main.ts', '/console/assets/%2e%2e']) {
      expect((await raw(bad)).status, bad).toBe(404);
    }
  });
});

describe('overview and stream', () => {
  it('shows an operator the queues and workers, and a tenant only its own jobs', async () => {
    await submit(studio, { name: 'mine' });
    await submit(other);
    const o = await ops.get('/v1/console/overview');
    expect(o.status).toBe(200);
    expect(o.body.role).toBe('operator');
    expect(o.body.queues.map((q: { name: string }) => q.name)).toContain('transcode');
    expect(o.body.workers).toMatchObject({ up: 0, gpus: 0 });
    expect(o.body.throughput).toHaveLength(60);
    const t = await studio.get('/v1/console/overview');
    expect(t.body.role).toBe('tenant');
    expect(t.body.queues).toBeUndefined();
    expect(t.body.workers).toBeUndefined();
    expect(t.body.jobs.queued).toBe(1);
    expect(o.body.jobs.queued).toBeGreaterThanOrEqual(2);
  });

  it('streams the open view as SSE, and refuses workers to tenants and unknown views', async () => {
    const page = await firstEvent('/v1/console/stream?view=jobs&q=mine', 'console-studio', 'jobs');
    expect(page.results.map((j: { name: string }) => j.name)).toEqual(['mine']);
    expect((await studio.get('/v1/console/stream?view=workers')).status).toBe(403);
    expect((await studio.get('/v1/console/stream?view=everything')).status).toBe(400);
    expect((await studio.get('/v1/console/stream?view=jobs&status=exploded')).status).toBe(400);
    expect((await h.anonymous.get('/v1/console/overview')).status).toBe(401);
  });

  it('streams the caller\'s own live channels, or one of them, with their figures', async () => {
    const mine = (await studio.post('/v1/live/channels', { name: 'studio feed' })).body;
    const theirs = (await other.post('/v1/live/channels', { name: 'other feed' })).body;
    const all = await firstEvent('/v1/console/stream?view=live', 'console-studio', 'live');
    expect(all.results.map((c: { id: string }) => c.id)).toEqual([mine.id]);
    expect(all.results[0]).toMatchObject({ name: 'studio feed', status: 'idle', rungs: null, metrics: { deadline_misses: 0, latency_seconds: { p50: null } } });
    const one = await firstEvent(`/v1/console/stream?view=live&channel=${mine.id}`, 'console-studio', 'live');
    expect(one.results).toEqual([expect.objectContaining({ id: mine.id, ingest_url: mine.ingest_url })]);
    // Another tenant's channel is not found, before any stream starts; an operator sees it.
    expect((await studio.get(`/v1/console/stream?view=live&channel=${theirs.id}`)).status).toBe(404);
    expect((await firstEvent(`/v1/console/stream?view=live&channel=${theirs.id}`, 'console-ops', 'live', true)).results[0].id).toBe(theirs.id);
  });
});

/** The first event of a console stream, parsed, after checking its name. */
async function firstEvent(path: string, tenant: string, event: string, operator = false) {
  const res = await raw(path, { headers: { authorization: `Bearer ${await h.key(tenant, operator)}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  expect(text).toMatch(new RegExp(`^event: ${event}$`, 'm'));
  return JSON.parse(/^data: (.*)$/m.exec(text)![1]!);
}

describe('the queue board', () => {
  it('is for operator keys only, by bearer or by the console session cookie', async () => {
    expect((await raw('/admin/queues')).status).toBe(401);
    expect((await raw('/admin/queues', { headers: { authorization: `Bearer ${await h.key('console-studio')}` } })).status).toBe(403);
    const board = await raw('/admin/queues', { headers: { authorization: `Bearer ${await h.key('console-ops', true)}` } });
    expect(board.status).toBe(200);
    expect(await board.text()).toContain('Malan queues');
    // bull-board's actions need an operator too (pausing a queue would stop the farm).
    expect((await raw('/admin/queues/api/queues/transcode/pause', { method: 'PUT', headers: { authorization: `Bearer ${await h.key('console-studio')}` } })).status).toBe(403);
    expect((await raw('/admin/queues/api/queues/transcode/pause', { method: 'PUT' })).status).toBe(401);
    expect(await h.farm.ctx.queues.byKind.transcode!.isPaused()).toBe(false);
  });

  it('gives operators (not tenants) a signed HttpOnly SameSite=Strict cookie that ends with the key', async () => {
    const tenant = await raw('/console/session', { method: 'POST', headers: { authorization: `Bearer ${await h.key('console-studio')}` } });
    expect(await tenant.json()).toEqual({ board: false });
    expect(tenant.headers.get('set-cookie')).toBeNull();
    expect((await raw('/console/session', { method: 'POST', headers: { authorization: 'Bearer mk_nope' } })).status).toBe(401);

    const { key, keyId } = await import('../../src/services/keys.js').then((m) => m.createKey(h.farm.ctx.db, 'console-ops2', true));
    const signed = await raw('/console/session', { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    const cookie = signed.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/admin\/queues/);
    expect(cookie).not.toContain(key); // the key's id and a signature, never the key
    const value = /malan_board=([^;]+)/.exec(cookie)![1]!;
    expect((await raw('/admin/queues', { headers: { cookie: `malan_board=${value}` } })).status).toBe(200);
    const [id, expires, sig] = value.split('.');
    for (const forged of [`${id}.${Number(expires) + 3600}.${sig}`, `${id}.${expires}.${sig!.slice(1)}x`, `key_someone.${expires}.${sig}`, 'garbage']) {
      expect((await raw('/admin/queues', { headers: { cookie: `malan_board=${forged}` } })).status, forged).toBe(401);
    }
    await h.farm.ctx.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, keyId));
    expect((await raw('/admin/queues', { headers: { cookie: `malan_board=${value}` } })).status).toBe(401);
  });
});

describe('job names, search and retry', () => {
  it('keeps a name as given, and refuses empty or overlong ones without making a job', async () => {
    const before = (await studio.get('/v1/jobs?limit=100')).body.results.length;
    const named = await submit(studio, { name: '<b>Ep. 12</b> — final grade 100%_' });
    expect(named.status).toBe(201);
    expect(named.body.name).toBe('<b>Ep. 12</b> — final grade 100%_');
    for (const name of ['', '   ', 'x'.repeat(201), 42]) {
      const res = await submit(studio, { name });
      expect(res.status, String(name)).toBe(400);
      expect(res.body.error.message).toMatch(/name/);
    }
    expect((await studio.get('/v1/jobs?limit=100')).body.results.length).toBe(before + 1);
  });

  it('searches by words of the name (literally) or the start of an id, within the caller\'s own jobs', async () => {
    const a = (await submit(studio, { name: 'Trailer 100% final' })).body;
    await submit(studio, { name: 'Trailer 1000 draft' });
    await submit(other, { name: 'Trailer 100% final (other studio)' });
    const names = async (api: ApiClient, q: string) => (await api.get(`/v1/jobs?q=${encodeURIComponent(q)}`)).body.results.map((j: { name: string }) => j.name);
    // "%" is a literal percent sign, not LIKE's wildcard: "Trailer 1000 draft" does not match.
    expect((await names(studio, '100%')).sort()).toEqual(['<b>Ep. 12</b> — final grade 100%_', 'Trailer 100% final']);
    expect(await names(studio, 'trailer')).toHaveLength(2);
    expect(await names(studio, '_')).toEqual(['<b>Ep. 12</b> — final grade 100%_']); // LIKE's "_" matched literally
    expect((await studio.get(`/v1/jobs?q=${a.id.slice(0, 20)}`)).body.results.map((j: { id: string }) => j.id)).toContain(a.id);
    expect((await studio.get('/v1/jobs?q=')).status).toBe(400);
    expect((await studio.get(`/v1/jobs?q=${'x'.repeat(201)}`)).status).toBe(400);
    const page = await studio.get('/v1/jobs?q=trailer&limit=1');
    expect(page.body.next).toContain('q=trailer');
  });

  it('retries a failed or canceled job as a new job with the same input, billed to its tenant', async () => {
    const failed = await failedJob(studio, { name: 'retry me' });
    const again = await studio.post(`/v1/jobs/${failed.id}/retry`);
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(failed.id);
    expect(again.body).toMatchObject({ kind: 'transcode', name: 'retry me', status: 'queued', input: failed.input });
    expect((await studio.get(`/v1/jobs/${failed.id}`)).body.status).toBe('failed'); // the old one is left as it was
    // An operator's retry is still the tenant's job.
    const byOps = await ops.post(`/v1/jobs/${failed.id}/retry`);
    expect(byOps.status).toBe(201);
    expect((await studio.get(`/v1/jobs/${byOps.body.id}`)).status).toBe(200);
    // Not a job that is still going, and not another tenant's.
    const queued = await studio.post(`/v1/jobs/${again.body.id}/retry`);
    expect(queued.status).toBe(409);
    expect(queued.body.error.message).toMatch(/only a failed or canceled job/);
    expect((await other.post(`/v1/jobs/${failed.id}/retry`)).status).toBe(404);
    expect((await studio.post('/v1/jobs/job_nope/retry')).status).toBe(404);
  });
});
