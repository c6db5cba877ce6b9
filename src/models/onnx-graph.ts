/**
 * Reads what an ONNX file declares — IR version, opsets, its graph's inputs and outputs with
 * dtypes and shapes — straight from the protobuf, without loading a runtime. The API uses it to
 * refuse a file that is not an ONNX model and to check a manifest against the model it names.
 * Only the few fields needed are decoded; everything else (weights included) is skipped by length.
 */
import type { TensorDtype } from '../onnx/tensor.js';

export interface OnnxTensorInfo {
  name: string;
  dtype: TensorDtype | 'string' | 'unknown';
  shape: Array<number | string>;
}

export interface OnnxGraphInfo {
  irVersion: number;
  opsets: Array<{ domain: string; version: number }>;
  producer: string;
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
}

export class NotOnnxError extends Error {}

// TensorProto.DataType numbering (onnx.proto).
const ELEM_TYPES: Record<number, OnnxTensorInfo['dtype']> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};

interface Field {
  no: number;
  wire: number;
  value: bigint | Buffer;
}

/** Decodes one message level: each field with its number, wire type and value (varint or bytes). */
function* fields(buf: Buffer): Generator<Field> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new NotOnnxError('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 63n) throw new NotOnnxError('varint too long');
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (no === 0) throw new NotOnnxError('field number 0');
    if (wire === 0) yield { no, wire, value: varint() };
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > buf.length) throw new NotOnnxError('truncated fixed field');
      yield { no, wire, value: buf.subarray(pos, (pos += n)) };
    } else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new NotOnnxError('a field runs past the end of the file');
      yield { no, wire, value: buf.subarray(pos, (pos += len)) };
    } else throw new NotOnnxError(`wire type ${wire} is not protobuf's`);
  }
}

const bytesOf = (f: Field) => (f.wire === 2 ? (f.value as Buffer) : Buffer.alloc(0));
const str = (f: Field) => bytesOf(f).toString('utf8');

function tensorInfo(valueInfo: Buffer): OnnxTensorInfo {
  const info: OnnxTensorInfo = { name: '', dtype: 'unknown', shape: [] };
  for (const f of fields(valueInfo)) {
    if (f.no === 1) info.name = str(f);
    if (f.no !== 2) continue; // TypeProto
    for (const t of fields(bytesOf(f))) {
      if (t.no !== 1) continue; // TypeProto.Tensor
      for (const tt of fields(bytesOf(t))) {
        if (tt.no === 1 && tt.wire === 0) info.dtype = ELEM_TYPES[Number(tt.value)] ?? 'unknown';
        if (tt.no !== 2) continue; // TensorShapeProto
        for (const d of fields(bytesOf(tt))) {
          if (d.no !== 1) continue;
          let dim: number | string = '?';
          for (const dv of fields(bytesOf(d))) {
            if (dv.no === 1 && dv.wire === 0) dim = Number(BigInt.asIntN(64, dv.value as bigint));
            if (dv.no === 2) dim = str(dv);
          }
          info.shape.push(dim);
        }
      }
    }
  }
  return info;
}

export function readOnnxGraph(model: Buffer): OnnxGraphInfo {
  let irVersion = 0;
  let graph: Buffer | null = null;
  let producer = '';
  const opsets: OnnxGraphInfo['opsets'] = [];
  try {
    for (const f of fields(model)) {
      if (f.no === 1 && f.wire === 0) irVersion = Number(f.value);
      else if (f.no === 2) producer = str(f);
      else if (f.no === 7 && f.wire === 2) graph = f.value as Buffer;
      else if (f.no === 8 && f.wire === 2) {
        const o = { domain: '', version: 0 };
        for (const g of fields(f.value as Buffer)) {
          if (g.no === 1) o.domain = str(g);
          if (g.no === 2 && g.wire === 0) o.version = Number(g.value);
        }
        opsets.push(o);
      }
    }
  } catch (err) {
    throw new NotOnnxError(`not an ONNX model: ${(err as Error).message}`);
  }
  if (!irVersion || !graph || opsets.length === 0) throw new NotOnnxError('not an ONNX model: it has no IR version, graph or opset');
  const initializers = new Set<string>();
  const inputs: OnnxTensorInfo[] = [];
  const outputs: OnnxTensorInfo[] = [];
  for (const f of fields(graph)) {
    if (f.no === 5) for (const t of fields(bytesOf(f))) if (t.no === 8) initializers.add(str(t));
    if (f.no === 11) inputs.push(tensorInfo(bytesOf(f)));
    if (f.no === 12) outputs.push(tensorInfo(bytesOf(f)));
  }
  // Older exporters list weights among the inputs too; only the others are fed by callers.
  return { irVersion, opsets, producer, inputs: inputs.filter((i) => !initializers.has(i.name)), outputs };
}
