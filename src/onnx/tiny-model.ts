/**
 * Writes small ONNX models for tests and the bench. The two-layer perceptron
 * y = MatMul(Relu(MatMul(x, W1)), W2) with x [N, inputs] and a symbolic batch dim N — the kind of
 * model where batching pays (at batch 1 each run reads every weight to use it once). None of
 * the shared test models is both small and dynamically batched. Weights are a fixed pseudo-random
 * sequence, so the outputs are the same on every run. Protobuf is encoded by hand: only the
 * fields of ModelProto / GraphProto / NodeProto / ValueInfoProto / TensorProto a model needs.
 */
const enc = new TextEncoder();

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
const tag = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, n: number) => [...tag(field, 0), ...varint(n)];
const bytes = (field: number, b: ArrayLike<number>) => [...tag(field, 2), ...varint(b.length), ...Array.from(b)];
const str = (field: number, s: string) => bytes(field, enc.encode(s));
const msg = (field: number, parts: number[][]) => bytes(field, parts.flat());

// TensorProto.DataType numbering (onnx.proto).
const ELEM = { float32: 1, int64: 7 } as const;
type Elem = keyof typeof ELEM;

function valueInfo(field: number, name: string, elem: Elem, dims: Array<number | string>): number[] {
  const dimProtos = dims.map((d) => msg(1, [typeof d === 'number' ? int(1, d) : str(2, d)]));
  // ValueInfoProto { name, type: TypeProto { tensor_type: { elem_type, shape: { dim... } } } }
  return msg(field, [str(1, name), msg(2, [msg(1, [int(1, ELEM[elem]), msg(2, dimProtos)])])]);
}

/** A float32 initializer of small pseudo-random values (xorshift32 from `seed`). */
function initializer(name: string, dims: number[], seed: number): number[] {
  const values = new Float32Array(dims.reduce((a, b) => a * b, 1));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < values.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    values[i] = (x / 0xffffffff - 0.5) / Math.sqrt(dims[0]!);
  }
  // TensorProto { dims, data_type, name, raw_data }
  return msg(5, [...dims.map((d) => int(1, d)), int(2, ELEM.float32), str(8, name), bytes(9, new Uint8Array(values.buffer))]);
}

function node(op: string, inputs: string[], output: string): number[] {
  return msg(1, [...inputs.map((i) => str(1, i)), str(2, output), str(3, `${op}_${output}`), str(4, op)]);
}

interface Io {
  name: string;
  elem: Elem;
  dims: Array<number | string>;
}

function model(name: string, nodes: number[][], weights: number[][], inputs: Io[], outputs: Io[]): Uint8Array {
  const graph = [
    ...nodes,
    str(2, name),
    ...weights,
    ...inputs.map((i) => valueInfo(11, i.name, i.elem, i.dims)),
    ...outputs.map((o) => valueInfo(12, o.name, o.elem, o.dims)),
  ];
  // ModelProto { ir_version 7, producer_name, graph, opset_import { version 13 } }
  return Uint8Array.from([...int(1, 7), ...str(2, 'malan-tests'), ...msg(7, graph), ...msg(8, [int(2, 13)])]);
}

/** y [N, outputs] = MatMul(Relu(MatMul(x [N, inputs], W1)), W2). */
export function perceptronModel(opts: { inputs: number; hidden: number; outputs: number; seed?: number }): Uint8Array {
  const seed = opts.seed ?? 42;
  return model(
    'perceptron',
    [node('MatMul', ['x', 'W1'], 'h'), node('Relu', ['h'], 'r'), node('MatMul', ['r', 'W2'], 'y')],
    [initializer('W1', [opts.inputs, opts.hidden], seed), initializer('W2', [opts.hidden, opts.outputs], seed + 1)],
    [{ name: 'x', elem: 'float32', dims: ['N', opts.inputs] }],
    [{ name: 'y', elem: 'float32', dims: ['N', opts.outputs] }],
  );
}

/**
 * y [N, 1, width] = Gather(E [rows, width], ids [N, 1]): a lookup that fails at run time for an
 * id outside 0..rows-1, which no declared shape or dtype can catch — one bad item in a batch.
 */
export function lookupModel(opts: { rows: number; width: number }): Uint8Array {
  return model(
    'lookup',
    [node('Gather', ['E', 'ids'], 'y')],
    [initializer('E', [opts.rows, opts.width], 7)],
    [{ name: 'ids', elem: 'int64', dims: ['N', 1] }],
    [{ name: 'y', elem: 'float32', dims: ['N', 1, opts.width] }],
  );
}
