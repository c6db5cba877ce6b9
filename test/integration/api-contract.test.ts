/**
 * The public contract in-process, on a real database (PGlite or PostgreSQL) and a real Redis:
 * keys, isolation on every route, uploads, idempotent submission, listing, cancel, bad input.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { count } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { files, jobs } from '../../src/db/schema.js';
import { apiHarness, type Harness } from '../helpers/api-harness.js';
import { ASSETS } from '../helpers/test-env.js';

let h: Harness;
let a: Awaited<ReturnType<Harness['as']>>;
let b: Awaited<ReturnType<Harness['as']>>;
let op: Awaited<ReturnType<Harness['as']>>;
const clip = readFileSync(path.join(ASSETS, 'video/flower.mp4'));

beforeAll(async () => {
  h = await apiHarness({ env: { MALAN_MAX_UPLOAD_BYTES: String(2 * 1024 * 1024) } });
  a = await h.as('studio-a');
  b = await h.as('studio-b');
  op = await h.as('ops', true);
});
afterAll(() => h?.close());

const transcode = (file: string, extra: Record<string, unknown> = {}) => ({ kind: 'transcode', input: { source: { file }, height: 240 }, ...extra });
const countRows = async (table: typeof jobs | typeof files) => (await h.farm.ctx.db.select({ n: count() }).from(table))[0]!.n;

describe('keys', () => {
  it('refuses every /v1 route without a key or with an unknown one, saying how to get one', async () => {
    for (const [method, p] of [['GET', '/v1/jobs'], ['POST', '/v1/jobs'], ['POST', '/v1/files'], ['GET', '/v1/files/file_00000000000000000000000000'], ['GET', '/v1/webhooks/default/secret']] as const) {
      const res = await h.anonymous.call(method, p);
      expect(res.status, `${method} ${p}`).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
      expect(res.body.error.message).toContain('malan keys create');
    }
    const bad = await h.anonymous.call('GET', '/v1/jobs', { headers: { authorization: 'Bearer mk_not-a-key' } });
    expect(bad.status).toBe(401);
  });
});

describe('files', () => {
  it('stores a raw upload with its sha256 and serves it back whole and by range', async () => {
    const up = await a.upload(clip, 'video/mp4', 'flower.mp4');
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({ name: 'flower.mp4', content_type: 'video/mp4', size: clip.length });
    expect(up.body.checksums.sha256).toBe((await import('node:crypto')).createHash('sha256').update(clip).digest('hex'));
    expect(up.body.urls.get).toBe(`http://farm.test/v1/files/${up.body.id}/content`);
    const whole = await h.app.request(`/v1/files/${up.body.id}/content`, { headers: { authorization: `Bearer ${await h.key('studio-a')}` } });
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(clip)).toBe(true);
    const part = await h.app.request(`/v1/files/${up.body.id}/content`, { headers: { authorization: `Bearer ${await h.key('studio-a')}`, range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${clip.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(clip.subarray(100, 200))).toBe(true);
    const outside = await h.app.request(`/v1/files/${up.body.id}/content`, { headers: { authorization: `Bearer ${await h.key('studio-a')}`, range: `bytes=${clip.length}-` } });
    expect(outside.status).toBe(416);
  });

  it("accepts Replicate's multipart shape (field `content`)", async () => {
    const form = new FormData();
    form.append('content', new Blob([clip.subarray(0, 5000)], { type: 'video/mp4' }), 'part.mp4');
    form.append('filename', 'part.mp4');
    const res = await h.app.request('/v1/files', { method: 'POST', body: form, headers: { authorization: `Bearer ${await h.key('studio-a')}` } });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ name: 'part.mp4', content_type: 'video/mp4', size: 5000 });
  });

  it('refuses an upload over the size limit and an empty one, keeping nothing', async () => {
    const before = await countRows(files);
    const big = await a.upload(Buffer.alloc(2 * 1024 * 1024 + 1), 'application/octet-stream');
    expect(big.status).toBe(413);
    expect(big.body.error.message).toContain('MALAN_MAX_UPLOAD_BYTES');
    // Without Content-Length the limit is enforced while streaming.
    const streamed = await h.app.request('/v1/files', {
      method: 'POST',
      headers: { authorization: `Bearer ${await h.key('studio-a')}` },
      body: new ReadableStream({ start(c) { for (let i = 0; i < 40; i++) c.enqueue(new Uint8Array(64 * 1024)); c.close(); } }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    const empty = await a.upload(Buffer.alloc(0));
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toContain('empty');
    expect(await countRows(files)).toBe(before);
    const tenantDirs = path.join(h.world.home, 'storage/files');
    const leftovers = readdirSync(tenantDirs, { recursive: true }).map(String).filter((f) => f.includes('.partial-'));
    expect(leftovers).toEqual([]);
  });
});

describe('jobs', () => {
  let fileA: string;
  beforeAll(async () => {
    fileA = (await a.upload(clip, 'video/mp4', 'flower.mp4')).body.id;
  });

  it('submits once per Idempotency-Key, and refuses the key for another body', async () => {
    const first = await a.post('/v1/jobs', transcode(fileA), { 'idempotency-key': 'k-1' });
    const again = await a.post('/v1/jobs', transcode(fileA), { 'idempotency-key': 'k-1' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ kind: 'transcode', status: 'queued', input: { source: { file: fileA }, height: 240 } });
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await a.post('/v1/jobs', transcode(fileA, { priority: 90 }), { 'idempotency-key': 'k-1' });
    expect(other.status).toBe(422);
    // The same key of another tenant is another job.
    const fileB = (await b.upload(clip.subarray(0, 1000))).body.id;
    const theirs = await b.post('/v1/jobs', transcode(fileB), { 'idempotency-key': 'k-1' });
    expect(theirs.body.id).not.toBe(first.body.id);
    const queued = await h.farm.ctx.queues.byKind.transcode.getJob(first.body.id);
    expect(queued?.data.jobId).toBe(first.body.id);
    expect(queued?.data.fileUrls[fileA]).toMatch(/\/v1\/files\/file_\w+\/content\?expires=\d+&sig=/);
  });

  it('refuses bad submissions with a clear 400 and creates nothing', async () => {
    const before = await countRows(jobs);
    const fileB = (await b.upload(clip.subarray(0, 1000))).body.id;
    const cases: Array<[unknown, string | RegExp]> = [
      [{ kind: 'transcode' }, 'input: required'],
      [{ kind: 'sculpt', input: {} }, "unknown kind 'sculpt'"],
      [{ kind: 'live', input: {} }, 'live events run as channels, each segment a job with a deadline: POST /v1/live/channels'],
      [{ kind: 'render', input: {} }, 'input.scene'],
      [{ input: { source: { file: fileA }, height: 240 } }, 'kind'],
      [{ kind: 'transcode', input: { height: 240 } }, 'input.source'],
      [{ kind: 'transcode', input: { source: { file: fileA } } }, /height|ladder/],
      [{ kind: 'transcode', input: { source: { file: fileA }, height: 241 } }, 'even'],
      [{ kind: 'transcode', input: { source: { file: 'file_../../etc/passwd' }, height: 240 } }, 'input.source.file'],
      [{ kind: 'transcode', input: { source: { file: fileB }, height: 240 } }, `file ${fileB} was not found`],
      [{ kind: 'transcode', input: { source: { file: fileA }, height: 240, bogus: 1 } }, 'bogus'],
      [{ kind: 'transcode', input: { source: { file: fileA }, height: 240 }, webhook: 'ftp://example.com/x' }, 'only http and https'],
      [[1, 2], /./],
    ];
    for (const [body, message] of cases) {
      const res = await a.post('/v1/jobs', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(res.body.error.message).toMatch(message);
    }
    const invalidJson = await a.call('POST', '/v1/jobs', { body: '{"kind":', headers: { 'content-type': 'application/json' } });
    expect(invalidJson.status).toBe(400);
    expect(invalidJson.body.error.message).toContain('not valid JSON');
    expect(await countRows(jobs)).toBe(before);
  });

  it('keeps tenants apart on every route (404, not 403), and lets operators see all', async () => {
    const job = (await a.post('/v1/jobs', transcode(fileA))).body;
    for (const [method, p] of [
      ['GET', `/v1/jobs/${job.id}`],
      ['POST', `/v1/jobs/${job.id}/cancel`],
      ['GET', `/v1/jobs/${job.id}/events`],
      ['GET', `/v1/jobs/${job.id}/logs`],
      ['GET', `/v1/jobs/${job.id}/attempts`],
      ['GET', `/v1/jobs/${job.id}/outputs/output.mp4`],
      ['GET', `/v1/files/${fileA}`],
      ['GET', `/v1/files/${fileA}/content`],
    ] as const) {
      const res = await b.call(method, p);
      expect(res.status, `${method} ${p}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await b.get('/v1/jobs')).body.results.map((j: { id: string }) => j.id)).not.toContain(job.id);
    expect((await a.get(`/v1/jobs/${job.id}`)).body.status).toBe('queued'); // B's cancel did nothing
    expect((await op.get(`/v1/jobs/${job.id}`)).status).toBe(200);
    expect((await op.get(`/v1/files/${fileA}`)).status).toBe(200);
    expect((await op.get('/v1/jobs?limit=100')).body.results.map((j: { id: string }) => j.id)).toContain(job.id);
    expect((await b.get('/v1/jobs/job_not-an-id')).status).toBe(404);
  });

  it('lists newest first with a cursor and filters', async () => {
    const c = await h.as('studio-c');
    const fileC = (await c.upload(clip.subarray(0, 1000))).body.id;
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await c.post('/v1/jobs', transcode(fileC))).body.id);
    const seen: string[] = [];
    let next = '/v1/jobs?limit=2';
    while (next) {
      const page = await c.get(next);
      expect(page.status).toBe(200);
      seen.push(...page.body.results.map((j: { id: string }) => j.id));
      next = page.body.next_cursor ? `/v1/jobs?limit=2&cursor=${page.body.next_cursor}` : '';
    }
    expect(seen).toEqual([...made].reverse());
    expect((await c.get('/v1/jobs?status=succeeded')).body.results).toEqual([]);
    expect((await c.get('/v1/jobs?status=queued&kind=transcode')).body.results).toHaveLength(5);
    expect((await c.get('/v1/jobs?status=bogus')).status).toBe(400);
    expect((await c.get('/v1/jobs?cursor=nope')).status).toBe(400);
  });

  it('cancels a queued job: removed from its queue, canceled, and canceling again changes nothing', async () => {
    const job = (await a.post('/v1/jobs', transcode(fileA))).body;
    const res = await a.post(`/v1/jobs/${job.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: job.id, status: 'canceled' });
    expect(res.body.completed_at).not.toBeNull();
    expect(await h.farm.ctx.queues.byKind.transcode.getJob(job.id)).toBeUndefined();
    const again = await a.post(`/v1/jobs/${job.id}/cancel`);
    expect(again.body.completed_at).toBe(res.body.completed_at);
  });

  it("gives each tenant its webhook signing secret", async () => {
    const sa = (await a.get('/v1/webhooks/default/secret')).body.key;
    const sb = (await b.get('/v1/webhooks/default/secret')).body.key;
    expect(sa).toMatch(/^whsec_/);
    expect(sa).not.toBe(sb);
  });
});
