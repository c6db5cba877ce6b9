/** Tensors to and from plain lists of numbers (the Open Inference Protocol's JSON `data`). */
import { fromFloat16Bits, toFloat16Bits } from '../jobs/inference/float16.js';
import { arrayFor, dtypeFromOip, OIP_DATATYPES, type TensorData } from './tensor.js';

export function tensorFromValues(datatype: string, shape: number[], values: ReadonlyArray<number | boolean>): TensorData {
  const dtype = dtypeFromOip(datatype);
  if (!dtype) throw new Error(`unknown datatype ${datatype}`);
  const data = arrayFor(dtype, values.length);
  values.forEach((v, i) => {
    const n = Number(v);
    if (dtype === 'int64' || dtype === 'uint64') (data as BigInt64Array)[i] = BigInt(Math.trunc(n));
    else if (dtype === 'float16') (data as Uint16Array)[i] = toFloat16Bits(n);
    else (data as Float32Array)[i] = n;
  });
  return { dtype, dims: shape, data };
}

export function tensorToValues(name: string, t: TensorData): { name: string; datatype: string; shape: number[]; data: Array<number | boolean> } {
  const data =
    t.dtype === 'float16'
      ? Array.from(t.data as Uint16Array, (b) => fromFloat16Bits(b))
      : t.dtype === 'bool'
        ? Array.from(t.data as Uint8Array, (b) => b !== 0)
        : Array.from(t.data as ArrayLike<number | bigint>, Number);
  return { name, datatype: OIP_DATATYPES[t.dtype], shape: t.dims, data };
}
