/**
 * CPU time of child processes as the kernel counts it, from exec to exit. ffmpeg's own
 * `-benchmark` starts its clock after loading, parsing options and opening files and stops it
 * before cleanup: 50–80 ms a run it never reports, 10% of a ladder's remuxes and thumbnails.
 *
 * Linux adds a child's user and system time to its parent's cutime/cstime when the parent reaps
 * it, and Node reaps children as soon as they exit. So every child this process starts is
 * observed here, and /proc/self/stat is read once after each batch of exits (the same turn of the
 * event loop): the growth since the previous reading belongs to the children of that batch. Two
 * or more in one batch share it in proportion to their own figures. Readings are in clock ticks
 * (10 ms), but successive readings telescope: a job's runs add up to within a tick or two.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second (CLK_TCK): read before the baseline, since this spawnSync is a child too. */
const TICKS = (() => {
  const n = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

export const clockTicksPerSecond = TICKS;

/** User + system seconds of this process's reaped children, or null where there is no /proc. */
function reapedChildrenSeconds(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // cutime and cstime are fields 16 and 17 of proc(5); fields here start at field 3 (state).
    const cutime = Number(fields[13]);
    const cstime = Number(fields[14]);
    return Number.isFinite(cutime) && Number.isFinite(cstime) ? (cutime + cstime) / TICKS : null;
  } catch {
    return null;
  }
}

interface Exited {
  weight: () => number;
  resolve: (seconds: number | null) => void;
}

let last = reapedChildrenSeconds();
let batch: Exited[] = [];

function settle(): void {
  const now = reapedChildrenSeconds();
  const items = batch;
  batch = [];
  if (now === null || last === null) {
    for (const i of items) i.resolve(null);
    return;
  }
  const delta = Math.max(0, now - last);
  last = now;
  const weights = items.map((i) => Math.max(0, i.weight()));
  const total = weights.reduce((a, b) => a + b, 0);
  items.forEach((item, k) => item.resolve(items.length === 1 ? delta : total > 0 ? (delta * weights[k]!) / total : delta / items.length));
}

/**
 * Observes a child from its spawn: resolves, once it has exited, with the CPU seconds the kernel
 * charged it (null without /proc). `weight` is its own figure (e.g. -benchmark's), used only to
 * share a batch. Call it for every child the process starts, or their time lands on the next one.
 */
export function observeChild(child: ChildProcess, weight: () => number = () => 0): Promise<number | null> {
  return new Promise((resolve) => {
    const onExit = () => {
      batch.push({ weight, resolve });
      if (batch.length === 1) setImmediate(settle);
    };
    if (child.exitCode !== null || child.signalCode !== null) onExit();
    else {
      child.once('exit', onExit);
      // A child that never started (ENOENT) emits no 'exit': nothing was charged.
      child.once('error', () => {
        if (child.pid === undefined) {
          child.off('exit', onExit);
          resolve(0);
        }
      });
    }
  });
}
