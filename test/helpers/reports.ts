/** Worker reports built by hand, for tests that drive the recorder directly. */
import type { ExtraMeters } from '../../src/db/schema.js';
import type { JobErrorCode } from '../../src/jobs/job-error.js';
import type { Report, UsageReport } from '../../src/queue/messages.js';

export const usage = (u: Partial<UsageReport> & { meters?: ExtraMeters } = {}): UsageReport => ({ wallSeconds: 1, cpuSeconds: 1, gpuSeconds: 0, gpuModel: 'cpu', gpuUuid: null, outputSeconds: 0, ...u });

export const startedReport = (jobId: string, attempt: number, at = new Date()): Report => ({ type: 'attempt-started', jobId, attempt, workerId: `wrk_${attempt}`, at: at.toISOString() });

export const usageReport = (jobId: string, attempt: number, sequence: number, u: Partial<UsageReport> = {}, at = new Date()): Report => ({
  type: 'usage', jobId, attempt, sequence, workerId: `wrk_${attempt}`, at: at.toISOString(), usage: usage(u),
});

export function endedReport(
  jobId: string,
  attempt: number,
  outcome: 'succeeded' | 'failed' | 'canceled',
  opts: { code?: JobErrorCode; willRetry?: boolean; usage?: Partial<UsageReport>; sequence?: number; at?: Date } = {},
): Report {
  return {
    type: 'attempt-ended', jobId, attempt, workerId: `wrk_${attempt}`, at: (opts.at ?? new Date()).toISOString(), outcome, willRetry: opts.willRetry ?? false,
    error: outcome === 'succeeded' ? null : { code: opts.code ?? (outcome === 'canceled' ? 'canceled' : 'internal'), message: 'stopped' },
    outputs: [], usage: usage(opts.usage), ...(opts.sequence !== undefined && { usageSequence: opts.sequence }), execution: { path: 'cpu' },
  };
}
