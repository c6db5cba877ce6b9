/**
 * The 120-byte ONNX Runtime quick-start model, c = MatMul(a[3,4], b[4,3]), embedded so that
 * the provider probe needs no file on disk. From microsoft/onnxruntime-inference-examples,
 * js/quick-start_onnxruntime-node/model.onnx (MIT, Copyright (c) Microsoft Corporation).
 */
export const PROBE_MODEL = Uint8Array.from(
  Buffer.from(
    'CAMSDGJhY2tlbmQtdGVzdDpiChEKAWEKAWISAWMiBk1hdE11bBIOdGVzdF9tYXRtdWxfMmRaEwoBYRIOCgwIARIICgIIAwoCCARaEwoBYhIOCgwIARIICgIIBAoCCANiEwoBYxIOCgwIARIICgIIAwoCCANCAhAJ',
    'base64',
  ),
);
