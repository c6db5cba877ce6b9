/** Parsers for what ffmpeg writes: `-progress` key=value blocks and the `-benchmark` line. */

export interface FfmpegProgress {
  /** Media time written so far, in seconds. */
  outTimeSeconds: number;
  frame: number | null;
  fps: number | null;
  /** Encoding speed relative to real time (1.5 = 1.5x). */
  speed: number | null;
  done: boolean;
}

/** Accumulates stdout chunks and yields one FfmpegProgress per `progress=` line. */
export class ProgressParser {
  private buffer = '';
  private block: Record<string, string> = {};

  push(chunk: string): FfmpegProgress[] {
    this.buffer += chunk;
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop() ?? '';
    const out: FfmpegProgress[] = [];
    for (const raw of lines) {
      const line = raw.trim();
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1);
      this.block[key] = value;
      if (key === 'progress') {
        out.push(toProgress(this.block));
        this.block = {};
      }
    }
    return out;
  }
}

function toProgress(b: Record<string, string>): FfmpegProgress {
  // out_time_us is microseconds (out_time_ms is too, despite its name); N/A before the first frame.
  const us = Number(b.out_time_us ?? b.out_time_ms);
  const speed = b.speed && b.speed !== 'N/A' ? Number.parseFloat(b.speed) : null;
  return {
    outTimeSeconds: Number.isFinite(us) && us > 0 ? us / 1e6 : 0,
    frame: b.frame !== undefined && Number.isFinite(Number(b.frame)) ? Number(b.frame) : null,
    fps: b.fps !== undefined && Number.isFinite(Number(b.fps)) ? Number(b.fps) : null,
    speed: speed !== null && Number.isFinite(speed) ? speed : null,
    done: b.progress === 'end',
  };
}

/** `bench: utime=0.062s stime=0.016s rtime=0.072s` → 0.078 (CPU seconds), else null. */
export function parseBenchLine(line: string): number | null {
  const m = /bench: utime=([\d.]+)s stime=([\d.]+)s/.exec(line);
  return m ? Number(m[1]) + Number(m[2]) : null;
}
