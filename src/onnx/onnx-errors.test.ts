import { describe, expect, test } from 'vitest';
import { cleanLoadMessage, cleanOrtMessage, loadErrorKind, runErrorKind } from './onnx-errors.js';

// Messages as onnxruntime-node 1.30 wrote them for super-resolution-10.onnx.
const WRONG_SIZE = 'Got invalid dimensions for input: input for the following indices\n index: 2 Got: 100 Expected: 224\n Please fix either the inputs/outputs or the model.';
const WRONG_RANK = 'Invalid rank for input: input Got: 3 Expected: 4 Please fix either the inputs/outputs or the model.';
const WRONG_TYPE = 'Unexpected input data type. Actual: (tensor(double)) , expected: (tensor(float))';
const NODE_FAILED =
  "Non-zero status code returned while running Gather node. Name:'Gather_y' Status Message: indices element out of data bounds, idx=99 must be within the inclusive range [-10,9]";

describe('cleanOrtMessage', () => {
  test('rewrites ORT run errors for a user', () => {
    expect(cleanOrtMessage(WRONG_SIZE)).toBe("input 'input' has the wrong shape: dimension 2 is 100, the model expects 224");
    expect(cleanOrtMessage(WRONG_RANK)).toBe("input 'input' has 3 dimensions, the model expects 4");
    expect(cleanOrtMessage(WRONG_TYPE)).toBe('an input has dtype float64, the model expects float32');
    expect(cleanOrtMessage("input 'input' is missing in 'feeds'.")).toBe("input 'input' is missing");
    expect(cleanOrtMessage(NODE_FAILED)).toBe(
      "the model failed at its Gather node 'Gather_y' (usually an input of the wrong size): indices element out of data bounds, idx=99 must be within the inclusive range [-10,9]",
    );
    expect(cleanOrtMessage('[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : something\n  else')).toBe('something else');
  });

  test('tells the input’s fault from the farm’s', () => {
    for (const m of [WRONG_SIZE, WRONG_RANK, WRONG_TYPE, NODE_FAILED]) expect(runErrorKind(m)).toBe('input');
    expect(runErrorKind('CUDA failure 2: out of memory ; GPU=0')).toBe('run');
    expect(runErrorKind('something unexpected')).toBe('run');
  });
});

describe('load errors', () => {
  test('a file that is not a model is the model’s fault', () => {
    const raw = 'Load model from /tmp/notes.txt failed:Protobuf parsing failed.';
    expect(loadErrorKind(raw)).toBe('model');
    expect(cleanLoadMessage(raw, '/tmp/notes.txt')).toBe('/tmp/notes.txt is not an ONNX model (ONNX Runtime could not parse it as one)');
    expect(loadErrorKind('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library')).toBe('run');
  });
});
