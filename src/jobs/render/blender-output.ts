/**
 * Reads Blender's stdout one line at a time, as it streams, into events a runner can act on:
 * a frame began, how far it is, a file was saved, something failed. The line shapes are Blender
 * 3.4.1's (recorded in blender-output.test.ts); an unknown line yields nothing.
 *
 * Blender's exit code is not enough to tell success: after a Python exception in a startup script
 * it renders anyway and exits 0, and `-S` with an unknown scene renders the active one and exits 0.
 * Load failures and a failed render do exit 1. The runner must check that each frame was saved.
 */
export type BlenderEvent =
  | { type: 'frame'; frame: number }
  | { type: 'progress'; frame: number; fraction: number }
  | { type: 'saved'; path: string }
  | { type: 'error'; message: string };

// "Fra:12 Mem:8.62M (Peak 10.24M) | Time:00:00.03 | … | Scene, ViewLayer | Sample 1/4"
const FRAME = /^Fra:(-?\d+) /;
// Cycles with tiles: "| Rendered 3/6 Tiles, Sample 1/8"; without: "| Sample 1/4".
const CYCLES_PROGRESS = /\| (?:Rendered (\d+)\/(\d+) Tiles, )?Sample (\d+)\/(\d+)/;
// Eevee: "| Rendering 1 / 4 samples"
const EEVEE_PROGRESS = /\| Rendering (\d+) \/ (\d+) samples/;
const SAVED = /^Saved: '(.*)'/;
const PYTHON_TRACEBACK = /^(?:Error: Python: )?Traceback \(most recent call last\):/;
// --python-exit-code: "Error: script failed, expr: '<the whole script, over many lines>', exiting."
const SCRIPT_FAILED = "Error: script failed, expr: '";
const SCRIPT_FAILED_END = "', exiting.";

export class BlenderOutputParser {
  private frame: number | null = null;
  private fraction = -1;
  private state: 'lines' | 'traceback' | 'script-echo' = 'lines';

  push(rawLine: string): BlenderEvent[] {
    const line = rawLine.replace(/\r$/, '');
    if (this.state === 'script-echo') {
      // The echoed script is our own code, not output: skip to its end.
      if (line.endsWith(SCRIPT_FAILED_END)) this.state = 'lines';
      return [];
    }
    if (this.state === 'traceback') {
      // "  File …" and source lines are indented; the first line that is not is the exception.
      if (line === '' || /^\s/.test(line)) return [];
      this.state = 'lines';
      return [{ type: 'error', message: `Python: ${line}` }];
    }
    const frame = FRAME.exec(line);
    if (frame) return this.frameLine(Number(frame[1]), line);
    const saved = SAVED.exec(line);
    if (saved) return [{ type: 'saved', path: saved[1]! }];
    if (PYTHON_TRACEBACK.test(line)) {
      this.state = 'traceback';
      return [];
    }
    if (line.startsWith(SCRIPT_FAILED)) {
      if (!line.endsWith(SCRIPT_FAILED_END)) this.state = 'script-echo';
      return [{ type: 'error', message: 'the Python script given to Blender failed, and Blender stopped' }];
    }
    if (line.startsWith('Error:')) return [{ type: 'error', message: line.slice('Error:'.length).trim() }];
    return [];
  }

  private frameLine(frame: number, line: string): BlenderEvent[] {
    const events: BlenderEvent[] = [];
    if (frame !== this.frame) {
      this.frame = frame;
      this.fraction = -1;
      events.push({ type: 'frame', frame });
    }
    const fraction = progressOf(line);
    // Tile and sample counters update separately, so a line can lag the one before: only report gains.
    if (fraction !== null && fraction > this.fraction) {
      this.fraction = fraction;
      events.push({ type: 'progress', frame, fraction });
    }
    return events;
  }
}

function progressOf(line: string): number | null {
  const eevee = EEVEE_PROGRESS.exec(line);
  if (eevee) return ratio(Number(eevee[1]), Number(eevee[2]));
  const cycles = CYCLES_PROGRESS.exec(line);
  if (!cycles) return null;
  const sample = ratio(Number(cycles[3]), Number(cycles[4]));
  if (cycles[1] === undefined || sample === null) return sample;
  const [done, tiles] = [Number(cycles[1]), Number(cycles[2])];
  if (!(tiles > 0)) return sample;
  // "Rendered 1/6 Tiles, Sample 8/8" is printed when tile 1 is done and before tile 2 starts: a
  // full sample count belongs to the tiles already counted, not to one more.
  return Math.min(1, (done + (sample < 1 ? sample : 0)) / tiles);
}

function ratio(done: number, total: number): number | null {
  return total > 0 ? Math.min(1, done / total) : null;
}
