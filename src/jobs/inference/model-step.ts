/** What each task's steps share: the job, the inference door, the model handle and the label; and what they give back. */
import type { ReportedOutput } from '../../queue/messages.js';
import type { InferenceDoor, JobRuntime, OnnxRunner } from '../job-runtime.js';
import type { AigcLabel } from './aigc-label.js';
import type { InferenceInput } from './spec.js';

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
