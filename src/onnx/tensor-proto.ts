/**
 * Reads an ONNX `TensorProto` (the .pb files of the ONNX model zoo's test data) into TensorData:
 * dims (field 1), data_type (2), name (8), and the values from raw_data (9, little-endian) or the
 * typed repeated fields (float_data 4, int32_data 5, int64_data 7, double_data 10, uint64_data 11).
 * Enough for golden inputs and outputs in tests; strings and external data are refused.
 */
import { arrayFor, elementCount, type TensorArray, type TensorData, type TensorDtype } from './tensor.js';

// TensorProto.DataType numbering (onnx.proto).
const DTYPES: Record<number, TensorDtype> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};

export function readTensorProto(buf: Uint8Array): { name: string; tensor: TensorData } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('truncated TensorProto');
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let raw: Uint8Array | null = null;
  const values: Array<number | bigint> = [];

  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 2) {
      const len = Number(varint());
      const bytes = buf.subarray(pos, pos + len);
      const start = pos;
      pos += len;
      if (field === 8) name = new TextDecoder().decode(bytes);
      else if (field === 9) raw = bytes;
      else if (field === 1 || field === 5 || field === 7 || field === 11) {
        // packed varints
        const end = pos;
        pos = start;
        while (pos < end) (field === 1 ? dims : values).push(field === 1 ? Number(varint()) : field === 5 ? Number(BigInt.asIntN(32, varint())) : varint());
      } else if (field === 4) for (let o = 0; o < len; o += 4) values.push(view.getFloat32(start + o, true));
      else if (field === 10) for (let o = 0; o < len; o += 8) values.push(view.getFloat64(start + o, true));
      else if (field === 6 || field === 13) throw new Error('string or external TensorProto data is not supported');
    } else if (wire === 0) {
      const v = varint();
      if (field === 1) dims.push(Number(v));
      else if (field === 2) dataType = Number(v);
      else if (field === 5) values.push(Number(BigInt.asIntN(32, v)));
      else if (field === 7 || field === 11) values.push(v);
    } else if (wire === 5) {
      if (field === 4) values.push(view.getFloat32(pos, true));
      pos += 4;
    } else if (wire === 1) {
      if (field === 10) values.push(view.getFloat64(pos, true));
      pos += 8;
    } else throw new Error(`unexpected wire type ${wire} in TensorProto`);
  }

  const dtype = DTYPES[dataType];
  if (!dtype) throw new Error(`unsupported TensorProto data_type ${dataType}`);
  const n = elementCount(dims);
  const data = arrayFor(dtype, n);
  if (raw) {
    // Copy first: raw_data need not be aligned for a typed-array view.
    new Uint8Array(data.buffer).set(raw.subarray(0, data.byteLength));
  } else {
    // int32_data also carries int8/int16/uint8/uint16/bool/float16 (as raw bits).
    if (dtype === 'int64') (data as BigInt64Array).set(values.map((v) => BigInt.asIntN(64, BigInt(v))));
    else if (dtype === 'uint64') (data as BigUint64Array).set(values.map((v) => BigInt.asUintN(64, BigInt(v))));
    else (data as Exclude<TensorArray, BigInt64Array | BigUint64Array>).set(values.map(Number));
  }
  return { name, tensor: { dtype, dims, data } };
}
