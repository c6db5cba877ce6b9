/**
 * A worker's inference side, set up once: execution providers chosen from the probe (a GPU one
 * only where it really creates a session; every fallback said out loud), one ONNX door whose
 * sessions live in a worker thread, and the weights cache. Each job gets an InferenceDoor on them.
 */
import path from 'node:path';
import type { WorkerCapabilities } from '../src/capabilities/worker-capabilities.js';
import type { Config } from '../src/config/env.js';
import type { InferenceDoor } from '../src/jobs/job-runtime.js';
import type { Logger } from '../src/logger.js';
import { createOnnxDoor, type OnnxDoor } from '../src/onnx/onnx-door.js';
import { chooseExecutionProviders } from '../src/onnx/execution-providers.js';
import type { ModelPayload } from '../src/queue/messages.js';
import { httpTransfer } from './http-transfer.js';
import { ModelWeights } from './model-weights.js';
import { fetchOutside } from './outside-fetch.js';

export interface InferenceDeps {
  onnx: OnnxDoor;
  weights: ModelWeights;
  allowList: string;
  limits: InferenceDoor['limits'];
}

export async function startInference(config: Config, caps: WorkerCapabilities, log: Logger): Promise<{ deps: InferenceDeps; close(): Promise<void> }> {
  const chosen = await chooseExecutionProviders({ gpuCount: caps.gpus.length, supported: caps.onnxRuntime?.providers ?? ['cpu'] });
  for (const reason of chosen.fallbackReasons) log.warn(`ONNX Runtime fallback: ${reason}`);
  log.info(`ONNX Runtime providers: ${chosen.providers.join(' → ')}`);
  const onnx = createOnnxDoor({
    providers: chosen.providers,
    fallbackReasons: chosen.fallbackReasons,
    memoryBudgetBytes: config.MALAN_ONNX_MEMORY_MB * 1024 * 1024,
    log: (level, msg) => log[level](`onnx: ${msg}`),
  });
  const download = httpTransfer({ fileUrls: {}, uploadUrl: '' }, 0, { readLocal: false }).fetchUrl;
  const weights = new ModelWeights(path.join(config.home, 'cache', 'models'), download, config.MALAN_READ_LOCAL_INPUTS);
  const limits = { maxImagePixels: config.MALAN_MAX_IMAGE_PIXELS, maxVideoFrames: config.MALAN_MAX_VIDEO_FRAMES, maxInputBytes: config.MALAN_MAX_UPLOAD_BYTES };
  return { deps: { onnx, weights, allowList: config.MALAN_INPUT_URL_ALLOWLIST, limits }, close: () => onnx.close() };
}

export function inferenceDoor(deps: InferenceDeps, model: ModelPayload): InferenceDoor {
  return {
    model,
    onnx: deps.onnx,
    weightsPath: (signal) => deps.weights.path(model, signal),
    fetchOutside: (url, dest, signal, maxBytes) => fetchOutside(url, dest, signal, { maxBytes, allowList: deps.allowList }),
    limits: deps.limits,
  };
}
