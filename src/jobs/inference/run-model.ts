/** One call into the model, with ONNX Runtime's complaints about the caller's tensors turned into bad-input failures. */
import { JobError } from '../job-error.js';
import { OnnxInputError, OnnxModelError } from '../../onnx/onnx-errors.js';
import type { TensorMap } from '../../onnx/tensor.js';
import type { ModelStep, StepResult } from './model-step.js';

export async function runModel(step: ModelStep, feeds: TensorMap): Promise<{ outputs: TensorMap; step: Omit<StepResult, 'outputs' | 'output'> }> {
  try {
    const r = await step.door.onnx.run(step.handle, feeds, { signal: step.rt.signal });
    if (r.batchSize > 1) step.rt.log('info', `ran in a batch of ${r.batchSize}`);
    return { outputs: r.outputs, step: { provider: r.provider, predictSeconds: r.seconds / Math.max(1, r.batchSize), cpuSeconds: 0, batchSize: r.batchSize } };
  } catch (err) {
    if (err instanceof OnnxInputError) throw new JobError('invalid_input', `the model refused the input: ${err.message}`);
    if (err instanceof OnnxModelError) throw new JobError('internal', `the model could not be loaded: ${err.message}`);
    throw err;
  }
}
