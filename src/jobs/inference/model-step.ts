/** What each task's steps share: the job, the inference door, the model handle and the label; and what they give back. */
import path from 'node:path';
import type { ReportedOutput } from '../../queue/messages.js';
import { JobError } from '../job-error.js';
import type { InferenceDoor, JobRuntime, OnnxRunner } from '../job-runtime.js';
import type { AigcLabel } from './aigc-label.js';
import type { InferenceInput, MediaRef } from './spec.js';

export type ModelHandle = Parameters<OnnxRunner['run']>[0];

export interface ModelStep {
  rt: JobRuntime<InferenceInput>;
  door: InferenceDoor;
  handle: ModelHandle;
  label: AigcLabel;
}

export interface StepResult {
  outputs: ReportedOutput[];
  output: unknown;
  provider: 'tensorrt' | 'cuda' | 'cpu';
  /** Time inside ONNX Runtime sessions for this job's items (a batch's time shared by its items). */
  predictSeconds: number;
  /** CPU time outside the session that processes spent (ffmpeg for video). */
  cpuSeconds: number;
  batchSize: number;
  outputSeconds?: number;
  extra?: Record<string, unknown>;
}

/** A media input on this worker's disk: the tenant's file over the job's signed URL, or an outside URL through the guard. */
export async function fetchMedia(rt: JobRuntime<InferenceInput>, door: InferenceDoor, name: string): Promise<string> {
  const ref = rt.input.inputs[name] as MediaRef | undefined;
  if (!ref || typeof ref !== 'object') throw new JobError('invalid_input', `input "${name}" is missing`);
  const dest = path.join(rt.workDir, `input-${name}`);
  if ('file' in ref) await rt.transfer.fetchInput(ref.file, dest, rt.signal);
  else await door.fetchOutside(ref.url, dest, rt.signal, door.limits.maxInputBytes);
  return dest;
}
