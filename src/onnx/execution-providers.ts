/**
 * Which ONNX Runtime execution providers this worker creates sessions with, best first, decided
 * once at worker start. A GPU provider counts only if a session on a tiny model really loads and
 * runs with it: onnxruntime-node lists CUDA and TensorRT as supported even where their shared
 * libraries were never downloaded (`onnxruntime-node-install=skip`). Every provider dropped
 * keeps its reason, so falling back to the CPU is never silent.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PROBE_MODEL } from './probe-model.js';

export type ExecutionProvider = 'tensorrt' | 'cuda' | 'cpu';

/** Tries one provider; null when it works, else why not. */
export type TryProvider = (p: ExecutionProvider) => Promise<string | null>;

const GPU_PROVIDERS = ['tensorrt', 'cuda'] as const;

export async function chooseExecutionProviders(opts: {
  gpuCount: number;
  /** Names from ort.listSupportedBackends(). */
  supported: string[];
  tryProvider?: TryProvider;
}): Promise<{ providers: ExecutionProvider[]; fallbackReasons: string[] }> {
  if (opts.gpuCount <= 0) return { providers: ['cpu'], fallbackReasons: ['no GPU on this worker: ONNX Runtime runs on the CPU'] };
  const tryProvider = opts.tryProvider ?? tryProviderOnProbeModel;
  const providers: ExecutionProvider[] = [];
  const fallbackReasons: string[] = [];
  for (const p of GPU_PROVIDERS) {
    if (!opts.supported.includes(p)) {
      fallbackReasons.push(`${p}: not in this onnxruntime-node build (it supports ${opts.supported.join(', ') || 'nothing'})`);
      continue;
    }
    const failure = await tryProvider(p);
    if (failure === null) providers.push(p);
    else fallbackReasons.push(`${p}: ${failure}`);
  }
  providers.push('cpu');
  return { providers, fallbackReasons };
}

const LIBRARIES: Record<ExecutionProvider, string> = {
  tensorrt: 'libonnxruntime_providers_tensorrt.so',
  cuda: 'libonnxruntime_providers_cuda.so',
  cpu: '',
};

/**
 * Creates a session with only `p` on the 120-byte quick-start model and runs it once. This runs
 * on the calling thread: it happens once at worker start, before any job lock needs renewing.
 */
export async function tryProviderOnProbeModel(p: ExecutionProvider): Promise<string | null> {
  try {
    const ort = (await import('onnxruntime-node')).default;
    const session = await ort.InferenceSession.create(PROBE_MODEL, { executionProviders: [p], logSeverityLevel: 3 });
    try {
      const zeros = (dims: number[]) => new ort.Tensor('float32', new Float32Array(dims[0]! * dims[1]!), dims);
      await session.run({ a: zeros([3, 4]), b: zeros([4, 3]) });
    } finally {
      await session.release();
    }
    return null;
  } catch (err) {
    return explainProviderFailure(p, (err as Error).message, providerLibraryPresent(p));
  }
}

/** ORT says only "Failed to load shared library"; say which one and what to do. */
export function explainProviderFailure(p: ExecutionProvider, message: string, libraryPresent: boolean | null): string {
  const first = message.split('\n')[0]!.trim();
  if (!/Failed to load shared library/i.test(first)) return first;
  if (libraryPresent === false) {
    return `${LIBRARIES[p]} not found — onnxruntime-node was installed without its CUDA binaries (onnxruntime-node-install=skip); reinstall it with ONNXRUNTIME_NODE_INSTALL=cuda12 on a host that can download them`;
  }
  return `${LIBRARIES[p]} is installed but did not load (${first}) — usually CUDA 12 or cuDNN 9 libraries missing or mismatched${p === 'tensorrt' ? ', or TensorRT itself not installed' : ''}`;
}

function providerLibraryPresent(p: ExecutionProvider): boolean | null {
  try {
    const require = createRequire(import.meta.url);
    const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
    const dir = path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(dir) ? existsSync(path.join(dir, LIBRARIES[p])) : null;
  } catch {
    return null;
  }
}
