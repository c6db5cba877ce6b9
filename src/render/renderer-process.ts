/**
 * The one door to renderer processes (Blender, an operator template's command): argv only, never
 * a shell. The process leads its own process group, so that stopping it (the signal: SIGTERM,
 * then SIGKILL after the grace) also stops whatever it started. Its CPU time is the kernel's count.
 */
import { spawn } from 'node:child_process';
import { observeChild } from '../media/child-cpu.js';
import { killOnAbort, readLines } from '../media/child-io.js';

export interface RendererRunOptions {
  cwd: string;
  signal: AbortSignal;
  killGraceMs: number;
  /** Each line the process writes, stdout and stderr alike, as it comes. */
  onLine: (line: string) => void;
  onSpawn?: (pid: number) => void;
}

export interface RendererRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  cpuSeconds: number;
  wallSeconds: number;
}

export class RendererNotFound extends Error {}

export function runRenderer(argv: readonly string[], opts: RendererRunOptions): Promise<RendererRunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (opts.signal.aborted) return reject(new Error('stopped before it started'));
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const cpu = observeChild(child);
    const kill = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const finish = killOnAbort(opts, kill);
    if (child.pid) opts.onSpawn?.(child.pid);
    const reading = Promise.all([readLines(child.stdout, opts.onLine), readLines(child.stderr, opts.onLine)]);
    child.once('error', (err: NodeJS.ErrnoException) => {
      finish();
      reject(err.code === 'ENOENT' ? new RendererNotFound(`${argv[0]} is not installed on this worker (not on PATH)`) : err);
    });
    child.once('exit', (code, signal) => {
      finish();
      // Whatever it left running in its group goes with it.
      kill('SIGKILL');
      void Promise.all([reading, cpu]).then(([, seconds]) => resolve({ code, signal, cpuSeconds: seconds ?? 0, wallSeconds: (performance.now() - started) / 1000 }));
    });
  });
}
