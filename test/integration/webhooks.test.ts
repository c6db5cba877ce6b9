/**
 * Webhooks: signed in the Standard Webhooks shape, retried with backoff after a failure, with the
 * same id on every try; filtered by webhook_events_filter.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recordReport } from '../../src/services/report-recorder.js';
import { waitFor } from '../helpers/farm-processes.js';
import { apiHarness, type Harness } from '../helpers/api-harness.js';
import { ASSETS } from '../helpers/test-env.js';

let h: Harness;
const got: Array<{ headers: http.IncomingHttpHeaders; body: string; answered: number }> = [];
let failFirst = 0;
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const answered = failFirst-- > 0 ? 503 : 200;
    got.push({ headers: req.headers, body, answered });
    res.writeHead(answered).end();
  });
});
let hookUrl = '';

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  h = await apiHarness({ background: true });
});
afterAll(async () => {
  await h?.close();
  server.close();
});

async function finishedJob(filter?: string[]) {
  const a = await h.as('studio-a');
  const file = (await a.upload(readFileSync(path.join(ASSETS, 'video/flower.mp4')))).body.id;
  const id = (await a.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240 }, webhook: hookUrl, ...(filter && { webhook_events_filter: filter }) })).body.id as string;
  const at = new Date().toISOString();
  await recordReport(h.farm.ctx, { type: 'attempt-started', jobId: id, attempt: 1, workerId: 'wrk_t', at });
  await recordReport(h.farm.ctx, {
    type: 'attempt-ended', jobId: id, attempt: 1, workerId: 'wrk_t', at, outcome: 'succeeded', willRetry: false, error: null, outputs: [], execution: { path: 'cpu' },
    usage: { wallSeconds: 1, cpuSeconds: 1, gpuSeconds: 0, gpuModel: 'cpu', gpuUuid: null, outputSeconds: 1 },
  });
  return id;
}

it('retries a failed delivery with the same id and a valid signature each time', async () => {
  got.length = 0;
  failFirst = 1;
  const id = await finishedJob(['completed']);
  await waitFor(() => got.some((g) => g.answered === 200), 20_000, () => `deliveries: ${got.map((g) => g.answered).join(',')}`);
  expect(got.map((g) => g.answered)).toEqual([503, 200]);
  expect(new Set(got.map((g) => g.headers['webhook-id'])).size).toBe(1);
  const secret = (await (await h.as('studio-a')).get('/v1/webhooks/default/secret')).body.key as string;
  for (const g of got) {
    const mac = createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`${g.headers['webhook-id']}.${g.headers['webhook-timestamp']}.${g.body}`).digest('base64');
    expect(g.headers['webhook-signature']).toBe(`v1,${mac}`);
    expect(JSON.parse(g.body)).toMatchObject({ id, status: 'succeeded' });
  }
});

it('sends start and completed by default, only what the filter names otherwise', async () => {
  got.length = 0;
  failFirst = 0;
  const all = await finishedJob();
  await waitFor(() => got.length >= 2, 20_000, () => `got ${got.length}`);
  expect(got.map((g) => String(g.headers['webhook-id'])).sort()).toEqual([`msg_${all.slice(4)}_completed`, `msg_${all.slice(4)}_start`]);
});
