import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODELS } from '../../test/helpers/assets.js';
import { NotOnnxError, readOnnxGraph } from './onnx-graph.js';

const model = (name: string) => readFileSync(path.join(MODELS, name));

describe('readOnnxGraph', () => {
  it.each([
    ['super-resolution-10.onnx', [{ name: 'input', dtype: 'float32', shape: ['batch_size', 1, 224, 224] }], [{ name: 'output', dtype: 'float32', shape: ['batch_size', 1, 672, 672] }]],
    ['mnist-8.onnx', [{ name: 'Input3', dtype: 'float32', shape: [1, 1, 28, 28] }], [{ name: 'Plus214_Output_0', dtype: 'float32', shape: [1, 10] }]],
    ['squeezenet1.0-fp16.onnx', [{ name: 'data_0', dtype: 'float16', shape: [1, 3, 224, 224] }], [{ name: 'softmaxout_1', dtype: 'float16', shape: [1, 1000, 1, 1] }]],
    ['style-candy.onnx', [{ name: 'inputImage', dtype: 'float32', shape: ['None', 3, 720, 720] }], [{ name: 'outputImage', dtype: 'float32', shape: ['None', 3, 720, 720] }]],
    ['matmul-quickstart.onnx', [{ name: 'a', dtype: 'float32', shape: [3, 4] }, { name: 'b', dtype: 'float32', shape: [4, 3] }], [{ name: 'c', dtype: 'float32', shape: [3, 3] }]],
  ])('reads the declared inputs and outputs of %s', (file, inputs, outputs) => {
    const g = readOnnxGraph(model(file));
    expect(g.inputs).toEqual(inputs);
    expect(g.outputs).toEqual(outputs);
    expect(g.irVersion).toBeGreaterThanOrEqual(3);
    expect(g.opsets.length).toBeGreaterThan(0);
  });

  it('leaves out weights that older exporters also list as inputs (ultraface)', () => {
    const g = readOnnxGraph(model('ultraface-RFB-320.onnx'));
    expect(g.inputs).toEqual([{ name: 'input', dtype: 'float32', shape: [1, 3, 240, 320] }]);
    expect(g.outputs.map((o) => o.name)).toEqual(['scores', 'boxes']);
  });

  it.each([
    ['a text file', Buffer.from('this is not a model\n'.repeat(20))],
    ['a JPEG', readFileSync(path.join(MODELS, '../images/cat.jpg'))],
    ['an empty file', Buffer.alloc(0)],
    ['a truncated model', model('mnist-8.onnx').subarray(0, 4000)],
    ['a TensorProto, not a model', model('mnist-8.input_0.pb')],
  ])('refuses %s as not an ONNX model', (_name, bytes) => {
    expect(() => readOnnxGraph(bytes)).toThrow(NotOnnxError);
  });
});
