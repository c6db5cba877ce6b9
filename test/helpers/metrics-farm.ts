/**
 * A farm with something to measure, for the metrics tests: a live worker heartbeat with the given
 * GPU readings, one job that ran and stepped down these fallbacks, and one job left queued.
 */
import type { GpuReading } from '../../src/capabilities/worker-capabilities.js';
import { channels } from '../../src/queue/messages.js';
import { recordReport } from '../../src/services/report-recorder.js';
import type { Harness } from './api-harness.js';

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
}
