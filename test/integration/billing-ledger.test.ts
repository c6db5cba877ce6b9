/**
 * The ledger is exactly once and honest about who pays: increments, duplicates, late and
 * out-of-order reports, lost workers and every outcome, recorded through the real recorder on a
 * real database; charges leave through the outbox once each, also when the receiver fails.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOnce } from '../../src/billing/outbox-export.js';
import { meterStorage } from '../../src/billing/storage-meter.js';
import { billingOutbox, charges } from '../../src/db/billing-schema.js';
import { files, jobAttempts, usageEvents } from '../../src/db/schema.js';
import { failAbandoned } from '../../src/services/reconciler.js';
import { recordReport } from '../../src/services/report-recorder.js';
import { apiHarness, type Harness } from '../helpers/api-harness.js';
import { endedReport, startedReport, usageReport } from '../helpers/reports.js';

let h: Harness;
let file: string;
beforeAll(async () => {
  h = await apiHarness();
  file = (await (await h.as('studio-l')).upload(new Uint8Array(2_000_000).fill(7), 'video/mp4', 'a.mp4')).body.id;
});
afterAll(() => h?.close());

const record = (r: Parameters<typeof recordReport>[1]) => recordReport(h.farm.ctx, r);
async function newJob(tenant = 'studio-l') {
  return (await (await h.as(tenant)).post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240 } })).body.id as string;
}
const chargesOf = (id: string) => h.farm.ctx.db.select().from(charges).where(eq(charges.jobId, id)).orderBy(charges.attempt, charges.meter);
const attemptsOf = (id: string) => h.farm.ctx.db.select().from(jobAttempts).where(eq(jobAttempts.jobId, id)).orderBy(jobAttempts.attempt);

describe('the ledger', () => {
  it('counts increments and the end once each, whatever is sent twice, and rates the attempt once', async () => {
    const id = await newJob();
    await record(startedReport(id, 1));
    for (const seq of [1, 2, 1, 2]) await record(usageReport(id, 1, seq, { cpuSeconds: 1.5, wallSeconds: 1 }));
    // Not rated while it runs: who pays is not known yet.
    expect(await chargesOf(id)).toEqual([]);
    for (let i = 0; i < 2; i++) await record(endedReport(id, 1, 'succeeded', { sequence: 3, usage: { cpuSeconds: 0.5, meters: { renditions: [{ height: 240, codec: 'h264', seconds: 90 }] } } }));
    expect(await h.farm.ctx.db.select().from(usageEvents).where(eq(usageEvents.jobId, id))).toHaveLength(3);
    const lines = await chargesOf(id);
    expect(lines.map((c) => [c.meter, c.quantity, c.billedQuantity, c.billedTo])).toEqual([
      ['cpu_seconds', 3.5, 3.5, 'tenant'],
      ['output_minutes', 1.5, 1.5, 'tenant'],
    ]);
    expect(lines[0]!.amountMicros).toBe(350); // 3.5 s × 0.0001
    const events = await h.farm.ctx.db.select().from(billingOutbox);
    for (const c of lines) expect(events.filter((e) => e.eventId === c.id)).toHaveLength(1);
    const job = (await (await h.as('studio-l')).get(`/v1/jobs/${id}`)).body;
    expect(job.usage).toMatchObject({ cpu_seconds: 3.5, attempts_billed: 1 });
  });

  it('rates an increment that comes after its attempt ended on its own, once', async () => {
    const id = await newJob();
    await record(startedReport(id, 1));
    await record(endedReport(id, 1, 'succeeded', { sequence: 2, usage: { cpuSeconds: 1 } }));
    await record(usageReport(id, 1, 1, { cpuSeconds: 2 }));
    await record(usageReport(id, 1, 1, { cpuSeconds: 2 }));
    const lines = await chargesOf(id);
    expect(lines.map((c) => c.quantity).sort()).toEqual([1, 2]);
    expect(lines.find((c) => c.quantity === 2)!.id).toContain(':late:');
  });

  it('charges a lost worker\'s time to the platform, and a late end from it changes nothing', async () => {
    const id = await newJob();
    await record(startedReport(id, 1));
    await record(usageReport(id, 1, 1, { cpuSeconds: 4 }));
    await record(startedReport(id, 2)); // the job went to another worker: attempt 1 is lost
    await record(endedReport(id, 2, 'succeeded', { sequence: 1, usage: { cpuSeconds: 2 } }));
    await record(endedReport(id, 1, 'succeeded', { sequence: 2, usage: { cpuSeconds: 1 } }));
    const a = await attemptsOf(id);
    expect(a.map((x) => [x.attempt, x.billedTo])).toEqual([[1, 'platform'], [2, 'tenant']]);
    const lines = await chargesOf(id);
    expect(lines.filter((c) => c.billedTo === 'tenant').map((c) => [c.attempt, c.quantity])).toEqual([[2, 2]]);
    expect(lines.filter((c) => c.billedTo === 'platform').reduce((n, c) => n + c.quantity, 0)).toBe(5);
    expect(lines.find((c) => c.attempt === 1)!.reason).toContain('worker was lost');
  });

  it.each([
    ['failed', 'internal', 'platform'],
    ['failed', 'output_verification_failed', 'platform'],
    ['failed', 'media_unreadable', 'tenant'],
    ['failed', 'timeout', 'tenant'],
    ['canceled', 'canceled', 'tenant'],
  ] as const)('an attempt that %s with %s is billed to the %s', async (outcome, code, payer) => {
    const id = await newJob();
    await record(startedReport(id, 1));
    await record(endedReport(id, 1, outcome, { code, usage: { cpuSeconds: 1 } }));
    expect((await chargesOf(id)).map((c) => c.billedTo)).toEqual([payer]);
  });

  it('ends a job BullMQ gave up on (its workers kept vanishing): lost attempts are platform cost', async () => {
    const id = await newJob();
    await record(startedReport(id, 1));
    await record(usageReport(id, 1, 1, { cpuSeconds: 1 }));
    await failAbandoned(h.farm.ctx, id, 'job stalled more than allowable limit');
    const job = (await (await h.as('studio-l')).get(`/v1/jobs/${id}`)).body;
    expect(job).toMatchObject({ status: 'failed', error: { code: 'worker_lost' } });
    expect((await chargesOf(id)).map((c) => c.billedTo)).toEqual(['platform']);
  });
});

describe('storage', () => {
  it('charges GB-days for each finished day once', async () => {
    const tenant = (await (await h.as('studio-s')).get('/v1/usage')).body.tenant.id as string;
    const id = (await (await h.as('studio-s')).upload(new Uint8Array(3_000_000), 'application/octet-stream', 's.bin')).body.id;
    const now = new Date();
    await h.farm.ctx.db.update(files).set({ createdAt: new Date(now.getTime() - 2.5 * 86_400_000) }).where(eq(files.id, id));
    await meterStorage(h.farm.ctx.db, h.farm.ctx.config, now);
    await meterStorage(h.farm.ctx.db, h.farm.ctx.config, now);
    const lines = await h.farm.ctx.db.select().from(charges).where(eq(charges.tenantId, tenant));
    expect(lines.map((c) => [c.meter, c.quantity])).toEqual([
      ['storage_gb_days', 0.003],
      ['storage_gb_days', 0.003],
    ]);
    expect(new Set(lines.map((c) => c.id)).size).toBe(2);
  });
});

describe('the CloudEvents outbox', () => {
  it('delivers every charge once in order, again after a failure, each event with the charge\'s id', async () => {
    const received: Array<{ id: string; type: string; subject: string; specversion: string }> = [];
    let calls = 0;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        calls++;
        if (calls === 1) return res.writeHead(503).end('busy');
        expect(req.headers['content-type']).toBe('application/cloudevents-batch+json');
        received.push(...JSON.parse(body));
        res.writeHead(202).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/events`;
    const config = { ...h.farm.ctx.config, MALAN_BILLING_EXPORT_URL: url };
    try {
      await expect(exportOnce(h.farm.ctx.db, config)).rejects.toThrow(/503/);
      const sent = await exportOnce(h.farm.ctx.db, config);
      expect(await exportOnce(h.farm.ctx.db, config)).toBe(0);
      const all = await h.farm.ctx.db.select().from(charges);
      expect(sent).toBe(all.length);
      expect(received.map((e) => e.id).sort()).toEqual(all.map((c) => c.id).sort());
      expect(received[0]).toMatchObject({ specversion: '1.0', source: 'malan' });
      expect(received.every((e) => e.type.startsWith('malan.') && e.subject.startsWith('ten_'))).toBe(true);
    } finally {
      server.close();
    }
  });

  it('pages the outbox for operators, and refuses tenants', async () => {
    const op = await h.as('ops', true);
    const first = (await op.get('/v1/admin/billing/events?limit=2')).body;
    expect(first.events).toHaveLength(2);
    const rest = (await op.get(`/v1/admin/billing/events?after=${first.next_after}&limit=1000`)).body;
    const ids = [...first.events, ...rest.events].map((e: { id: string }) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await op.get('/v1/admin/billing/events?after=-1')).status).toBe(400);
    expect((await (await h.as('studio-l')).get('/v1/admin/billing/events')).status).toBe(403);
  });
});
