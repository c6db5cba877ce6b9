/**
 * The one door to ONNX Runtime: job code asks it to describe or run a model and never touches a
 * session. Behind it:
 * - every session lives in one worker thread (session-host.ts), so `run()` never blocks this
 *   thread's event loop; tensors cross by transfer, not by copy;
 * - sessions are cached by model key and evicted least-recently-used when the sum of their model
 *   files' sizes passes `memoryBudgetBytes`. File size is a fair proxy for a session's memory
 *   (weights dominate, ORT's arena comes on top and grows with batch size), and unlike a reading of
 *   the process's memory it can be known before loading and summed per model;
 * - each session is warmed up on load with one run on zeros;
 * - concurrent runs of a batchable model are merged into one `session.run` (batcher.ts), where
 *   the learner (batch-learner.ts) finds that batching pays on this engine for this model.
 */
import { stat } from 'node:fs/promises';
import { BatchLearner, type BatchingState } from './batch-learner.js';
import { BatchQueue, type ItemOutcome } from './batcher.js';
import type { ExecutionProvider } from './execution-providers.js';
import { checkFeeds, type TensorInfo } from './feed-check.js';
import { ownTensors, transferList, type HostReply } from './host-protocol.js';
import { errorFromWire, OnnxModelError, OnnxRunError } from './onnx-errors.js';
import { SessionThread } from './session-thread.js';
import type { TensorMap } from './tensor.js';

export type { ExecutionProvider } from './execution-providers.js';
export { OnnxInputError, OnnxModelError, OnnxRunError } from './onnx-errors.js';

export interface ModelHandle {
  /** The model version id; one session per key. */
  key: string;
  /** Local .onnx file. */
  path: string;
  /** Dynamic batching where the model's first dim is symbolic; null/undefined: never batch. */
  batch?: { maxSize: number; maxDelayMs: number } | null;
}

export interface RunResult {
  outputs: TensorMap;
  /** Rows in the session.run that served this item (1 when it ran alone). */
  batchSize: number;
  /** Seconds of that session.run (the whole batch: this item's share is seconds / batchSize). */
  seconds: number;
  provider: ExecutionProvider;
}

