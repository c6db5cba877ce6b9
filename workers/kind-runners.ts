/** What a worker runs for each job kind: exhaustive over JobKind, and what each needs to run at all. */
import type { WorkerCapabilities } from '../src/capabilities/worker-capabilities.js';
import type { JobResult, JobRuntime } from '../src/jobs/job-runtime.js';
import type { JobKind } from '../src/jobs/registry.js';
import { runTranscode } from '../src/jobs/transcode/run.js';
import type { TranscodeInput } from '../src/jobs/transcode/spec.js';
import { runInference } from '../src/jobs/inference/run.js';
import type { InferenceInput } from '../src/jobs/inference/spec.js';

export interface KindRunner {
  /** Null when this worker can run the kind, else why not (shown to the operator). */
  cannotRun(caps: WorkerCapabilities): string | null;
  run(rt: JobRuntime<unknown>): Promise<JobResult>;
}

export const kindRunners: { [K in JobKind]: KindRunner } = {
  transcode: {
    cannotRun: (caps) => (caps.ffmpeg ? null : 'ffmpeg is not installed'),
    run: (rt) => runTranscode(rt as JobRuntime<TranscodeInput>),
  },
  inference: {
    cannotRun: (caps) => (caps.onnxRuntime ? null : 'onnxruntime-node could not load'),
    run: (rt) => runInference(rt as JobRuntime<InferenceInput>),
  },
  // Render jobs run as tasks (workers/render-task-processor.ts); ffmpeg assembles their frames.
  render: {
    cannotRun: (caps) => (caps.ffmpeg ? null : 'ffmpeg is not installed (it assembles rendered frames)'),
    run: () => Promise.reject(new Error('render jobs run task by task on the render queue, not as one job')),
  },
};
