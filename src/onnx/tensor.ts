/**
 * Tensors as plain data: what crosses the thread boundary to the ONNX session host, what the
 * batcher concatenates and splits, and what the image and video code builds and reads back.
 * Names and dtypes follow ONNX Runtime's (`float32`, `float16`, `int64`…); the Open Inference
 * Protocol's datatypes (`FP32`, `INT64`…) map onto them in `oipDatatype`.
 */
export const TENSOR_DTYPES = ['float32', 'float16', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'] as const;
export type TensorDtype = (typeof TENSOR_DTYPES)[number];

export type TensorArray = Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

export interface TensorData {
  dtype: TensorDtype;
  dims: number[];
  /** float16 is held as its raw bits in a Uint16Array (as onnxruntime-node takes and returns it). */
  data: TensorArray;
}

export type TensorMap = Record<string, TensorData>;

/** The typed array that holds each dtype's data. */
export const ARRAY_OF: Record<TensorDtype, { new (n: number): TensorArray }> = {
  float32: Float32Array,
  float16: Uint16Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

export const elementCount = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

export function emptyTensor(dtype: TensorDtype, dims: number[]): TensorData {
  return { dtype, dims, data: new ARRAY_OF[dtype](elementCount(dims)) };
}

export function arrayFor(dtype: TensorDtype, n: number): TensorArray {
  return new ARRAY_OF[dtype](n);
}

/** The Open Inference Protocol v2 datatype names. */
export const OIP_DATATYPES: Record<TensorDtype, string> = {
  float32: 'FP32',
  float16: 'FP16',
  float64: 'FP64',
  int8: 'INT8',
  uint8: 'UINT8',
  int16: 'INT16',
  uint16: 'UINT16',
  int32: 'INT32',
  uint32: 'UINT32',
  int64: 'INT64',
  uint64: 'UINT64',
  bool: 'BOOL',
};

export function dtypeFromOip(datatype: string): TensorDtype | null {
  const hit = Object.entries(OIP_DATATYPES).find(([, v]) => v === datatype.toUpperCase());
  return hit ? (hit[0] as TensorDtype) : null;
}
