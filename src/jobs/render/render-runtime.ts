/** What a render task runs with on the worker: the job runtime's doors, plus the renderer door and task reports. */
import type { JobRuntime } from '../job-runtime.js';
import type { RendererRunOptions, RendererRunResult } from '../../render/renderer-process.js';
import type { RenderTaskPayload } from '../../queue/messages.js';
import type { RenderInput } from './spec.js';

export interface RendererDoor {
  run(argv: readonly string[], opts: RendererRunOptions): Promise<RendererRunResult>;
}

export interface RenderTaskRuntime extends Omit<JobRuntime<RenderInput>, 'flow' | 'progress'> {
  task: RenderTaskPayload;
  renderer: RendererDoor;
  /** Frames done in this task, the task's fraction, and the newest preview's file id. */
  report(framesDone: number, fraction: number, previewFile?: string): void;
}

export interface TaskOutcome {
  outputs: Array<{ frame: number; file: string; name: string }>;
  previewFile?: string;
  secondsPerFrame?: number;
  cpuSeconds: number;
  execution: Record<string, unknown>;
}
