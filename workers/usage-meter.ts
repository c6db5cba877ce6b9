/**
 * Meters one attempt while it runs and reports its usage in increments (every
 * MALAN_USAGE_INTERVAL_SECONDS), each with the next sequence number, so a worker that dies
 * mid-job still leaves the time it used counted, and a duplicate report counts once.
 *
 * CPU time: ffmpeg processes started through the media door are read from /proc/<pid>/stat while
 * they run, and counted as the kernel charged them when they end (src/media/child-cpu.ts), ffprobe
 * runs included; GPU time: wall time of the
 * runs the plan put on a GPU. At the end the kind's own totals (which also hold work done
 * elsewhere: pieces on other workers, ONNX in a thread) are reconciled with what was metered,
 * and the remainder goes out with the attempt's end.
 */
import { readFile } from 'node:fs/promises';
import type { MediaDoor } from '../src/jobs/job-runtime.js';
import type { RendererDoor } from '../src/jobs/render/render-runtime.js';
import { clockTicksPerSecond } from '../src/media/child-cpu.js';
import { FfmpegError } from '../src/media/ffmpeg.js';
import type { UsageReport } from '../src/queue/messages.js';

export interface MeterTotals {
  wallSeconds: number;
  cpuSeconds: number;
  gpuSeconds: number;
}

/** What has been reported so far: saved with a job that waits for its pieces, so its resumed run goes on from there. */
export interface MeterState {
  sequence: number;
  reported: MeterTotals;
}

export interface UsageMeterOptions {
  /** performance.now() when the attempt started (earlier for a resumed run, by the time already spent). */
  startedAt: number;
  intervalMs: number;
  /** The GPU this worker runs its GPU paths on, if any. */
  gpu: { name: string; uuid: string } | null;
  state?: MeterState;
  send(sequence: number, usage: UsageReport, at: string): Promise<void>;
}

interface LiveProcess {
  cpuSeconds: number;
  onGpu: boolean;
  startedAt: number;
}

