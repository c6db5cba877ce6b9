/**
 * What travels through Redis. Job payloads go API → worker on the queue of their kind; reports go
 * worker → API on the `reports` queue and are recorded once each (their ids are deterministic).
 */
import type { JobErrorCode } from '../jobs/job-error.js';
import type { ExtraMeters, LogLine } from '../db/schema.js';
import type { ResolvedManifest } from '../models/manifest.js';
import type { LiveRung, SegmentProbe, SegmentRungResult } from '../db/live-schema.js';

export const QUEUE_NAMES = {
  transcode: 'transcode',
  inference: 'inference',
  reports: 'reports',
  /** Chunks of split jobs, encoded by any worker that takes the kind. */
  chunks: 'transcode-chunks',
  render: 'render',
  webhooks: 'webhooks',
  /** Live segments: their own queue, so a segment never waits behind batch work. */
  live: 'live',
  /** Live segments only workers with NVDEC for the source can keep up with (8K HEVC). */
  liveGpu: 'live-gpu',
} as const;

/** The data of a BullMQ job on a kind queue. Workers need nothing else: no database, no shared disk. */
export interface JobPayload {
  jobId: string;
  tenantId: string;
  kind: string;
  input: unknown;
  /** Signed GET URL for each input file id. */
  fileUrls: Record<string, string>;
  /**
   * Where each input lies on the API's disk (local storage only). A worker on the same host may
   * read it in place when the path holds a file of the same size (stored files never change);
   * any other worker fetches the URL.
   */
  localFiles?: Record<string, { path: string; size: number }>;
  /** Signed base URL for outputs: PUT `${uploadUrl}&name=<name>` (query carries the signature). */
  uploadUrl: string;
  timeoutSeconds: number;
  /** For inference: the model version to run and where its weights are. */
  model?: ModelPayload;
  /** Set when a job that fanned out is resumed: its attempt and what it saved. */
  flow?: { attempt: number; state: Record<string, unknown>; elapsedSeconds: number; usage?: { sequence: number; reported: { wallSeconds: number; cpuSeconds: number; gpuSeconds: number } } };
}

export interface ModelPayload {
  version: string;
  manifest: ResolvedManifest;
  /** Signed URL of the weights; `localPath` when they lie on this host's disk (read in place if the size matches). */
  weights: { url: string; sha256: string; size: number; localPath?: string };
}

/** The data of a chunk on the chunk queue: one piece of a split job, for any worker. */
export interface ChunkPayload {
  jobId: string;
  /** For the worker's log lines (pieces queued before it was added lack it). */
  tenantId?: string;
  attempt: number;
  index: number;
  total: number;
  /** Signed URL of the piece of source to encode. */
  url: string;
  /** The parent's input: each worker plans the chunk's encode from its own capabilities. */
  input: unknown;
  uploadUrl: string;
  timeoutSeconds: number;
}

/**
 * One task of a render job on the `render` queue: a chunk of frames, or the assembly of them all.
 * Its attempt number (usage ids, job_attempts) is `(index + 1) * 1000 + generation * 10 + run`.
 */
export interface RenderTaskPayload {
  jobId: string;
  tenantId: string;
  index: number;
  type: 'frames' | 'assembly';
  frameStart: number;
  frameEnd: number;
  frameStep: number;
  generation: number;
  /** The job's input (the worker validates it again). */
  input: unknown;
  /** The operator template the job names, resolved at submission (null for Blender). */
  template: unknown;
  fileUrls: Record<string, string>;
  localFiles?: Record<string, { path: string; size: number }>;
  uploadUrl: string;
  timeoutSeconds: number;
  /** For the assembly: every rendered frame, in order, and where to fetch it. */
  frames?: Array<{ frame: number; url: string; name: string }>;
}

/** One segment of a live channel on the `live` queue: transcode it into every rung before its deadline. */
export interface LiveSegmentPayload {
  channelId: string;
  tenantId: string;
  seq: number;
  duration: number;
  /** Signed GET of the source segment. */
  sourceUrl: string;
  deadlineAt: string;
  rungs: LiveRung[];
  probe: SegmentProbe;
  /** Signed PUT per rung name. */
  uploadUrls: Record<string, string>;
}

export const renderAttempt = (index: number, generation: number, run: number) => (index + 1) * 1000 + generation * 10 + Math.min(run, 9);

export interface UsageReport {
  wallSeconds: number;
  cpuSeconds: number;
  gpuSeconds: number;
  gpuModel: string; // "cpu" when no GPU did the work
  gpuUuid: string | null;
  outputSeconds: number;
  /** What the kind measured besides compute (renditions transcoded, frames, predictions). */
  meters?: ExtraMeters;
}

export interface ReportedOutput {
  file: string;
  role: string;
  /** For a rendition of a ladder: which rung it is. */
  rendition?: OutputRendition;
}

