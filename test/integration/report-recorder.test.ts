/**
 * Workers' reports are recorded once in effect: duplicates, late and out-of-order reports never
 * double usage or move a job backwards.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobAttempts, usageEvents } from '../../src/db/schema.js';
import type { Report } from '../../src/queue/messages.js';
import { recordReport } from '../../src/services/report-recorder.js';
import { apiHarness, type Harness } from '../helpers/api-harness.js';
import { ASSETS } from '../helpers/test-env.js';

let h: Harness;
let file: string;
beforeAll(async () => {
  h = await apiHarness();
  file = (await (await h.as('studio-a')).upload(readFileSync(path.join(ASSETS, 'video/flower.mp4')))).body.id;
});
afterAll(() => h?.close());

const at = () => new Date().toISOString();
const usage = { wallSeconds: 2, cpuSeconds: 3, gpuSeconds: 0, gpuModel: 'cpu', gpuUuid: null, outputSeconds: 5 };
const started = (jobId: string, attempt: number): Report => ({ type: 'attempt-started', jobId, attempt, workerId: 'wrk_a', at: at() });
const ended = (jobId: string, attempt: number, outcome: 'succeeded' | 'failed' | 'canceled', willRetry = false): Report => ({
  type: 'attempt-ended', jobId, attempt, workerId: 'wrk_a', at: at(), outcome, willRetry,
  error: outcome === 'succeeded' ? null : { code: 'internal', message: 'boom' }, outputs: [], usage, execution: { path: 'cpu' },
});

async function newJob() {
  const a = await h.as('studio-a');
  return (await a.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240 } })).body.id as string;
}
const job = async (id: string) => (await (await h.as('studio-a')).get(`/v1/jobs/${id}`)).body;
const usageRows = (id: string) => h.farm.ctx.db.select().from(usageEvents).where(eq(usageEvents.jobId, id));
const attempts = (id: string) => h.farm.ctx.db.select().from(jobAttempts).where(eq(jobAttempts.jobId, id)).orderBy(jobAttempts.attempt);

describe('recordReport', () => {
  it('records a duplicate end once: one usage row, one success', async () => {
    const id = await newJob();
    await recordReport(h.farm.ctx, started(id, 1));
    expect((await job(id)).status).toBe('running');
    await recordReport(h.farm.ctx, ended(id, 1, 'succeeded'));
    await recordReport(h.farm.ctx, ended(id, 1, 'succeeded'));
    const j = await job(id);
    expect(j).toMatchObject({ status: 'succeeded', progress: 1, usage: { wall_seconds: 2, cpu_seconds: 3, output_seconds: 5, gpu_model: 'cpu', attempts_billed: 1 } });
    expect(await usageRows(id)).toHaveLength(1);
  });

  it('never moves a finished job backwards (late progress, late start)', async () => {
    const id = await newJob();
    await recordReport(h.farm.ctx, started(id, 1));
    await recordReport(h.farm.ctx, ended(id, 1, 'succeeded'));
    await recordReport(h.farm.ctx, { type: 'progress', jobId: id, attempt: 1, progress: 0.3, at: at() });
    await recordReport(h.farm.ctx, started(id, 2));
    expect(await job(id)).toMatchObject({ status: 'succeeded', progress: 1 });
  });

  it('marks the attempt of a vanished worker lost when the next one starts, and bills only the one that ran', async () => {
    const id = await newJob();
    await recordReport(h.farm.ctx, started(id, 1));
    await recordReport(h.farm.ctx, started(id, 2));
    await recordReport(h.farm.ctx, ended(id, 2, 'succeeded'));
    expect((await attempts(id)).map((a) => [a.attempt, a.status])).toEqual([[1, 'lost'], [2, 'succeeded']]);
    expect((await usageRows(id)).map((u) => [u.attempt, u.billable])).toEqual([[2, true]]);
    // The lost worker comes back and reports late: its time is recorded, not billed, and decides nothing.
    await recordReport(h.farm.ctx, ended(id, 1, 'failed'));
    expect((await job(id)).status).toBe('succeeded');
    expect((await usageRows(id)).filter((u) => u.billable)).toHaveLength(1);
  });

  it('puts a failed attempt that will retry back to queued, and fails the job on the last', async () => {
    const id = await newJob();
    await recordReport(h.farm.ctx, started(id, 1));
    await recordReport(h.farm.ctx, ended(id, 1, 'failed', true));
    expect((await job(id)).status).toBe('queued');
    await recordReport(h.farm.ctx, started(id, 2));
    await recordReport(h.farm.ctx, ended(id, 2, 'failed', false));
    expect(await job(id)).toMatchObject({ status: 'failed', error: { code: 'internal', message: 'boom' } });
  });

  it('copes with an end that arrives before its start', async () => {
    const id = await newJob();
    await recordReport(h.farm.ctx, ended(id, 1, 'succeeded'));
    await recordReport(h.farm.ctx, started(id, 1));
    expect((await job(id)).status).toBe('succeeded');
    expect((await attempts(id)).map((a) => a.status)).toEqual(['succeeded']);
  });

  it('keeps log batches once each, in order', async () => {
    const id = await newJob();
    const batch = (sequence: number, msg: string): Report => ({ type: 'log', jobId: id, attempt: 1, sequence, lines: [{ t: at(), level: 'info', msg }] });
    await recordReport(h.farm.ctx, batch(1, 'second'));
    await recordReport(h.farm.ctx, batch(0, 'first'));
    await recordReport(h.farm.ctx, batch(1, 'second'));
    const res = await (await h.as('studio-a')).get(`/v1/jobs/${id}/logs`);
    expect(String(res.body).trim().split('\n').map((l) => l.split(' ').pop())).toEqual(['first', 'second']);
  });
});
