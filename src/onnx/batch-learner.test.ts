import { describe, expect, test } from 'vitest';
import { BatchLearner } from './batch-learner.js';

/** Feeds the learner runs as a busy queue would: it asks limit(), runs that many rows, records. */
function drive(learner: BatchLearner, secondsFor: (rows: number) => number, runs: number, pending = 16) {
  const sizes: number[] = [];
  for (let i = 0; i < runs; i++) {
    const rows = Math.min(learner.limit(), pending);
    sizes.push(rows);
    learner.record(rows, secondsFor(rows));
  }
  return sizes;
}

describe('BatchLearner', () => {
  test('learning batches as usual but also runs items alone, until both have samples', () => {
    const learner = new BatchLearner({ maxSize: 16, minSamples: 3 });
    expect(learner.state).toBe('learning');
    const sizes = drive(learner, (rows) => 0.01 + 0.001 * rows, 5);
    expect(sizes).toEqual([1, 16, 1, 16, 1]);
    expect(learner.state).toBe('learning');
  });

  test('turns on where a batch is much cheaper per item (a small classifier: 2.2× at 16), preferring the best size', () => {
    const learner = new BatchLearner({ maxSize: 16, minSamples: 3 });
    // 10 ms per run of fixed cost + 1 ms per row: 11 ms alone, 1.6 ms per item at 16.
    drive(learner, (rows) => 0.01 + 0.001 * rows, 6);
    expect(learner.state).toBe('on');
    expect(learner.preferred).toBe(16);
    expect(learner.lastDecision!.gain).toBeCloseTo(11 / 1.625, 3);
    expect(drive(learner, (rows) => 0.01 + 0.001 * rows, 3)).toEqual([16, 16, 16]);
  });

  test('turns off where per-item time does not improve by 10% (conv-heavy super-resolution: 0.99×)', () => {
    const learner = new BatchLearner({ maxSize: 16, minSamples: 3 });
    drive(learner, (rows) => 0.036 * rows * (rows > 1 ? 1.01 : 1), 6);
    expect(learner.state).toBe('off');
    expect(learner.preferred).toBe(1);
    expect(learner.limit()).toBe(1);
    // 9% better is still not worth the wait.
    const marginal = new BatchLearner({ maxSize: 16, minSamples: 3 });
    drive(marginal, (rows) => 0.036 * rows * (rows > 1 ? 0.91 : 1), 6);
    expect(marginal.state).toBe('off');
  });

  test('a burst of other work during the runs alone does not make batching look good', () => {
    const learner = new BatchLearner({ maxSize: 16, minSamples: 3 });
    // Super-resolution: 36 ms per item either way, but two of the lone runs shared the cores.
    const alone = [0.064, 0.036, 0.07];
    let a = 0;
    drive(learner, (rows) => (rows === 1 ? alone[a++]! : 0.0364 * rows), 6);
    expect(learner.state).toBe('off');
    expect(learner.lastDecision!.gain).toBeCloseTo(0.036 / 0.0364, 3);
  });

  test('the fastest run counts: one slow first run at a new batch size does not decide', () => {
    const learner = new BatchLearner({ maxSize: 8, minSamples: 3 });
    let firstBatch = true;
    drive(learner, (rows) => {
      if (rows > 1 && firstBatch) {
        firstBatch = false;
        return 1; // the arena growing on the first batch of 8
      }
      return 0.01 + 0.001 * rows;
    }, 6);
    expect(learner.state).toBe('on');
  });

  test('the preferred size is maxSize unless a bigger bucket measured worse, then the best bucket\'s largest', () => {
    // Under light load only batches of 5 and 6 form (bucket 4–7): nothing says 16 is worse.
    const light = new BatchLearner({ maxSize: 16, minSamples: 2 });
    for (const pending of [1, 5, 1, 6]) {
      const rows = Math.min(light.limit(), pending);
      light.record(rows, rows === 1 ? 0.01 : 0.004 * rows);
    }
    expect([light.state, light.preferred, light.limit()]).toEqual(['on', 16, 16]);
    // Batches of 12 measured twice as dear per item as batches of 5–6: stay at 6.
    const measured = new BatchLearner({ maxSize: 16, minSamples: 2 });
    for (const [rows, perItem] of [[5, 0.004], [6, 0.004], [12, 0.008], [12, 0.008], [1, 0.01], [1, 0.01]] as const) measured.record(rows, perItem * rows);
    expect([measured.state, measured.preferred, measured.limit()]).toEqual(['on', 6, 6]);
  });

  test('re-learns after relearnAfterRuns, so a change of load or engine can flip it back', () => {
    const learner = new BatchLearner({ maxSize: 16, minSamples: 3, relearnAfterRuns: 10 });
    drive(learner, (rows) => 0.036 * rows, 6);
    expect(learner.state).toBe('off');
    drive(learner, (rows) => 0.036 * rows, 10);
    expect(learner.state).toBe('learning');
    expect(learner.limit()).toBe(1);
    // Now batches pay (another model's load left the GPU): it turns on.
    drive(learner, (rows) => 0.01 + 0.001 * rows, 6);
    expect(learner.state).toBe('on');
  });

  test('re-learns after relearnAfterMs as well', () => {
    let now = 0;
    const learner = new BatchLearner({ maxSize: 4, minSamples: 2, relearnAfterMs: 60_000, now: () => now });
    drive(learner, (rows) => 0.01 + 0.001 * rows, 4);
    expect(learner.state).toBe('on');
    now = 61_000;
    learner.record(4, 0.014);
    expect(learner.state).toBe('learning');
  });

  test('disable() turns batching off for good', () => {
    const learner = new BatchLearner({ maxSize: 16 });
    learner.disable("output 'y' has 1 rows for 2 input rows");
    expect(learner.state).toBe('off');
    expect(learner.limit()).toBe(1);
    drive(learner, (rows) => 0.01 + 0.001 * rows, 2000);
    expect(learner.state).toBe('off');
    expect(new BatchLearner({ maxSize: 1 }).state).toBe('off');
  });
});
