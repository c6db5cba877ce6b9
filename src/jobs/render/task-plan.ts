/**
 * A render job compiles into tasks: chunks of frames, in order, then one assembly task that
 * depends on all of them. Pure: the same input always gives the same tasks.
 */
import { frameNumbers, MAX_TASKS, type RenderInput } from './spec.js';

export interface PlannedTask {
  index: number;
  type: 'frames' | 'assembly';
  frameStart: number;
  frameEnd: number;
  frameStep: number;
}

/** Frames per task when the job names neither chunk_size nor task_seconds. */
export const DEFAULT_CHUNK_SIZE = 5;

/**
 * The first tasks of a job. With task_seconds, the first frame is rendered alone first: its time
 * sizes the rest (`chunkRest`), since no one knows a scene's time per frame before it renders.
 */
export function planTasks(input: RenderInput): PlannedTask[] {
  const frames = frameNumbers(input.frames);
  if (input.task_seconds !== undefined) return [task(0, frames.slice(0, 1), input.frames.step)];
  return chunk(frames, input.chunk_size ?? DEFAULT_CHUNK_SIZE, input.frames.step, 0);
}

/** The tasks after the measuring one, sized so that each takes about task_seconds. */
export function chunkRest(input: RenderInput, secondsPerFrame: number): PlannedTask[] {
  const frames = frameNumbers(input.frames).slice(1);
  const seconds = input.task_seconds ?? 0;
  const size = Math.max(1, Math.floor(seconds / Math.max(secondsPerFrame, 0.001)));
  return chunk(frames, size, input.frames.step, 1);
}

export function assemblyTask(index: number, input: RenderInput): PlannedTask {
  return { index, type: 'assembly', frameStart: input.frames.start, frameEnd: input.frames.end, frameStep: input.frames.step };
}

/** How many tasks a job would have: refused above MAX_TASKS before anything is created. */
export function taskCount(input: RenderInput): number {
  const frames = frameNumbers(input.frames).length;
  return Math.ceil(frames / (input.chunk_size ?? DEFAULT_CHUNK_SIZE)) + 1;
}

export { MAX_TASKS };

function chunk(frames: number[], size: number, step: number, firstIndex: number): PlannedTask[] {
  const out: PlannedTask[] = [];
  for (let i = 0; i < frames.length; i += size) out.push(task(firstIndex + out.length, frames.slice(i, i + size), step));
  return out;
}

function task(index: number, frames: number[], step: number): PlannedTask {
  return { index, type: 'frames', frameStart: frames[0]!, frameEnd: frames[frames.length - 1]!, frameStep: step };
}
