/**
 * The worker_thread that owns every ONNX Runtime session of the process. `session.run` is
 * synchronous native work (onnxruntime-node only defers it by a setImmediate), so it runs here
 * and the main thread's event loop — BullMQ lock renewal, heartbeats, the API — keeps going.
 * Requests are handled one at a time, in order: runs would only queue inside ORT anyway, and an
 * unload can never overtake a run of the same session.
 */
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { BatchSplitError, concatItems, splitOutputs } from './batcher.js';
import type { ExecutionProvider } from './execution-providers.js';
import type { TensorInfo } from './feed-check.js';
import { transferList, type HostReply, type HostRequest, type ItemResult } from './host-protocol.js';
import { cleanLoadMessage, cleanOrtMessage, loadErrorKind, runErrorKind, type WireError } from './onnx-errors.js';
import { arrayFor, TENSOR_DTYPES, type TensorArray, type TensorDtype, type TensorMap } from './tensor.js';

interface Hosted {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
}

const sessions = new Map<string, Hosted>();
const port = parentPort;
if (!port) throw new Error('session-host is a worker_thread entry: the ONNX door starts it');

let chain: Promise<void> = Promise.resolve();
port.on('message', (req: HostRequest) => {
  chain = chain.then(() => handle(req));
});

async function handle(req: HostRequest): Promise<void> {
  try {
    if (req.type === 'load') port!.postMessage(await load(req));
    else if (req.type === 'run') {
      const reply = await runItems(req.key, req.items, req.id);
      port!.postMessage(reply, transferList(reply.results.flatMap((r) => (r.ok ? [r.outputs] : []))));
    } else if (req.type === 'unload') {
      await sessions.get(req.key)?.session.release();
      sessions.delete(req.key);
      port!.postMessage({ type: 'done', id: req.id } satisfies HostReply);
    } else {
      for (const h of sessions.values()) await h.session.release();
      sessions.clear();
      port!.postMessage({ type: 'done', id: req.id } satisfies HostReply);
    }
  } catch (err) {
    const error: WireError = isWire(err) ? err : { kind: 'run', message: (err as Error).message ?? String(err) };
    port!.postMessage({ type: 'error', id: req.id, error } satisfies HostReply);
  }
}

async function load(req: Extract<HostRequest, { type: 'load' }>): Promise<HostReply> {
  const started = performance.now();
  const fallbackReasons: string[] = [];
  let hosted: Hosted | null = null;
  // The ladder: all providers, then without the best one, and so on down to the CPU. A model a
  // GPU provider cannot take (an op TensorRT lacks) still runs; the reason is reported with it.
  for (let i = 0; i < req.providers.length && !hosted; i++) {
    const providers = req.providers.slice(i);
    try {
      const session = await ort.InferenceSession.create(req.path, {
        executionProviders: providers,
        graphOptimizationLevel: 'all',
        interOpNumThreads: 1,
        ...(req.intraOpThreads ? { intraOpNumThreads: req.intraOpThreads } : {}),
        // Fatal only: ORT warns at length about harmless things (initializers listed as inputs), and
        // every error it logs is also thrown, which is where the door reports it.
        logSeverityLevel: 4,
      });
      hosted = { session, provider: providers[0]! };
    } catch (err) {
      const message = (err as Error).message;
      if (i === req.providers.length - 1) {
        const kind = loadErrorKind(message);
        throw { kind, message: kind === 'model' ? cleanLoadMessage(message, req.path) : message } satisfies WireError;
      }
      fallbackReasons.push(`${providers[0]}: ${message.split('\n')[0]}`);
    }
  }
  await sessions.get(req.key)?.session.release();
  sessions.set(req.key, hosted!);
  const { session } = hosted!;
  const inputs = session.inputMetadata.map(info);
  const outputs = session.outputMetadata.map(info);
  const loadSeconds = (performance.now() - started) / 1000;

  // One run on zeros so the first real request does not pay for ORT's lazy allocations.
  let warmupSeconds: number | null = null;
  let warmupError: string | undefined;
  if (inputs.every((i) => (TENSOR_DTYPES as readonly string[]).includes(i.dtype))) {
    const zeros: TensorMap = {};
    for (const i of inputs) {
      const dims = i.shape.map((d) => (typeof d === 'number' ? d : 1));
      zeros[i.name] = { dtype: i.dtype as TensorDtype, dims, data: arrayFor(i.dtype as TensorDtype, dims.reduce((a, b) => a * b, 1)) };
    }
    const t0 = performance.now();
    try {
      await runOnce(hosted!, zeros);
      warmupSeconds = (performance.now() - t0) / 1000;
    } catch (err) {
      warmupError = cleanOrtMessage((err as Error).message);
    }
  }
  return { type: 'loaded', id: req.id, inputs, outputs, provider: hosted!.provider, fallbackReasons, loadSeconds, warmupSeconds, ...(warmupError ? { warmupError } : {}) };
}

