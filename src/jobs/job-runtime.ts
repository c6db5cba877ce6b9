/**
 * What a job kind's `run` receives from the worker: its input, the worker's capabilities, a work
 * directory, a signal that fires on cancel, timeout or shutdown, and the doors to the outside
 * (HTTP transfer, ffmpeg). Tests hand in real doors where cheap and strict fakes where not.
 */
import type { WorkerCapabilities } from '../capabilities/worker-capabilities.js';
import type { LogLine } from '../db/schema.js';
import type { FfmpegRunOptions, FfmpegRunResult } from '../media/ffmpeg.js';
import type { MediaProbe } from '../media/media-probe.js';
import type { ReportedOutput, UsageReport } from '../queue/messages.js';

export interface TransferDoor {
  /** Makes input `fileId` readable at `dest`: in place when this host has it, else over HTTP. */
  fetchInput(fileId: string, dest: string, signal: AbortSignal): Promise<{ bytes: number; via: 'local' | 'http' }>;
  /** Stores a finished output for this attempt; returns its file id. */
  upload(name: string, source: string, contentType: string, signal: AbortSignal): Promise<string>;
  /** Removes an output this attempt stored but must not keep (it failed verification). */
  discard(name: string, signal: AbortSignal): Promise<void>;
}

export interface MediaDoor {
  runFfmpeg(args: readonly string[], opts: FfmpegRunOptions): Promise<FfmpegRunResult>;
  probeMedia(file: string, opts: { signal?: AbortSignal }): Promise<MediaProbe>;
}

export interface JobRuntime<I> {
  jobId: string;
  attempt: number;
  input: I;
  caps: WorkerCapabilities;
  workDir: string;
  signal: AbortSignal;
  killGraceMs: number;
  transfer: TransferDoor;
  media: MediaDoor;
  log(level: LogLine['level'], msg: string): void;
  /** Fraction done, 0–1. */
  progress(fraction: number): void;
}

export interface JobResult {
  outputs: ReportedOutput[];
  usage: Omit<UsageReport, 'wallSeconds'>;
  /** What ran and why: shown on the job (path, reasons, fallbacks, probe). */
  execution: Record<string, unknown>;
}
