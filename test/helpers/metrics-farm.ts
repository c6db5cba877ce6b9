/**
 * A farm with something to measure, for the metrics tests: a live worker heartbeat with the given
 * GPU readings, one job that ran and stepped down these fallbacks, one job left queued, and a live
 * channel with two segments published and one that missed its deadline.
 */
import type { GpuReading } from '../../src/capabilities/worker-capabilities.js';
import { channels } from '../../src/queue/messages.js';
import { recordReport } from '../../src/services/report-recorder.js';
import type { Harness } from './api-harness.js';
import { liveSegments } from '../../src/db/live-schema.js';

export async function seedMetricsFarm(h: Harness, opts: { hostname: string; gpus: GpuReading[]; fallbacks: Array<{ path: string; reason: string; error?: string }> }): Promise<void> {
  const beat = channels.workerHeartbeat(h.world.env.MALAN_QUEUE_PREFIX!, 'wrk_t4');
  await h.farm.ctx.redis.set(beat, JSON.stringify({ workerId: 'wrk_t4', hostname: opts.hostname, kinds: ['transcode'], jobs: [], gpus: opts.gpus }), 'EX', 600);
  const a = await h.as('studio-a');
  const file = (await a.upload(Buffer.from('z'.repeat(10)))).body.id;
  const id = (await a.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240 } })).body.id;
  const at = new Date().toISOString();
  await recordReport(h.farm.ctx, { type: 'attempt-started', jobId: id, attempt: 1, workerId: 'wrk_t4', at });
  await recordReport(h.farm.ctx, {
    type: 'attempt-ended', jobId: id, attempt: 1, workerId: 'wrk_t4', at, outcome: 'succeeded', willRetry: false, error: null, outputs: [],
    execution: { path: 'cpu', fallbacks: opts.fallbacks } as never,
    usage: { wallSeconds: 1, cpuSeconds: 1, gpuSeconds: 0, gpuModel: 'cpu', gpuUuid: null, outputSeconds: 1 },
  });
  await a.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 240 } }); // one left queued

  const channel = (await a.post('/v1/live/channels', {})).body.id as string;
  const t = (ms: number) => new Date(Date.now() - 60_000 + ms);
  const rungs = [{ name: '720p', seconds: 1.1, bytes: 900_000 }];
  await h.farm.ctx.db.insert(liveSegments).values([
    { channelId: channel, name: 's0.ts', seq: 0, status: 'published', duration: 2, arrivedAt: t(0), deadlineAt: t(3000), startedAt: t(50), publishedAt: t(1300), rungs },
    { channelId: channel, name: 's1.ts', seq: 1, status: 'published', duration: 2, arrivedAt: t(2000), deadlineAt: t(5000), startedAt: t(2040), publishedAt: t(3250), rungs },
    { channelId: channel, name: 's2.ts', seq: 2, status: 'gap', gapReason: 'deadline', duration: 2, arrivedAt: t(4000), deadlineAt: t(7000) },
  ]);
}
