/**
 * Postgres is the truth: after Redis loses everything (FLUSHALL), the reconciler puts every job
 * the database says is queued back on its queue, once. Runs on a private embedded redis-server,
 * so the FLUSHALL touches nothing else.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tenants } from '../../src/db/schema.js';
import { reconcileOnce } from '../../src/services/reconciler.js';
import { recordReport } from '../../src/services/report-recorder.js';
import { apiHarness, type Harness } from '../helpers/api-harness.js';
import { ASSETS } from '../helpers/test-env.js';

let h: Harness;
beforeAll(async () => {
  h = await apiHarness({ embeddedRedis: true });
});
afterAll(() => h?.close());

it('re-enqueues what Redis lost, leaves what it holds, and never duplicates', async () => {
  expect(h.farm.redisUrl).not.toBe('redis://127.0.0.1:6379'); // a private server: FLUSHALL is safe
  const a = await h.as('studio-a');
  const file = (await a.upload(readFileSync(path.join(ASSETS, 'video/flower.mp4')))).body.id;
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await a.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240 } })).body.id);
  const canceled = ids.pop()!;
  await a.post(`/v1/jobs/${canceled}/cancel`);
  const queue = h.farm.ctx.queues.byKind.transcode;
  expect(await queue.count()).toBe(2);

  const later = Date.now() + 60_000; // past the grace that protects jobs being created right now
  expect((await reconcileOnce(h.farm.ctx, later)).requeued).toEqual([]);

  await h.farm.ctx.redis.flushall();
  expect(await queue.count()).toBe(0);
  const pass = await reconcileOnce(h.farm.ctx, later);
  expect(pass.requeued.sort()).toEqual([...ids].sort());
  expect(await queue.count()).toBe(2);
  for (const id of ids) {
    const job = await queue.getJob(id);
    expect(job?.data).toMatchObject({ jobId: id, kind: 'transcode', input: { source: { file }, height: 240 } });
    expect(job?.data.fileUrls[file]).toContain('sig=');
  }
  expect(await queue.getJob(canceled)).toBeUndefined(); // canceled work stays gone
  expect((await reconcileOnce(h.farm.ctx, later)).requeued).toEqual([]); // a second pass adds nothing
  // One line a job, each tied to its job and tenant (the harness's logger writes JSON lines).
  const [tenant] = await h.farm.ctx.db.select().from(tenants).where(eq(tenants.name, 'studio-a'));
  const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 're-enqueued a job the queues had lost');
  expect(lines.map((l) => l.job_id).sort()).toEqual([...ids].sort());
  for (const l of lines) expect(l).toMatchObject({ level: 'warn', component: 'api', tenant: tenant!.id });
});

it('puts back a job that was running when Redis lost it', async () => {
  const a = await h.as('studio-a');
  const file = (await a.upload(Buffer.from('y'.repeat(100)))).body.id;
  const id = (await a.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240 } })).body.id;
  await recordReport(h.farm.ctx, { type: 'attempt-started', jobId: id, attempt: 1, workerId: 'wrk_gone', at: new Date().toISOString() });
  expect((await a.get(`/v1/jobs/${id}`)).body.status).toBe('running');
  await h.farm.ctx.redis.flushall();
  expect((await reconcileOnce(h.farm.ctx, Date.now() + 60_000)).requeued).toContain(id);
  expect((await a.get(`/v1/jobs/${id}`)).body.status).toBe('queued');
  expect(await h.farm.ctx.queues.byKind.transcode.getJob(id)).toBeDefined();
  // A job that ended is never touched.
  await recordReport(h.farm.ctx, { type: 'attempt-started', jobId: id, attempt: 2, workerId: 'wrk_b', at: new Date().toISOString() });
  await recordReport(h.farm.ctx, {
    type: 'attempt-ended', jobId: id, attempt: 2, workerId: 'wrk_b', at: new Date().toISOString(), outcome: 'succeeded', willRetry: false, error: null, outputs: [], execution: {},
    usage: { wallSeconds: 1, cpuSeconds: 1, gpuSeconds: 0, gpuModel: 'cpu', gpuUuid: null, outputSeconds: 1 },
  });
  await h.farm.ctx.redis.flushall();
  expect((await reconcileOnce(h.farm.ctx, Date.now() + 60_000)).requeued).not.toContain(id);
});

it('leaves jobs younger than the grace alone (their queue write may be on its way)', async () => {
  const a = await h.as('studio-a');
  const file = (await a.upload(Buffer.from('x'.repeat(100)))).body.id;
  const id = (await a.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240 } })).body.id;
  await h.farm.ctx.redis.flushall();
  expect((await reconcileOnce(h.farm.ctx)).requeued).not.toContain(id);
});