function info(m: ort.InferenceSession.ValueMetadata): TensorInfo {
  return m.isTensor ? { name: m.name, dtype: m.type, shape: [...m.shape] } : { name: m.name, dtype: 'non-tensor', shape: [] };
}

async function runItems(key: string, items: TensorMap[], id: number): Promise<Extract<HostReply, { type: 'ran' }>> {
  const hosted = sessions.get(key);
  if (!hosted) throw { kind: 'run', message: `no session for model ${key} (it was unloaded)` } satisfies WireError;
  const rows = items.map((it) => Object.values(it)[0]?.dims[0] ?? 1);
  if (items.length === 1) {
    const result = await runAlone(hosted, items[0]!, rows[0]!);
    return { type: 'ran', id, results: [result], runs: 1, clean: result.ok ? { rows: rows[0]!, seconds: result.seconds } : null };
  }
  const total = rows.reduce((a, b) => a + b, 0);
  const t0 = performance.now();
  try {
    // The concatenation and the split are part of what batching costs, so they are timed too.
    const parts = splitOutputs(await runOnce(hosted, concatItems(items)), rows);
    const seconds = (performance.now() - t0) / 1000;
    return { type: 'ran', id, results: parts.map((outputs) => ({ ok: true, outputs, seconds, batchSize: total })), runs: 1, clean: { rows: total, seconds } };
  } catch (err) {
    // One bad item must fail only its own caller: run each alone.
    const results: ItemResult[] = [];
    for (const [i, item] of items.entries()) results.push(await runAlone(hosted, item, rows[i]!));
    return { type: 'ran', id, results, runs: 1 + items.length, clean: null, ...(err instanceof BatchSplitError ? { unsplittable: err.message } : {}) };
  }
}

async function runAlone(hosted: Hosted, feeds: TensorMap, rows: number): Promise<ItemResult> {
  const t0 = performance.now();
  try {
    const outputs = await runOnce(hosted, feeds);
    return { ok: true, outputs, seconds: (performance.now() - t0) / 1000, batchSize: rows };
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    return { ok: false, error: { kind: runErrorKind(message), message: cleanOrtMessage(message) } };
  }
}

async function runOnce(hosted: Hosted, feeds: TensorMap): Promise<TensorMap> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.dtype, t.data as ort.Tensor['data'] & TensorArray, t.dims);
  const out = await hosted.session.run(ortFeeds);
  const result: TensorMap = {};
  for (const [name, t] of Object.entries(out)) {
    if (!(TENSOR_DTYPES as readonly string[]).includes(t.type)) throw { kind: 'run', message: `output '${name}' is a ${t.type} tensor, which the farm cannot return` } satisfies WireError;
    let data = t.data as TensorArray;
    // Each output must own its whole buffer to be transferred without dragging anything else along.
    if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice() as TensorArray;
    result[name] = { dtype: t.type as TensorDtype, dims: [...t.dims], data };
  }
  return result;
}

function isWire(e: unknown): e is WireError {
  return typeof e === 'object' && e !== null && 'kind' in e && 'message' in e && !(e instanceof Error);
}
