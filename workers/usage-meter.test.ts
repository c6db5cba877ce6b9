import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { MediaDoor } from '../src/jobs/job-runtime.js';
import type { UsageReport } from '../src/queue/messages.js';
import { parseProcStat, UsageMeter } from './usage-meter.js';

// Recorded from /proc/<pid>/stat of an ffmpeg whose name holds a space and a parenthesis.
const STAT = '4242 (ffmpeg (x) y) S 1 4242 4242 0 -1 4194560 1915 0 0 0 250 37 0 0 20 0 9 0 123456 1000000 5000 18446744073709551615';

describe('parseProcStat', () => {
  it('reads utime + stime after the command name', () => {
    expect(parseProcStat(STAT, 100)).toBeCloseTo(2.87, 6);
  });
});

/** A media door whose "ffmpeg" is a real process burning CPU for `ms`, reporting its CPU like -benchmark would. */
function busyDoor(ms: number, reportedCpu: number): MediaDoor {
  return {
    probeMedia: async () => {
      throw new Error('not used');
    },
    runFfmpeg: (_args, o) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['-e', `const end = Date.now() + ${ms}; while (Date.now() < end) {}`]);
        o.onSpawn?.(child.pid!);
        child.on('exit', (code) => (code === 0 ? resolve({ wallSeconds: ms / 1000, cpuSeconds: reportedCpu }) : reject(new Error(`exit ${code}`))));
      }),
  };
}

describe('UsageMeter', () => {
  it('reports a running process in numbered increments, then the remainder with the end', async () => {
    const sent: Array<{ sequence: number; usage: UsageReport }> = [];
    const meter = new UsageMeter({ startedAt: performance.now(), intervalMs: 200, gpu: null, send: async (sequence, usage) => void sent.push({ sequence, usage }) });
    meter.start();
    await meter.media(busyDoor(1200, 1.25)).runFfmpeg(['-i', 'x', 'y'], {});
    const last = await meter.finish({ cpuSeconds: 1.25, outputSeconds: 3, meters: { predictions: 1 } });
    expect(sent.length).toBeGreaterThanOrEqual(3);
    expect(sent.map((s) => s.sequence)).toEqual(sent.map((_, i) => i + 1));
    expect(last.sequence).toBe(sent.length + 1);
    // While it ran, its CPU time was read from /proc and reported.
    const duringRun = sent.reduce((n, s) => n + s.usage.cpuSeconds, 0);
    expect(duringRun).toBeGreaterThan(0.5);
    // In all: exactly the process's own figure, however it was split.
    expect(duringRun + last.usage.cpuSeconds).toBeCloseTo(1.25, 5);
    expect(last.usage).toMatchObject({ outputSeconds: 3, meters: { predictions: 1 }, gpuModel: 'cpu' });
    const wall = sent.reduce((n, s) => n + s.usage.wallSeconds, 0) + last.usage.wallSeconds;
    expect(wall).toBeGreaterThan(1.1);
  });

  it('sends a failed increment again under the same sequence', async () => {
    const tries: number[] = [];
    let fail = true;
    const meter = new UsageMeter({
      startedAt: performance.now(),
      intervalMs: 100,
      gpu: null,
      send: async (sequence) => {
        tries.push(sequence);
        if (fail) {
          fail = false;
          throw new Error('redis down');
        }
      },
    });
    meter.start();
    await new Promise((r) => setTimeout(r, 450));
    await meter.finish({});
    expect(tries[0]).toBe(1);
    expect(tries[1]).toBe(1);
    expect(tries.slice(1)).toEqual(tries.slice(1).map((_, i) => i + 1));
  });

  it('goes on from a saved state: a resumed run never reuses a sequence number or counts time twice', async () => {
    const sent: number[] = [];
    const state = { sequence: 4, reported: { wallSeconds: 10, cpuSeconds: 5, gpuSeconds: 0 } };
    const meter = new UsageMeter({ startedAt: performance.now() - 12_000, intervalMs: 50, gpu: null, state, send: async (s) => void sent.push(s) });
    const last = await meter.finish({ cpuSeconds: 6 });
    expect(last.sequence).toBe(5);
    expect(last.usage.cpuSeconds).toBeCloseTo(1, 6);
    expect(last.usage.wallSeconds).toBeGreaterThanOrEqual(2);
    expect(sent).toEqual([]);
  });

  it('meters a run on a GPU as GPU time of this worker\'s GPU', async () => {
    const meter = new UsageMeter({ startedAt: performance.now(), intervalMs: 10_000, gpu: { name: 'NVIDIA L4', uuid: 'GPU-1' }, send: async () => {} });
    await meter.media(busyDoor(300, 0.3)).runFfmpeg(['-i', 'x', 'y'], { onGpu: true });
    const last = await meter.finish({});
    expect(last.usage.gpuSeconds).toBeGreaterThan(0.25);
    expect(last.usage).toMatchObject({ gpuModel: 'NVIDIA L4', gpuUuid: 'GPU-1' });
  });
});
