/**
 * Checks a caller's tensors against what the model declares before they are queued: ONNX
 * Runtime's own checks give developer messages, and one check is missing altogether
 * (onnxruntime-node silently ignores a feed whose name the model does not have). Failing here
 * also keeps a bad item out of a batch, where it would cost the other callers a retry.
 */
import { OnnxInputError } from './onnx-errors.js';
import { ARRAY_OF, elementCount, type TensorData, type TensorDtype, type TensorMap } from './tensor.js';

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: Array<number | string>;
}

const fmt = (dims: ReadonlyArray<number | string>) => `[${dims.join(', ')}]`;

export interface CheckedFeeds {
  /** Rows along the batch dimension (1 where the model is not batched). */
  rows: number;
  /** Items with the same signature can share a batch: names, dtypes and every dim but the first. */
  signature: string;
}

export function checkFeeds(feeds: TensorMap, inputs: TensorInfo[], batchable: boolean): CheckedFeeds {
  if (typeof feeds !== 'object' || feeds === null) throw new OnnxInputError('inputs must be a map of tensor name to tensor');
  const declared = new Map(inputs.map((i) => [i.name, i]));
  const names = Object.keys(feeds);
  const unknown = names.filter((n) => !declared.has(n));
  if (unknown.length > 0) {
    throw new OnnxInputError(`unknown input ${unknown.map((n) => `'${n}'`).join(', ')}: the model's inputs are ${inputs.map((i) => `'${i.name}'`).join(', ')}`);
  }
  const missing = inputs.filter((i) => !(i.name in feeds));
  if (missing.length > 0) throw new OnnxInputError(`missing input ${missing.map((i) => `'${i.name}' ${i.dtype} ${fmt(i.shape)}`).join(', ')}`);

  let rows: number | null = null;
  for (const info of inputs) {
    const t = feeds[info.name]!;
    checkTensor(info, t);
    if (batchable) {
      const r = t.dims[0]!;
      if (r < 1) throw new OnnxInputError(`input '${info.name}' has an empty batch (dimension 0 is ${r})`);
      if (rows !== null && r !== rows) throw new OnnxInputError(`inputs disagree on the batch size (dimension 0): ${rows} and ${r} for '${info.name}'`);
      rows = r;
    }
  }
  const signature = inputs.map((i) => `${i.name}:${feeds[i.name]!.dtype}:${feeds[i.name]!.dims.slice(batchable ? 1 : 0).join('x')}`).join('|');
  return { rows: rows ?? 1, signature };
}

function checkTensor(info: TensorInfo, t: TensorData): void {
  const what = `input '${info.name}'`;
  if (typeof t !== 'object' || t === null || !Array.isArray(t.dims) || !ArrayBuffer.isView(t.data)) {
    throw new OnnxInputError(`${what} is not a tensor ({ dtype, dims, data })`);
  }
  if (t.dtype !== info.dtype) throw new OnnxInputError(`${what} has dtype ${t.dtype}, the model expects ${info.dtype}`);
  const array = (ARRAY_OF as Partial<Record<string, (typeof ARRAY_OF)[TensorDtype]>>)[t.dtype];
  if (!array) throw new OnnxInputError(`${what} has dtype ${t.dtype}, which the farm cannot pass to a model`);
  if (!(t.data instanceof array)) {
    throw new OnnxInputError(`${what} is ${t.dtype}, so its data must be a ${array.name}, not a ${(t.data as object).constructor.name}`);
  }
  if (!t.dims.every((d) => Number.isInteger(d) && d >= 0)) throw new OnnxInputError(`${what} has invalid dims ${fmt(t.dims)}`);
  if (t.dims.length !== info.shape.length) {
    throw new OnnxInputError(`${what} has ${t.dims.length} dimensions ${fmt(t.dims)}, the model expects ${info.shape.length}: ${fmt(info.shape)}`);
  }
  const wrong = info.shape.flatMap((d, i) => (typeof d === 'number' && d !== t.dims[i] ? [`dimension ${i} is ${t.dims[i]}, the model expects ${d}`] : []));
  if (wrong.length > 0) throw new OnnxInputError(`${what} has the wrong shape ${fmt(t.dims)} (the model expects ${fmt(info.shape)}): ${wrong.join('; ')}`);
  const n = elementCount(t.dims);
  if (t.data.length !== n) {
    // A transferred buffer reads as empty: the usual cause is the same array passed to two runs.
    const detached = t.data.buffer.byteLength === 0 && n > 0;
    throw new OnnxInputError(
      detached
        ? `${what}'s data was already handed to another run (run() takes its feeds' buffers): pass a copy`
        : `${what} has dims ${fmt(t.dims)} (${n} values) but ${t.data.length} values of data`,
    );
  }
}
