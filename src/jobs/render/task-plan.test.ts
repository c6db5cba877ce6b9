import { describe, expect, it } from 'vitest';
import { renderInputSchema, type RenderInput } from './spec.js';
import { assemblyTask, chunkRest, planTasks, taskCount } from './task-plan.js';

const input = (over: Record<string, unknown>): RenderInput =>
  renderInputSchema.parse({ scene: { file: 'file_0123456789abcdefghjkmnpqrs' }, renderer: 'blender', frames: { start: 1, end: 24 }, ...over });

describe('planTasks', () => {
  it('splits the range into chunks of chunk_size frames, the last one shorter', () => {
    const tasks = planTasks(input({ frames: { start: 1, end: 10 }, chunk_size: 4 }));
    expect(tasks.map((t) => [t.index, t.frameStart, t.frameEnd])).toEqual([[0, 1, 4], [1, 5, 8], [2, 9, 10]]);
    expect(assemblyTask(3, input({}))).toMatchObject({ index: 3, type: 'assembly', frameStart: 1, frameEnd: 24 });
  });

  it('keeps a step: every other frame', () => {
    const tasks = planTasks(input({ frames: { start: 1, end: 9, step: 2 }, chunk_size: 2 }));
    expect(tasks.map((t) => [t.frameStart, t.frameEnd, t.frameStep])).toEqual([[1, 3, 2], [5, 7, 2], [9, 9, 2]]);
  });

  it('with task_seconds renders one frame first, then sizes the rest by its time', () => {
    const i = input({ frames: { start: 1, end: 100 }, task_seconds: 30 });
    expect(planTasks(i).map((t) => [t.frameStart, t.frameEnd])).toEqual([[1, 1]]);
    const rest = chunkRest(i, 4); // 4 s a frame → 7 frames a task
    expect(rest[0]).toMatchObject({ index: 1, frameStart: 2, frameEnd: 8 });
    expect(rest.at(-1)!.frameEnd).toBe(100);
    expect(rest.reduce((n, t) => n + (t.frameEnd - t.frameStart + 1), 0)).toBe(99);
  });

  it('counts tasks before compiling them', () => {
    expect(taskCount(input({ frames: { start: 1, end: 100_000 }, chunk_size: 1 }))).toBe(100_001);
  });

  it.each([
    [{ frames: { start: 5, end: 1 } }, /end is before start/],
    [{ frames: { start: 0, end: 10_000_000 } }, /at most|more than/],
    [{ chunk_size: 0 }, /chunk_size/],
    [{ chunk_size: 2, task_seconds: 10 }, /not both/],
    [{ renderer: 'Blender; rm -rf /' }, /renderer/],
    [{ blender: { scene: "x'); import os; os.system('id" } }, /scene/],
  ])('refuses %j', (over, message) => {
    const r = renderInputSchema.safeParse({ scene: { file: 'file_0123456789abcdefghjkmnpqrs' }, renderer: 'blender', frames: { start: 1, end: 24 }, ...over });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(message);
  });

  it('keeps the smallest input of the design valid', () => {
    expect(renderInputSchema.safeParse({ scene: { file: 'file_0123456789abcdefghjkmnpqrs' }, renderer: 'blender', frames: { start: 1, end: 24 }, chunk_size: 4 }).success).toBe(true);
  });
});