export interface OutputRendition {
  name: string;
  width: number;
  height: number;
  codec: string;
  bitrate: number;
}

export type Report =
  | { type: 'attempt-started'; jobId: string; attempt: number; workerId: string; at: string }
  | { type: 'progress'; jobId: string; attempt: number; progress: number; at: string }
  | { type: 'log'; jobId: string; attempt: number; sequence: number; lines: LogLine[] }
  | {
      type: 'attempt-ended';
      jobId: string;
      attempt: number;
      workerId: string;
      at: string;
      outcome: 'succeeded' | 'failed' | 'canceled';
      /** For failures: whether BullMQ will run another attempt. */
      willRetry: boolean;
      error: { code: JobErrorCode; message: string } | null;
      outputs: ReportedOutput[];
      /** A prediction's output (JSON; files as `{"$file": id}`). */
      output?: unknown;
      /** What the attempt used since its last usage report (all of it when it sent none). */
      usage: UsageReport;
      /** The sequence number of that last piece of usage (increments took 1…n-1); 0 when absent. */
      usageSequence?: number;
      execution: Record<string, unknown>;
    }
  | { type: 'task-started'; jobId: string; index: number; generation: number; attempt: number; workerId: string; at: string }
  | { type: 'task-progress'; jobId: string; index: number; attempt: number; framesDone: number; progress: number; previewFile?: string; at: string }
  | {
      type: 'task-ended';
      jobId: string;
      index: number;
      generation: number;
      attempt: number;
      workerId: string;
      at: string;
      outcome: 'succeeded' | 'failed' | 'canceled';
      error: { code: JobErrorCode; message: string } | null;
      /** Frames rendered (or, for the assembly, the preview and its poster). */
      outputs: Array<{ frame: number; file: string; name: string }>;
      previewFile?: string;
      secondsPerFrame?: number;
      usage: UsageReport;
      usageSequence?: number;
      execution: Record<string, unknown>;
    }
  /** A running attempt's usage since its previous report: a crash still leaves the time counted. */
  | { type: 'usage'; jobId: string; attempt: number; workerId: string; sequence: number; at: string; usage: UsageReport }
  | { type: 'live-segment-started'; channelId: string; seq: number; workerId: string; at: string }
  | {
      type: 'live-segment-ended';
      channelId: string;
      seq: number;
      workerId: string;
      at: string;
      /** skipped: past its deadline before a worker could start it (not worth encoding). */
      outcome: 'done' | 'failed' | 'skipped';
      path: string;
      rungs: SegmentRungResult[];
      error: string | null;
      /** A GPU path that failed and stepped down to the CPU, with why. */
      fallback: { path: string; error: string } | null;
    }
  | { type: 'worker-up'; workerId: string; hostname: string; pid: number; kinds: string[]; capabilities: unknown; at: string }
  | { type: 'worker-down'; workerId: string; at: string };

/** A BullMQ job id for a report: duplicates of the same report collapse while it is in Redis. */
export function reportId(r: Report): string | undefined {
  switch (r.type) {
    case 'attempt-started':
      return `started.${r.jobId}.${r.attempt}`;
    case 'attempt-ended':
      return `ended.${r.jobId}.${r.attempt}`;
    case 'log':
      return `log.${r.jobId}.${r.attempt}.${r.sequence}`;
    case 'usage':
      return `usage.${r.jobId}.${r.attempt}.${r.sequence}`;
    case 'task-started':
      return `task-started.${r.jobId}.${r.attempt}`;
    case 'task-ended':
      return `task-ended.${r.jobId}.${r.attempt}`;
    case 'live-segment-ended':
      return `live-ended.${r.channelId}.${r.seq}`;
    default:
      return undefined; // progress and worker events are fine to record twice
  }
}

/** Redis channels and keys outside BullMQ. */
export const channels = {
  /** API → workers: a job id to stop now. */
  cancel: (prefix: string) => `${prefix}:cancel`,
  /** Set while a render job is paused: workers put its tasks back instead of starting them. */
  pausedKey: (prefix: string, jobId: string) => `${prefix}:paused:${jobId}`,
  /** Workers blocklisted for a render job (a set of worker ids). */
  blocklistKey: (prefix: string, jobId: string) => `${prefix}:render-blocklist:${jobId}`,
  /** Set when a job is canceled, so that a worker dequeuing it later does not start it. */
  canceledKey: (prefix: string, jobId: string) => `${prefix}:canceled:${jobId}`,
  /** API → SSE listeners in every API process: a job's status, progress, log lines. */
  jobEvents: (prefix: string, jobId: string) => `${prefix}:job-events:${jobId}`,
  /** Live worker state, refreshed by the heartbeat, gone when the worker is. */
  workerHeartbeat: (prefix: string, workerId: string) => `${prefix}:worker:${workerId}`,
};
