/**
 * The live queue's processor: one segment of a channel, into every rung, before its deadline.
 * Work past the deadline is worthless (the segment is already a gap), so a segment found late is
 * skipped and a running encode is stopped at the deadline. Rungs run side by side, one ffmpeg
 * each; a GPU path that fails steps down to the CPU for that rung, and says so.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Job } from 'bullmq';
import type { WorkerCapabilities } from '../src/capabilities/worker-capabilities.js';
import type { SegmentRungResult } from '../src/db/live-schema.js';
import { chooseLivePath, rungCommand, type LivePathChoice } from '../src/jobs/live/segment-plan.js';
import type { Logger } from '../src/logger.js';
import type { FfmpegRunOptions, FfmpegRunResult } from '../src/media/ffmpeg.js';
import type { LiveSegmentPayload, Report } from '../src/queue/messages.js';
import { download, uploadFile } from './http-transfer.js';
import type { Reporter } from './reporter.js';

export interface LiveProcessorDeps {
  workerId: string;
  caps: WorkerCapabilities;
  reporter: Reporter;
  log: Logger;
  killGraceMs: number;
  media: { runFfmpeg: (args: readonly string[], opts?: FfmpegRunOptions) => Promise<FfmpegRunResult> };
}

type Ended = Extract<Report, { type: 'live-segment-ended' }>;

export function createLiveSegmentProcessor(deps: LiveProcessorDeps) {
  return async (job: Job<LiveSegmentPayload>) => {
    const p = job.data;
    const log = deps.log.with({ channel: p.channelId, seq: p.seq, tenant: p.tenantId });
    const deadline = Date.parse(p.deadlineAt);
    const end = (fields: Pick<Ended, 'outcome' | 'path' | 'rungs' | 'error' | 'fallback'>) =>
      deps.reporter.send({ type: 'live-segment-ended', channelId: p.channelId, seq: p.seq, workerId: deps.workerId, at: new Date().toISOString(), ...fields });
    if (Date.now() >= deadline) {
      log.warn('live segment skipped: its deadline passed before it could start', { late_ms: Date.now() - deadline });
      return end({ outcome: 'skipped', path: 'none', rungs: [], error: 'the deadline passed before a worker took it', fallback: null });
    }
    await deps.reporter.send({ type: 'live-segment-started', channelId: p.channelId, seq: p.seq, workerId: deps.workerId, at: new Date().toISOString() });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort('deadline'), deadline - Date.now());
    const workDir = await mkdtemp(path.join(os.tmpdir(), `malan-live-${p.channelId}-${p.seq}-`));
    const choice = chooseLivePath(p.probe, deps.caps.videoAcceleration);
    let fallback: Ended['fallback'] = null;
    try {
      const source = path.join(workDir, `in-${p.seq}.ts`);
      await download(p.sourceUrl, source, controller.signal);
      const rungs = await Promise.all(
        p.rungs.map(async (rung): Promise<SegmentRungResult> => {
          const output = path.join(workDir, `out-${rung.name}-${p.seq}.ts`);
          const run = (c: LivePathChoice) => deps.media.runFfmpeg(rungCommand({ rung, source: p.probe, input: source, output, choice: c }), { signal: controller.signal, killGraceMs: deps.killGraceMs, onGpu: c.path !== 'cpu' });
          const started = performance.now();
          try {
            await run(choice);
          } catch (err) {
            if (controller.signal.aborted || choice.path === 'cpu' || rung.passthrough) throw err;
            fallback = { path: choice.path, error: (err as Error).message.slice(0, 500) };
            await run({ path: 'cpu', reason: `${choice.path} failed` });
          }
          const seconds = (performance.now() - started) / 1000;
          const res = await uploadFile(p.uploadUrls[rung.name]!, output, 'video/mp2t', controller.signal);
          if (!res.ok) throw new Error(`storing rung ${rung.name} failed: HTTP ${res.status} ${await res.text()}`);
          return { name: rung.name, seconds: Math.round(seconds * 1000) / 1000, bytes: (await stat(output)).size };
        }),
      );
      await end({ outcome: 'done', path: fallback ? 'cpu' : choice.path, rungs, error: null, fallback });
      log.info('live segment encoded', { path: choice.path, seconds: Math.max(...rungs.map((r) => r.seconds)), duration: p.duration });
    } catch (err) {
      const why = controller.signal.aborted ? `stopped at its deadline (${p.duration} s segment, ${((deadline - job.timestamp) / 1000).toFixed(1)} s budget)` : (err as Error).message.slice(0, 500);
      log.warn('live segment not encoded: it becomes a gap', { error: why });
      await end({ outcome: controller.signal.aborted ? 'skipped' : 'failed', path: choice.path, rungs: [], error: why, fallback });
    } finally {
      clearTimeout(timer);
      await rm(workDir, { recursive: true, force: true });
    }
  };
}
