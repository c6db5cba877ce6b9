/**
 * What a job kind's `run` receives from the worker: its input, the worker's capabilities, a work
 * directory, a signal that fires on cancel, timeout or shutdown, and the doors to the outside
 * (HTTP transfer, ffmpeg). Tests hand in real doors where cheap and strict fakes where not.
 */
import type { WorkerCapabilities } from '../capabilities/worker-capabilities.js';
import type { LogLine } from '../db/schema.js';
import type { FfmpegRunOptions, FfmpegRunResult } from '../media/ffmpeg.js';
import type { MediaProbe } from '../media/media-probe.js';
import type { ModelPayload, ReportedOutput, UsageReport } from '../queue/messages.js';
import type { TensorMap } from '../onnx/tensor.js';

export interface TransferDoor {
  /** Makes input `fileId` readable at `dest`: in place when this host has it, else over HTTP. */
  fetchInput(fileId: string, dest: string, signal: AbortSignal): Promise<{ bytes: number; via: 'local' | 'http' }>;
  /** Stores a finished output for this attempt; returns its file id. */
  upload(name: string, source: string, contentType: string, signal: AbortSignal): Promise<string>;
  /** Stores a file for other workers of this job (a chunk); returns its id and a signed URL to read it. */
  share(name: string, source: string, contentType: string, signal: AbortSignal): Promise<{ file: string; url: string }>;
  /** Fetches a file another worker shared (a signed URL) to `dest`. */
  fetchUrl(url: string, dest: string, signal: AbortSignal): Promise<number>;
  /** Removes an output this attempt stored but must not keep (it failed verification). */
  discard(name: string, signal: AbortSignal): Promise<void>;
}

export interface MediaDoor {
  runFfmpeg(args: readonly string[], opts: FfmpegRunOptions): Promise<FfmpegRunResult>;
  probeMedia(file: string, opts: { signal?: AbortSignal; onCpu?: (seconds: number) => void }): Promise<MediaProbe>;
}

/**
 * A job that fans out (split-and-stitch): it saves its state, queues children on the chunk queue
 * and is suspended until they finish; then it runs again from the top with that state.
 */
export interface FlowDoor {
  /** What the job saved before it was suspended; null on its first run. */
  state: Record<string, unknown> | null;
  /** Saves `state`, queues the children and suspends the job; returns at once if they are all done already. */
  suspendForChildren(state: Record<string, unknown>, children: Array<Record<string, unknown>>): Promise<void>;
  /** The children's return values. */
  childResults<T>(): Promise<T[]>;
}

/** The part of the ONNX door (src/onnx/onnx-door.ts) that job code uses. */
export interface OnnxRunner {
  readonly providers: ReadonlyArray<'tensorrt' | 'cuda' | 'cpu'>;
  readonly fallbackReasons: readonly string[];
  run(
    model: { key: string; path: string; batch?: { maxSize: number; maxDelayMs: number } | null },
    feeds: TensorMap,
    opts?: { signal?: AbortSignal },
  ): Promise<{ outputs: TensorMap; batchSize: number; seconds: number; provider: 'tensorrt' | 'cuda' | 'cpu' }>;
}

/** What an inference job runs with: its model, this worker's ONNX door, and the way to outside inputs. */
export interface InferenceDoor {
  model: ModelPayload;
  onnx: OnnxRunner;
  /** The model's weights on this worker's disk (cached by sha256, checked once). */
  weightsPath(signal: AbortSignal): Promise<string>;
  /** Fetches an outside http(s) URL to `dest`, refusing private addresses (unless allow-listed) and more than `maxBytes`. */
  fetchOutside(url: string, dest: string, signal: AbortSignal, maxBytes: number): Promise<number>;
  limits: { maxImagePixels: number; maxVideoFrames: number; maxInputBytes: number };
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
  /** Set for inference jobs. */
  inference?: InferenceDoor;
  /** Null where the job cannot fan out (a chunk itself, tests). */
  flow: FlowDoor | null;
  log(level: LogLine['level'], msg: string): void;
  /** Fraction done, 0–1. */
  progress(fraction: number): void;
}

export interface JobResult {
  outputs: ReportedOutput[];
  usage: Omit<UsageReport, 'wallSeconds'>;
  /** A prediction's output, JSON (files as `{"$file": id}` of outputs above). */
  output?: unknown;
  /** What ran and why: shown on the job (path, reasons, fallbacks, probe). */
  execution: Record<string, unknown>;
}
