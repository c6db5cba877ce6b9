import ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { chooseExecutionProviders, explainProviderFailure, tryProviderOnProbeModel, type ExecutionProvider } from './execution-providers.js';

const ALL = ['cpu', 'webgpu', 'cuda', 'tensorrt'];

describe('chooseExecutionProviders', () => {
  test('without a GPU: the CPU, and the reason said out loud', async () => {
    const tried: string[] = [];
    const result = await chooseExecutionProviders({ gpuCount: 0, supported: ALL, tryProvider: async (p) => (tried.push(p), null) });
    expect(result).toEqual({ providers: ['cpu'], fallbackReasons: ['no GPU on this worker: ONNX Runtime runs on the CPU'] });
    expect(tried).toEqual([]);
  });

  test('with a GPU: TensorRT, then CUDA, each kept only if a session really works; CPU always last', async () => {
    const tried: ExecutionProvider[] = [];
    const works = (failing: Partial<Record<ExecutionProvider, string>>) => async (p: ExecutionProvider) => (tried.push(p), failing[p] ?? null);

    expect(await chooseExecutionProviders({ gpuCount: 1, supported: ALL, tryProvider: works({}) })).toEqual({ providers: ['tensorrt', 'cuda', 'cpu'], fallbackReasons: [] });
    expect(tried).toEqual(['tensorrt', 'cuda']);

    expect(await chooseExecutionProviders({ gpuCount: 2, supported: ALL, tryProvider: works({ tensorrt: 'libnvinfer.so.10 not found' }) })).toEqual({
      providers: ['cuda', 'cpu'],
      fallbackReasons: ['tensorrt: libnvinfer.so.10 not found'],
    });

    expect(await chooseExecutionProviders({ gpuCount: 1, supported: ['cpu'], tryProvider: works({}) })).toEqual({
      providers: ['cpu'],
      fallbackReasons: ['tensorrt: not in this onnxruntime-node build (it supports cpu)', 'cuda: not in this onnxruntime-node build (it supports cpu)'],
    });
  });

  test('ORT’s "Failed to load shared library" becomes which library and what to do', () => {
    const msg = 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library';
    expect(explainProviderFailure('cuda', msg, false)).toBe(
      'libonnxruntime_providers_cuda.so not found — onnxruntime-node was installed without its CUDA binaries (onnxruntime-node-install=skip); reinstall it with ONNXRUNTIME_NODE_INSTALL=cuda12 on a host that can download them',
    );
    expect(explainProviderFailure('cuda', msg, true)).toMatch(/^libonnxruntime_providers_cuda\.so is installed but did not load .* CUDA 12 or cuDNN 9/);
    expect(explainProviderFailure('tensorrt', 'no available backend found. ERR: [tensorrt] backend not found.', null)).toBe('no available backend found. ERR: [tensorrt] backend not found.');
  });

  test('for real on this machine: the CPU works, and GPU providers fail with their reason', async () => {
    expect(await tryProviderOnProbeModel('cpu')).toBeNull();
    const supported = ort.listSupportedBackends().map((b) => b.name);
    const result = await chooseExecutionProviders({ gpuCount: 1, supported });
    expect(result.providers.at(-1)).toBe('cpu');
    // This machine has no CUDA binaries (onnxruntime-node-install=skip) and no GPU.
    expect(result.providers).toEqual(['cpu']);
    expect(result.fallbackReasons).toHaveLength(2);
    expect(result.fallbackReasons[1]).toMatch(/^cuda: libonnxruntime_providers_cuda\.so (not found|is installed but did not load)/);
  });
});
