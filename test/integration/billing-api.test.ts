/**
 * Billing through the API: the price book (operators only, validated, changes priced on both sides
 * of their date), usage and invoices (their lines add up to the ledger; JSON, CSV and a printable
 * page), quotas refused at submission with which limit and when it resets, and every bad input
 * answered with a clear 4xx that changes nothing.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodOf } from '../../src/billing/periods.js';
import { charges, prices } from '../../src/db/billing-schema.js';
import { recordReport } from '../../src/services/report-recorder.js';
import type { ApiClient } from '../helpers/api-client.js';
import { apiHarness, type Harness } from '../helpers/api-harness.js';
import { endedReport, startedReport, usageReport } from '../helpers/reports.js';

let h: Harness;
let ops: ApiClient;
beforeAll(async () => {
  h = await apiHarness();
  ops = await h.as('park-ops', true);
});
afterAll(() => h?.close());

const record = (r: Parameters<typeof recordReport>[1]) => recordReport(h.farm.ctx, r);
async function submit(api: ApiClient, headers?: Record<string, string>, file?: string) {
  const source = file ?? (await api.upload(new Uint8Array(1000), 'video/mp4', 'a.mp4')).body.id;
  return api.post('/v1/jobs', { kind: 'transcode', input: { source: { file: source }, height: 240 } }, headers);
}
/** A job that ran and succeeded with this usage. */
async function ranJob(api: ApiClient, usage: NonNullable<Parameters<typeof endedReport>[3]>['usage']) {
  const id = (await submit(api)).body.id as string;
  await record(startedReport(id, 1));
  await record(endedReport(id, 1, 'succeeded', { usage }));
  return id;
}
const tenantId = async (api: ApiClient) => (await api.get('/v1/usage')).body.tenant.id as string;

