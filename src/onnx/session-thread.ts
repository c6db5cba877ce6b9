/**
 * The main thread's side of the session host: starts the worker thread on first use, matches
 * replies to requests, and fails every waiting request if the thread dies (a native crash in a
 * provider, say) so that callers retry instead of hanging. A later request starts a new thread.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../paths.js';
import type { HostReply, HostRequest } from './host-protocol.js';
import { errorFromWire, OnnxRunError } from './onnx-errors.js';

type Request = HostRequest extends infer R ? (R extends HostRequest ? Omit<R, 'id'> : never) : never;

/**
 * The thread entry, from the built package or from the TypeScript sources.
 *
 * Built (`dist/src/onnx/`), `session-host.js` sits beside this file. From the sources (vitest,
 * which compiles `src/` through its own module runner; that runner does not reach into worker
 * threads, and Node 20 cannot load a `.ts` entry by itself), there is no `.js` beside it: the
 * thread then runs the copy `tsc` wrote into `dist/`, which test/global-setup.ts builds before
 * every test run, as the end-to-end tests do for the CLI. This avoids depending on a TypeScript
 * loader (tsx is only a transitive dependency here) and tests the very JS that ships. A dist copy
 * older than its source is refused, so a test can never silently run yesterday's host.
 */
export function sessionHostEntry(here: string = import.meta.url, root: string = packageRoot): URL {
  const beside = new URL('./session-host.js', here);
  if (existsSync(fileURLToPath(beside))) return beside;
  const srcDir = path.dirname(fileURLToPath(here));
  const distDir = path.join(root, 'dist', path.relative(root, srcDir));
  const built = path.join(distDir, 'session-host.js');
  if (!existsSync(built)) throw new OnnxRunError(`the ONNX session host is not built (${built} is missing): run npm run build`);
  for (const f of readdirSync(srcDir)) {
    if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
    const js = path.join(distDir, f.replace(/\.ts$/, '.js'));
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(path.join(srcDir, f)).mtimeMs) {
      throw new OnnxRunError(`the built ONNX session host is older than src/onnx/${f}: run npm run build`);
    }
  }
  return pathToFileURL(built);
}

let live = 0;
/** Session threads running in this process (for tests and metrics). */
export const liveSessionThreads = () => live;

export class SessionThread {
  private worker: Worker | null = null;
  private exited: Promise<void> = Promise.resolve();
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: HostReply) => void; reject: (e: Error) => void }>();

  constructor(private readonly onExit: (reason: string) => void) {}

  request(req: Request, transfer: ArrayBuffer[] = []): Promise<HostReply> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<HostReply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // Only a thread with work in flight keeps the process alive; an idle door never blocks exit.
      worker.ref();
      worker.postMessage({ ...req, id }, transfer);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    // Let the host release its sessions; a run that never returns must not hold close() forever.
    const timeout = new Promise((r) => setTimeout(r, 5000).unref());
    await Promise.race([this.request({ type: 'shutdown' }).catch(() => {}), timeout]);
    await worker.terminate();
    await this.exited;
  }

  private start(): Worker {
    const worker = new Worker(sessionHostEntry(), { name: 'onnx-session-host' });
    live++;
    let reason = 'it exited';
    worker.on('message', (reply: HostReply) => {
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if (reply.type === 'error') w.reject(errorFromWire(reply.error));
      else w.resolve(reply);
    });
    worker.on('error', (err) => {
      reason = err.message;
    });
    let markExited = () => {};
    this.exited = new Promise((r) => (markExited = r));
    worker.on('exit', (code) => {
      live--;
      markExited();
      this.worker = null;
      const why = `the ONNX session thread stopped (${reason}, exit code ${code})`;
      for (const w of this.waiting.values()) w.reject(new OnnxRunError(why));
      this.waiting.clear();
      this.onExit(why);
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