export interface ModelDescription {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

export interface OnnxDoor {
  /** Providers sessions are created with, best first, and why better ones were dropped (logged, never silent). */
  readonly providers: ExecutionProvider[];
  readonly fallbackReasons: string[];
  /** Loads (or reuses) the session and reports its declared inputs/outputs (names, dtypes, dims with symbolic dims as strings). */
  describe(model: ModelHandle): Promise<ModelDescription>;
  /**
   * One item (batch dim 1 where batched; more rows are allowed and count as that many). Concurrent
   * calls for a batchable model are merged into one session.run. The feeds' buffers are moved to
   * the session thread: afterwards the caller's arrays are empty (pass copies to keep them).
   * Rejects with OnnxInputError for tensors the model cannot take, OnnxModelError for a file that
   * is not a model, OnnxRunError otherwise; an aborted signal rejects with its reason.
   */
  run(model: ModelHandle, feeds: TensorMap, opts?: { signal?: AbortSignal }): Promise<RunResult>;
  /** Counters for tests, metrics and the bench. */
  stats(): {
    sessionRuns: number;
    items: number;
    sessions: Array<{ key: string; bytes: number; runs: number; items: number; batching: BatchingState; preferredBatch: number }>;
  };
  close(): Promise<void>;
}

type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
type ItemValue = Omit<RunResult, 'provider'>;

interface Session {
  key: string;
  bytes: number;
  provider: ExecutionProvider;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  learner: BatchLearner | null;
  queue: BatchQueue<ItemValue>;
  /** Callers between acquiring the session and their run settling: such a session is never evicted. */
  users: number;
  lastUsed: number;
  evicted: boolean;
  runs: number;
  items: number;
}

export function createOnnxDoor(opts: {
  providers: ExecutionProvider[];
  fallbackReasons?: string[];
  memoryBudgetBytes: number;
  intraOpThreads?: number;
  log?: LogFn;
}): OnnxDoor {
  const log: LogFn = opts.log ?? (() => {});
  const providers = opts.providers.length > 0 ? [...opts.providers] : (['cpu'] as ExecutionProvider[]);
  const fallbackReasons = [...(opts.fallbackReasons ?? [])];
  for (const r of fallbackReasons) log('warn', `ONNX Runtime fallback: ${r}`);

  const sessions = new Map<string, Session>();
  const loading = new Map<string, { bytes: number; promise: Promise<Session> }>();
  // Learners outlive eviction: what a model taught about batching stays true when it reloads.
  const learners = new Map<string, BatchLearner>();
  let clock = 0;
  let sessionRuns = 0;
  let items = 0;
  let closed = false;

  const thread = new SessionThread((why) => {
    if (!closed) log('error', `${why}; its sessions will be reloaded on next use`);
    for (const s of sessions.values()) {
      s.evicted = true;
      s.queue.drain(new OnnxRunError(why));
    }
    sessions.clear();
  });

  async function acquire(model: ModelHandle): Promise<Session> {
    for (;;) {
      if (closed) throw new OnnxRunError('the ONNX door is closed');
      let s = sessions.get(model.key);
      if (!s) {
        let pending = loading.get(model.key);
        if (!pending) {
          const bytes = await fileSize(model.path);
          pending = loading.get(model.key); // another caller may have started it meanwhile
          if (!pending) {
            const promise = load(model, bytes).finally(() => loading.delete(model.key));
            pending = { bytes, promise };
            loading.set(model.key, pending);
          }
        }
        s = await pending.promise;
      }
      if (s.evicted) continue; // evicted between loading and now: load again
      s.users++;
      s.lastUsed = ++clock;
      return s;
    }
  }

  function release(s: Session) {
    s.users--;
    s.lastUsed = ++clock;
  }

  async function load(model: ModelHandle, bytes: number): Promise<Session> {
    makeRoom(bytes);
    const reply = (await thread.request({ type: 'load', key: model.key, path: model.path, providers, ...(opts.intraOpThreads ? { intraOpThreads: opts.intraOpThreads } : {}) })) as Extract<HostReply, { type: 'loaded' }>;
    for (const r of reply.fallbackReasons) {
      fallbackReasons.push(`${model.key}: ${r}`);
      log('warn', `model ${model.key} fell back from ${r}`);
    }
    if (reply.warmupError) log('warn', `model ${model.key}: warm-up run failed, the first request pays for the allocations: ${reply.warmupError}`);
    const batchable = isBatchable(model, reply.inputs, reply.outputs, log);
    let learner: BatchLearner | null = null;
    if (batchable && model.batch) {
      learner = learners.get(model.key) ?? new BatchLearner({ maxSize: model.batch.maxSize });
      learners.set(model.key, learner);
    }
    const queue = new BatchQueue<ItemValue>({
      maxDelayMs: learner ? model.batch!.maxDelayMs : 0,
      limit: () => learner?.limit() ?? 1,
      execute: (batch) => execute(session, batch),
    });
    const session: Session = {
      key: model.key,
      bytes,
      provider: reply.provider,
      inputs: reply.inputs,
      outputs: reply.outputs,
      learner,
      queue,
      users: 0,
      lastUsed: ++clock,
      evicted: false,
      runs: 0,
      items: 0,
    };
    if (closed) throw new OnnxRunError('the ONNX door is closed');
    sessions.set(model.key, session);
    const warm = reply.warmupSeconds === null ? 'no warm-up' : `warm-up ${reply.warmupSeconds.toFixed(3)} s`;
    log('info', `model ${model.key} loaded on ${reply.provider} in ${reply.loadSeconds.toFixed(3)} s (${warm}; batching ${learner ? 'learning' : 'off'})`);
    return session;
  }

  /** Evicts idle sessions, least recently used first, until `bytes` more fits the budget. */
  function makeRoom(bytes: number) {
    let used = [...sessions.values()].reduce((n, s) => n + s.bytes, 0) + [...loading.values()].reduce((n, l) => n + l.bytes, 0);
    const idle = [...sessions.values()].filter((s) => s.users === 0 && s.queue.idle).sort((a, b) => a.lastUsed - b.lastUsed);
    while (used + bytes > opts.memoryBudgetBytes && idle.length > 0) {
      const victim = idle.shift()!;
      victim.evicted = true;
      sessions.delete(victim.key);
      used -= victim.bytes;
      log('info', `model ${victim.key} evicted (least recently used) to stay within the ONNX memory budget`);
      thread.request({ type: 'unload', key: victim.key }).catch((err: Error) => log('warn', `unloading model ${victim.key} failed: ${err.message}`));
    }
    if (used + bytes > opts.memoryBudgetBytes) log('warn', `ONNX sessions exceed the memory budget (${used + bytes} > ${opts.memoryBudgetBytes} bytes): the others are busy`);
  }

  async function execute(s: Session, batch: TensorMap[]): Promise<Array<ItemOutcome<ItemValue>>> {
    const reply = (await thread.request({ type: 'run', key: s.key, items: batch }, transferList(batch))) as Extract<HostReply, { type: 'ran' }>;
    sessionRuns += reply.runs;
    s.runs += reply.runs;
    items += batch.length;
    s.items += batch.length;
    if (reply.unsplittable && s.learner) {
      s.learner.disable(reply.unsplittable);
      log('warn', `model ${s.key}: batching switched off, its outputs cannot be split per item (${reply.unsplittable})`);
    }
    if (reply.clean && s.learner) {
      const d = s.learner.record(reply.clean.rows, reply.clean.seconds);
      if (d) {
        log('info', `model ${s.key}: batching ${d.state} (${(d.aloneSecondsPerItem * 1000).toFixed(2)} ms per item alone, ${(d.bestSecondsPerItem * 1000).toFixed(2)} ms at batch ${d.bestSize}: ${d.gain.toFixed(2)}×)`);
      }
    }
    return reply.results.map((r) => (r.ok ? { ok: true, value: { outputs: r.outputs, seconds: r.seconds, batchSize: r.batchSize } } : { ok: false, error: errorFromWire(r.error) }));
  }

  return {
    providers,
    fallbackReasons,

    async describe(model) {
      const s = await acquire(model);
      release(s);
      return { inputs: structuredClone(s.inputs), outputs: structuredClone(s.outputs) };
    },

    async run(model, feeds, runOpts) {
      runOpts?.signal?.throwIfAborted();
      const s = await acquire(model);
      try {
        const { rows, signature } = checkFeeds(feeds, s.inputs, s.learner !== null);
        const value = await s.queue.submit(ownTensors(feeds), rows, signature, runOpts?.signal);
        return { ...value, provider: s.provider };
      } finally {
        release(s);
      }
    },

    stats() {
      return {
        sessionRuns,
        items,
        sessions: [...sessions.values()].map((s) => ({
          key: s.key,
          bytes: s.bytes,
          runs: s.runs,
          items: s.items,
          batching: s.learner?.state ?? 'off',
          preferredBatch: s.learner?.preferred ?? 1,
        })),
      };
    },

    async close() {
      closed = true;
      for (const s of sessions.values()) s.queue.drain(new OnnxRunError('the ONNX door is closed'));
      sessions.clear();
      await thread.close();
    },
  };
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new OnnxModelError(`model file not found: ${path}`);
    throw err;
  }
}

/** Batching needs a symbolic first dim on every input and output, to concatenate and split along it. */
function isBatchable(model: ModelHandle, inputs: TensorInfo[], outputs: TensorInfo[], log: LogFn): boolean {
  if (!model.batch || model.batch.maxSize <= 1) return false;
  const fixed = [...inputs, ...outputs].filter((t) => typeof t.shape[0] !== 'string');
  if (fixed.length === 0) return true;
  log('info', `model ${model.key}: batching was asked for, but ${fixed.map((t) => `'${t.name}' [${t.shape.join(', ')}]`).join(', ')} has no symbolic first dimension: never batching`);
  return false;
}