describe('invoices and usage', () => {
  it('add up to the ledger, as JSON, CSV and a printable page', async () => {
    const a = await h.as('studio-inv');
    await ranJob(a, { cpuSeconds: 12.3456, gpuSeconds: 0 });
    await ranJob(a, { cpuSeconds: 1, gpuSeconds: 7.5, gpuModel: 'NVIDIA L4', gpuUuid: 'GPU-1' });
    const period = periodOf(new Date());
    const inv = (await a.get(`/v1/invoices/${period}`)).body;
    expect(inv).toMatchObject({ object: 'invoice', period, status: 'open', currency: 'USD' });
    const sumLines = inv.lines.reduce((n: number, l: { amount_micros: number }) => n + l.amount_micros, 0);
    expect(sumLines).toBe(inv.subtotal_micros);
    expect(inv.ledger.amount_micros).toBe(inv.subtotal_micros);
    const rows = await h.farm.ctx.db.select().from(charges).where(eq(charges.tenantId, await tenantId(a)));
    expect(rows.reduce((n, c) => n + c.amountMicros, 0)).toBe(inv.subtotal_micros);
    expect(inv.lines.map((l: { description: string }) => l.description)).toEqual(['GPU time — NVIDIA L4', 'CPU time']);
    // 7.5 GPU-s × 0.00024 (L4) + 13.346 CPU-s × 0.0001
    expect(inv.subtotal).toBe('0.003135');
    expect(inv.amount_due).toBe('0.00');

    const csv = await a.call('GET', `/v1/invoices/${period}?format=csv`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(String(csv.body).split('\r\n').filter(Boolean)).toHaveLength(1 + 2 + 2);
    const html = await a.call('GET', `/v1/invoices/${period}`, { headers: { accept: 'text/html' } });
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(String(html.body)).toContain('0.003135');

    const usage = (await a.get('/v1/usage?group_by=day,kind,gpu_model')).body;
    expect(usage.total_micros).toBe(inv.subtotal_micros);
    expect(usage.results.map((r: { meter: string; gpu_model: string | null; kind: string }) => [r.meter, r.gpu_model, r.kind])).toEqual([
      ['cpu_seconds', null, 'transcode'],
      ['gpu_seconds', 'NVIDIA L4', 'transcode'],
    ]);
    expect((await a.call('GET', '/v1/usage?format=csv&group_by=job')).headers.get('content-type')).toContain('text/csv');
    expect((await a.get('/v1/invoices')).body.results).toEqual([{ period, subtotal: inv.subtotal, charges: 3 }]);
  });

  it.each([['2026-13'], ['..%2F..%2Fetc'], ['9999-01'], ['2026-1'], ['%00']])('refuses the period %s', async (p) => {
    const res = await (await h.as('studio-inv')).get(`/v1/invoices/${p}`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/period/);
  });

  it.each([
    ['group_by=meter,password', /group_by/],
    ['from=2026-02-30', /real day/],
    ['from=2026-11-10&to=2026-11-01', /before/],
    ['from=2020-01-01&to=2026-01-01', /at most 366/],
    ['billed_to=nobody', /billed_to/],
    ['format=xml', /format/],
  ])('refuses the usage query %s', async (q, message) => {
    const res = await (await h.as('studio-inv')).get(`/v1/usage?${q}`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
  });

  it("keeps a tenant to its own usage; operators read any tenant's and all", async () => {
    const a = await h.as('studio-inv');
    const b = await h.as('studio-other');
    const aId = await tenantId(a);
    for (const path of [`/v1/usage?tenant=${aId}`, '/v1/usage?tenant=all', `/v1/invoices/${periodOf(new Date())}?tenant=${aId}`, `/v1/invoices?tenant=studio-inv`]) {
      const res = await b.get(path);
      expect(res.status, path).toBe(403);
      expect(JSON.stringify(res.body)).not.toContain('0.003135');
    }
    expect((await ops.get(`/v1/usage?tenant=${aId}`)).body.total).toBe('0.003135');
    expect((await ops.get('/v1/usage?tenant=all&group_by=tenant')).body.tenant).toBe('all');
    expect((await ops.get('/v1/usage?tenant=ten_nobody')).status).toBe(404);
    const month = (await ops.get(`/v1/admin/billing/invoices/${periodOf(new Date())}`)).body;
    expect(month.tenants.map((t: { tenant: { name: string } }) => t.tenant.name)).toContain('studio-inv');
  });
});

describe('quotas', () => {
  it('refuse a job over the concurrent limit with 429 and Retry-After; a replay still answers', async () => {
    const a = await h.as('studio-q1');
    const id = await tenantId(a);
    expect((await ops.call('PUT', `/v1/admin/tenants/${id}/quotas`, { json: { max_concurrent_jobs: 1 } })).body.concurrent_jobs).toEqual({ limit: 1, used: 0 });
    const file = (await a.upload(new Uint8Array(1000), 'video/mp4', 'a.mp4')).body.id;
    const first = await submit(a, { 'idempotency-key': 'q1-first' }, file);
    expect(first.status).toBe(201);
    const second = await submit(a);
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('10');
    expect(second.body.error.message).toMatch(/concurrent jobs limit reached: 1 of 1/);
    const again = await submit(a, { 'idempotency-key': 'q1-first' }, file);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expect((await a.get('/v1/jobs')).body.results).toHaveLength(1); // nothing else was created
    await a.post(`/v1/jobs/${first.body.id}/cancel`);
    expect((await submit(a)).status).toBe(201);
  });

  it('refuse a job past the monthly GPU-seconds with 402, saying when it resets', async () => {
    const a = await h.as('studio-q2');
    await ops.call('PUT', `/v1/admin/tenants/${await tenantId(a)}/quotas`, { json: { gpu_seconds_per_month: 5 } });
    await ranJob(a, { gpuSeconds: 6, gpuModel: 'NVIDIA L4', gpuUuid: 'GPU-1' });
    const res = await submit(a);
    expect(res.status).toBe(402);
    expect(res.body.error.message).toMatch(/monthly GPU-seconds limit reached: 6 of 5 .* resets at \d{4}-\d{2}-01T00:00:00.000Z/);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await a.get('/v1/usage')).body.quotas.gpu_seconds).toMatchObject({ limit: 5, used: 6 });
  });

  it('count what a running job has used so far, and refuse past the spending limit', async () => {
    const a = await h.as('studio-q3');
    await ops.call('PUT', `/v1/admin/tenants/${await tenantId(a)}/quotas`, { json: { spending_limit: '0.001' } });
    const id = (await submit(a)).body.id;
    await record(startedReport(id, 1));
    await record(usageReport(id, 1, 1, { cpuSeconds: 11 })); // still running: 0.0011 so far
    const quotas = (await a.get('/v1/usage')).body;
    expect(quotas.pending).toMatchObject({ cpu_seconds: 11, estimated_amount: '0.001100' });
    expect(quotas.quotas.spending).toMatchObject({ limit: '0.001000', used: '0.001100' });
    const res = await submit(a);
    expect(res.status).toBe(402);
    expect(res.body.error.message).toMatch(/monthly spending limit reached: 0.001100 of 0.001000 USD/);
    await ops.call('PUT', `/v1/admin/tenants/${await tenantId(a)}/quotas`, { json: { spending_limit: null } });
    expect((await submit(a)).status).toBe(201);
  });

  it.each([
    [{ max_concurrent_jobs: -1 }],
    [{ max_concurrent_jobs: 1.5 }],
    [{ gpu_seconds_per_month: 'lots' }],
    [{ spending_limit: '-5' }],
    [{ spending_limit: '1e9' }],
    [{ surprise: 1 }],
  ])('refuse the quota body %j, changing nothing', async (body) => {
    const a = await h.as('studio-q4');
    const id = await tenantId(a);
    const res = await ops.call('PUT', `/v1/admin/tenants/${id}/quotas`, { json: body });
    expect(res.status).toBe(400);
    expect((await ops.get(`/v1/admin/tenants/${id}/quotas`)).body.concurrent_jobs.limit).toBeNull();
  });

  it('are set by operators only, on tenants that exist', async () => {
    const a = await h.as('studio-q4');
    expect((await a.call('PUT', `/v1/admin/tenants/${await tenantId(a)}/quotas`, { json: { max_concurrent_jobs: 100 } })).status).toBe(403);
    expect((await ops.call('PUT', '/v1/admin/tenants/ten_missing/quotas', { json: { max_concurrent_jobs: 1 } })).status).toBe(404);
    expect((await ops.get('/v1/admin/tenants')).body.results.map((t: { name: string }) => t.name)).toContain('studio-q4');
  });
});

