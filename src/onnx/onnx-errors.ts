/**
 * The three ways an ONNX call fails, as the job code needs to tell them apart:
 * - `OnnxInputError`: the caller's tensors do not fit the model (name, dtype, shape). Retrying
 *   cannot help; the job fails as `invalid_input` with this message, which a user can act on.
 * - `OnnxModelError`: the file is not a model ONNX Runtime can load. Also not retryable.
 * - `OnnxRunError`: anything else (the session thread died, the device ran out of memory…):
 *   an infrastructure failure, so the job retries.
 * ONNX Runtime's own messages are written for its developers ("Got invalid dimensions for input:
 * X for the following indices\n index: 2 Got: 100 Expected: 224\n Please fix either the
 * inputs/outputs or the model."); `cleanOrtMessage` rewrites the common ones.
 */
export class OnnxInputError extends Error {
  override readonly name = 'OnnxInputError';
}
export class OnnxModelError extends Error {
  override readonly name = 'OnnxModelError';
}
export class OnnxRunError extends Error {
  override readonly name = 'OnnxRunError';
}

export type OnnxErrorKind = 'input' | 'model' | 'run';
/** How an error crosses the thread boundary: class instances do not survive structured cloning. */
export interface WireError {
  kind: OnnxErrorKind;
  message: string;
}

export function errorFromWire(e: WireError): Error {
  if (e.kind === 'input') return new OnnxInputError(e.message);
  if (e.kind === 'model') return new OnnxModelError(e.message);
  return new OnnxRunError(e.message);
}

// ONNX type names as ORT prints them ("tensor(float)") → the dtype names callers use.
const ORT_TYPE_NAMES: Record<string, string> = {
  float: 'float32',
  double: 'float64',
  float16: 'float16',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  uint64: 'uint64',
  bool: 'bool',
  string: 'string',
};
const typeName = (t: string) => ORT_TYPE_NAMES[t] ?? t;

/** ORT's message for a failed run, rewritten for a user; unknown messages are only tidied. */
export function cleanOrtMessage(raw: string): string {
  const msg = raw
    .replace(/\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*[A-Z_]+\s*:\s*/g, '')
    .replace(/\s*Please fix either the inputs\/outputs or the model\.?/g, '')
    .trim();

  const dims = /Got invalid dimensions for input: (\S+) for the following indices([\s\S]*)/.exec(msg);
  if (dims) {
    const wrong = [...dims[2]!.matchAll(/index: (\d+) Got: (\d+) Expected: (\d+)/g)].map((m) => `dimension ${m[1]} is ${m[2]}, the model expects ${m[3]}`);
    return `input '${dims[1]}' has the wrong shape: ${wrong.join('; ')}`;
  }
  const rank = /Invalid rank for input: (\S+) Got: (\d+) Expected: (\d+)/.exec(msg);
  if (rank) return `input '${rank[1]}' has ${rank[2]} dimensions, the model expects ${rank[3]}`;
  const type = /Unexpected input data type\. Actual: \(tensor\((\w+)\)\)\s*,\s*expected: \(tensor\((\w+)\)\)/.exec(msg);
  if (type) return `an input has dtype ${typeName(type[1]!)}, the model expects ${typeName(type[2]!)}`;
  const missing = /input '([^']+)' is missing in 'feeds'/.exec(msg);
  if (missing) return `input '${missing[1]}' is missing`;
  const node = /Non-zero status code returned while running (\w+) node\. Name:'([^']*)' Status Message: ([\s\S]*)/.exec(msg);
  if (node) return `the model failed at its ${node[1]} node '${node[2]}' (usually an input of the wrong size): ${node[3]!.replace(/\s+/g, ' ').trim()}`;
  return msg.replace(/\s+/g, ' ');
}

/**
 * Which failures of a `session.run` are the input's fault. The door checks names, dtypes and
 * declared sizes itself before a run, so what reaches here is mostly a free dimension the graph
 * cannot take (a node fails); running out of memory or a device error is the farm's problem.
 */
export function runErrorKind(raw: string): OnnxErrorKind {
  if (/out of memory|bad_alloc|Failed to allocate|CUDA failure|CUDNN|cudaError|TensorRT|device/i.test(raw)) return 'run';
  if (/invalid dimensions|Invalid rank|Unexpected input data type|missing in 'feeds'|INVALID_ARGUMENT|Non-zero status code|does not match data length|must be type of/i.test(raw)) return 'input';
  return 'run';
}

/** A failed session load: a file ORT cannot parse is the model's fault, nothing else is. */
export function loadErrorKind(raw: string): OnnxErrorKind {
  return /Protobuf parsing failed|invalid model|INVALID_PROTOBUF|INVALID_GRAPH|NOT_IMPLEMENTED|File doesn't exist|Unsupported model IR version|opset|No Op registered|Load model from/i.test(raw)
    ? 'model'
    : 'run';
}

export function cleanLoadMessage(raw: string, path: string): string {
  if (/Protobuf parsing failed/.test(raw)) return `${path} is not an ONNX model (ONNX Runtime could not parse it as one)`;
  if (/File doesn't exist/.test(raw)) return `model file not found: ${path}`;
  return `ONNX Runtime cannot load ${path}: ${raw.replace(/^Load model from \S+ failed:\s*/, '').replace(/\s+/g, ' ').trim()}`;
}
