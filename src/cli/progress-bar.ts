/**
 * How `malan watch` shows a job on stderr: on a terminal, one line redrawn in place
 * (`[#####-----] 52% running 00:12`) with log lines printed above it; elsewhere (a file, a CI
 * log), plain lines, one when the status changes or the progress passes another tenth.
 */
export interface ProgressState {
  status: string;
  /** 0–1, as the API reports it. */
  progress: number;
  elapsedSeconds: number;
}

/** 12 → `00:12`, 3725 → `1:02:05`. */
export function formatElapsed(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  return h > 0 ? `${h}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}` : `${two(Math.floor(s / 60))}:${two(s % 60)}`;
}

export function percent(progress: number): number {
  return Math.floor(Math.min(1, Math.max(0, Number.isFinite(progress) ? progress : 0)) * 100);
}

/** `[#####-----] 52% running 00:12`, the bar `width` characters between the brackets. */
export function progressLine(state: ProgressState, width = 20): string {
  const filled = Math.round((percent(state.progress) / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent(state.progress)}% ${state.status} ${formatElapsed(state.elapsedSeconds)}`;
}

/** `52% running 00:12`: the plain line, without the bar. */
export function plainLine(state: ProgressState): string {
  return `${percent(state.progress)}% ${state.status} ${formatElapsed(state.elapsedSeconds)}`;
}

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class ProgressView {
  private state: ProgressState | null = null;
  private drawn = false;
  private lastPlain: { status: string; tenth: number } | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private finished = false;

  /** `elapsed` says how long the job has run, for the clock that ticks between events. */
  constructor(
    private readonly out: ProgressOutput,
    private readonly elapsed: () => number,
  ) {
    if (out.isTTY) this.ticker = setInterval(() => this.redraw(), 1000).unref();
  }

  update(status: string, progress: number): void {
    if (this.finished) return;
    this.state = { status, progress, elapsedSeconds: this.elapsed() };
    if (this.out.isTTY) return this.redraw();
    const tenth = Math.floor(percent(progress) / 10);
    if (this.lastPlain && this.lastPlain.status === status && this.lastPlain.tenth === tenth) return;
    this.lastPlain = { status, tenth };
    this.out.write(`${plainLine(this.state)}\n`);
  }

  /** A line of its own (a log line, a note), above the bar on a terminal. */
  print(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.redraw();
  }

  /** Leaves the bar's last state on its own line and stops the clock. */
  finish(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.finished = true;
    if (this.out.isTTY && this.drawn) this.out.write('\n');
    this.drawn = false;
  }

  private redraw(): void {
    if (!this.out.isTTY || !this.state || this.finished) return;
    this.state.elapsedSeconds = this.elapsed();
    const columns = this.out.columns || 80; // 0 on a terminal that does not say
    const line = progressLine(this.state, Math.max(10, Math.min(30, columns - 30)));
    // \r and "erase line": the bar is redrawn where it was; cut to the width so it never wraps.
    this.out.write(`\r\x1b[2K${line.slice(0, Math.max(1, columns - 1))}`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.out.isTTY && this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }
}