describe('the price book', () => {
  it.each([
    [{ meter: 'cpu_seconds', unit_price: '-0.01' }, /non-negative/],
    [{ meter: 'cpu_seconds', unit_price: -0.01 }, /negative/],
    [{ meter: 'cpu_seconds', unit_price: '99999' }, /more than 10000/],
    [{ meter: 'cpu_seconds', unit_price: 'free' }, /unit_price/],
    [{ meter: 'bitcoins', unit_price: '1' }, /unknown meter/],
    [{ meter: 'cpu_seconds', unit_price: '1', currency: 'EUR' }, /bills in USD/],
    [{ meter: 'cpu_seconds', unit_price: '1', gpu_model: 'NVIDIA L4' }, /gpu_model/],
    [{ meter: 'cpu_seconds', unit_price: '1', rounding: 'up' }, /increment/],
    [{ meter: 'cpu_seconds', unit_price: '1', effective_from: '2020-01-01T00:00:00Z' }, /in the past/],
    [{ meter: 'cpu_seconds', unit_price: '1', effective_from: 'tomorrow' }, /ISO 8601/],
    [{ meter: 'cpu_seconds' }, /unit_price is required/],
  ])('refuses %j', async (body, message) => {
    const before = (await h.farm.ctx.db.select().from(prices)).length;
    const res = await ops.post('/v1/admin/prices', body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
    expect(await h.farm.ctx.db.select().from(prices)).toHaveLength(before);
  });

  it('is changed by operators only', async () => {
    const res = await (await h.as('studio-inv')).post('/v1/admin/prices', { meter: 'cpu_seconds', unit_price: '0' });
    expect(res.status).toBe(403);
  });

  // Last: it changes the CPU price for everything after it.
  it('prices usage on both sides of a change by its date, and each line keeps its price', async () => {
    const a = await h.as('studio-change');
    const change = new Date(Date.now() + 60_000);
    const created = await ops.post('/v1/admin/prices', { meter: 'cpu_seconds', unit_price: '0.0003', rounding: 'up', increment: 0.001, effective_from: change.toISOString(), note: 'December' }, { 'idempotency-key': 'cpu-2' });
    expect(created.status).toBe(201);
    expect((await ops.post('/v1/admin/prices', { meter: 'cpu_seconds', unit_price: '0.0003', rounding: 'up', increment: 0.001, effective_from: change.toISOString(), note: 'December' }, { 'idempotency-key': 'cpu-2' })).status).toBe(200);
    expect((await a.get('/v1/prices')).body.results.find((p: { id: string }) => p.id === created.body.id)).toMatchObject({ upcoming: true, unit_price: '0.000300000' });
    // One attempt across the change: 10 CPU-s before it, 10 after.
    const id = (await submit(a)).body.id;
    await record(startedReport(id, 1, new Date(change.getTime() - 20_000)));
    await record(usageReport(id, 1, 1, { cpuSeconds: 10 }, new Date(change.getTime() - 1000)));
    await record(endedReport(id, 1, 'succeeded', { sequence: 2, usage: { cpuSeconds: 10 }, at: new Date(change.getTime() + 1000) }));
    const lines = await h.farm.ctx.db.select().from(charges).where(eq(charges.jobId, id)).orderBy(charges.occurredAt);
    expect(lines.map((c) => [c.priceId, c.unitPriceNanos, c.amountMicros])).toEqual([
      ['price_default_cpu', 100_000, 1000],
      [created.body.id, 300_000, 3000],
    ]);
    const inv = (await a.get(`/v1/invoices/${periodOf(change)}`)).body;
    expect(inv.lines.map((l: { unit_price: string; amount: string }) => [l.unit_price, l.amount])).toEqual([
      ['0.000100000', '0.001000'],
      ['0.000300000', '0.003000'],
    ]);
  });
});