export class UsageMeter {
  private finishedCpu = 0;
  private finishedGpu = 0;
  private readonly live = new Map<number, LiveProcess>();
  private state: MeterState;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: UsageMeterOptions) {
    this.state = opts.state ?? { sequence: 0, reported: { wallSeconds: 0, cpuSeconds: 0, gpuSeconds: 0 } };
  }

  /** The media door with every ffmpeg run metered. */
  media(door: MediaDoor): MediaDoor {
    return {
      // ffprobe is part of the job's work too (reading the source, verifying what was made).
      probeMedia: (file, o) =>
        door.probeMedia(file, {
          ...o,
          onCpu: (seconds) => {
            this.finishedCpu += seconds;
            o.onCpu?.(seconds);
          },
        }),
      runFfmpeg: (args, o) => this.metered(o.onGpu ?? false, o.onSpawn, (onSpawn) => door.runFfmpeg(args, { ...o, onSpawn })),
    };
  }

  /** The renderer door with every process metered the same way. */
  renderer(door: RendererDoor): RendererDoor {
    return { run: (argv, o) => this.metered(false, o.onSpawn, (onSpawn) => door.run(argv, { ...o, onSpawn })) };
  }

  /**
   * One child process metered: read from /proc while it runs, counted as the kernel charged it
   * when it ends (a failed or stopped ffmpeg carries its count on the error, else its last reading
   * stands), its wall time as GPU time when it ran on one.
   */
  private async metered<R extends { cpuSeconds: number }>(onGpu: boolean, callerOnSpawn: ((pid: number) => void) | undefined, run: (onSpawn: (pid: number) => void) => Promise<R>): Promise<R> {
    let pid: number | undefined;
    const startedAt = performance.now();
    try {
      const result = await run((p) => {
        pid = p;
        this.live.set(p, { cpuSeconds: 0, onGpu, startedAt });
        callerOnSpawn?.(p);
      });
      this.finishedCpu += result.cpuSeconds;
      return result;
    } catch (err) {
      const counted = err instanceof FfmpegError ? err.cpuSeconds : null;
      if (pid !== undefined) this.finishedCpu += counted ?? this.live.get(pid)?.cpuSeconds ?? 0;
      throw err;
    } finally {
      if (pid !== undefined) this.live.delete(pid);
      if (onGpu) this.finishedGpu += (performance.now() - startedAt) / 1000;
    }
  }

  start(): void {
    this.timer ??= setInterval(() => this.queueReport(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** Stops the increments and waits for the one in flight; the state is then exact. */
  async pause(): Promise<MeterState> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.chain;
    return structuredClone(this.state);
  }

  /**
   * The attempt's last piece of usage, to send with its end: the totals (the kind's own where it
   * counted more than the meter saw) less what the increments reported.
   */
  async finish(kindUsage: Partial<UsageReport>): Promise<{ usage: UsageReport; sequence: number }> {
    await this.pause();
    const measured = await this.totals();
    const totals = {
      wallSeconds: measured.wallSeconds,
      cpuSeconds: Math.max(measured.cpuSeconds, kindUsage.cpuSeconds ?? 0),
      gpuSeconds: Math.max(measured.gpuSeconds, kindUsage.gpuSeconds ?? 0),
    };
    const usage: UsageReport = {
      gpuModel: 'cpu',
      gpuUuid: null,
      outputSeconds: 0,
      ...kindUsage,
      ...minus(totals, this.state.reported),
    };
    if (usage.gpuSeconds > 0 && usage.gpuModel === 'cpu' && this.opts.gpu) Object.assign(usage, { gpuModel: this.opts.gpu.name, gpuUuid: this.opts.gpu.uuid });
    this.state = { sequence: this.state.sequence + 1, reported: totals };
    return { usage, sequence: this.state.sequence };
  }

  /** Reports what was used since the last report (serialised; a failed send is tried again with the same sequence). */
  private queueReport(): void {
    this.chain = this.chain.then(async () => {
      const totals = await this.totals();
      const delta = minus(totals, this.state.reported);
      if (delta.wallSeconds <= 0) return;
      const gpu = delta.gpuSeconds > 0 ? this.opts.gpu : null;
      const sequence = this.state.sequence + 1;
      try {
        await this.opts.send(sequence, { ...delta, gpuModel: gpu?.name ?? 'cpu', gpuUuid: gpu?.uuid ?? null, outputSeconds: 0 }, new Date().toISOString());
        this.state = { sequence, reported: totals };
      } catch {
        // Redis unreachable: the next tick sends this time again, under the same sequence.
      }
    });
  }

  private async totals(): Promise<MeterTotals> {
    const now = performance.now();
    let cpu = this.finishedCpu;
    let gpu = this.finishedGpu;
    for (const [pid, p] of this.live) {
      const read = await processCpuSeconds(pid);
      if (read !== null && read > p.cpuSeconds) p.cpuSeconds = read;
      cpu += p.cpuSeconds;
      if (p.onGpu) gpu += (now - p.startedAt) / 1000;
    }
    // Never less than reported: a process that ended between two readings is not counted twice or lost.
    const r = this.state.reported;
    return { wallSeconds: Math.max(r.wallSeconds, (now - this.opts.startedAt) / 1000), cpuSeconds: Math.max(r.cpuSeconds, cpu), gpuSeconds: Math.max(r.gpuSeconds, gpu) };
  }
}

function minus(a: MeterTotals, b: MeterTotals): MeterTotals {
  const d = (x: number, y: number) => Math.max(0, Math.round((x - y) * 1e6) / 1e6);
  return { wallSeconds: d(a.wallSeconds, b.wallSeconds), cpuSeconds: d(a.cpuSeconds, b.cpuSeconds), gpuSeconds: d(a.gpuSeconds, b.gpuSeconds) };
}

/** User + system CPU seconds of a running process (all its threads), from /proc; null where there is none. */
export async function processCpuSeconds(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  return parseProcStat(stat, clockTicksPerSecond);
}

/** utime and stime are fields 14 and 15, counted after the command name (which may hold spaces and parentheses). */
export function parseProcStat(stat: string, ticks: number): number | null {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / ticks : null;
}
