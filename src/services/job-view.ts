/** The public shape of a job (DESIGN.md's contract), built from its row and usage. */
import type { JobRow } from '../db/schema.js';

export interface UsageSummary {
  wall_seconds: number;
  cpu_seconds: number;
  gpu_seconds: number;
  gpu_model: string | null;
  output_seconds: number;
  attempts_billed: number;
}

export function jobView(job: JobRow, usage: UsageSummary | null, baseUrl: string, playbackToken?: string) {
  const self = `${baseUrl}/v1/jobs/${job.id}`;
  const path = (name: string) => name.split('/').map(encodeURIComponent).join('/');
  return {
    id: job.id,
    kind: job.kind,
    name: job.name ?? null,
    status: job.status,
    progress: job.progress,
    priority: job.priority,
    input: job.input,
    // Named outputs are served under the job, so relative references between them (a master
    // playlist and its variants) resolve; the file id stays the way to fetch one alone.
    outputs: job.outputs.map((o) => ({
      ...o,
      url: o.name ? `${self}/outputs/${path(o.name)}` : `${baseUrl}/v1/files/${o.file}/content`,
      // Works without a key for a day: for players that cannot send one (Safari's HLS, VLC, a shared link).
      ...(o.name && playbackToken && { playback_url: `${baseUrl}/v1/playback/${playbackToken}/${path(o.name)}` }),
    })),
    usage: usage ?? { wall_seconds: 0, cpu_seconds: 0, gpu_seconds: 0, gpu_model: null, output_seconds: 0, attempts_billed: 0 },
    error: job.error ?? null,
    execution: job.execution ?? null,
    attempts: job.attempts,
    webhook: job.webhook ?? null,
    logs_url: `${self}/logs`,
    urls: { get: self, cancel: `${self}/cancel`, events: `${self}/events`, logs: `${self}/logs` },
    created_at: job.createdAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    completed_at: job.completedAt?.toISOString() ?? null,
  };
}
