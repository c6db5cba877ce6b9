/**
 * The messages between the door (main thread) and the session host (worker thread). Tensors
 * travel as typed arrays whose buffers are in the transfer list: moved, not copied, and never
 * JSON. Errors travel as `WireError` because class instances do not survive structured cloning.
 */
import type { ExecutionProvider } from './execution-providers.js';
import type { TensorInfo } from './feed-check.js';
import type { WireError } from './onnx-errors.js';
import { arrayFor, type TensorArray, type TensorData, type TensorMap } from './tensor.js';

export type HostRequest =
  | { type: 'load'; id: number; key: string; path: string; providers: ExecutionProvider[]; intraOpThreads?: number }
  /** Items with the same signature; more than one are run as one batch along dimension 0. */
  | { type: 'run'; id: number; key: string; items: TensorMap[] }
  | { type: 'unload'; id: number; key: string }
  | { type: 'shutdown'; id: number };

export type ItemResult = { ok: true; outputs: TensorMap; seconds: number; batchSize: number } | { ok: false; error: WireError };

export type HostReply =
  | {
      type: 'loaded';
      id: number;
      inputs: TensorInfo[];
      outputs: TensorInfo[];
      provider: ExecutionProvider;
      /** Better providers this model could not use, with ORT's reason. */
      fallbackReasons: string[];
      loadSeconds: number;
      /** Null where warm-up was skipped (shapes unknown) or failed (`warmupError`). */
      warmupSeconds: number | null;
      warmupError?: string;
    }
  | {
      type: 'ran';
      id: number;
      results: ItemResult[];
      /** session.run calls made: 1, or 1 + one per item where the batch failed and each was retried alone. */
      runs: number;
      /** Set when the items ran as one clean batch: what the learner records. */
      clean: { rows: number; seconds: number } | null;
      /** The outputs had no per-row first dimension: never batch this model again. */
      unsplittable?: string;
    }
  | { type: 'done'; id: number }
  | { type: 'error'; id: number; error: WireError };

/**
 * A tensor whose data is the whole of its own ArrayBuffer, so that transferring the buffer moves
 * exactly this tensor. A view into a larger or shared buffer (a Node Buffer from the pool, a
 * subarray) is copied instead: transferring its buffer would take the caller's other data with it.
 * A whole buffer is moved at once, so from here on the caller's array reads as empty.
 */
export function ownTensor(t: TensorData): TensorData {
  const { data } = t;
  // The plain typed array of the dtype: a Node Buffer is a Uint8Array subclass whose slice() is a view.
  const Plain = arrayFor(t.dtype, 0).constructor as { new (n: number): TensorArray; new (b: ArrayBuffer): TensorArray };
  const whole = data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  if (!whole) {
    const copy = new Plain(data.length);
    (copy as { set(a: ArrayLike<number | bigint>): void }).set(data);
    return { dtype: t.dtype, dims: [...t.dims], data: copy };
  }
  const moved = structuredClone(data.buffer, { transfer: [data.buffer] });
  return { dtype: t.dtype, dims: [...t.dims], data: new Plain(moved) };
}

export function ownTensors(map: TensorMap): TensorMap {
  return Object.fromEntries(Object.entries(map).map(([k, t]) => [k, ownTensor(t)]));
}

/** Every distinct buffer under these maps (a buffer listed twice would fail the postMessage). */
export function transferList(maps: TensorMap[]): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  for (const m of maps) for (const t of Object.values(m)) if (t.data.buffer instanceof ArrayBuffer && t.data.buffer.byteLength > 0) set.add(t.data.buffer);
  return [...set];
}
