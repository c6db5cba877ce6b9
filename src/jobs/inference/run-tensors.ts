/** Raw tensors (the Open Inference Protocol): in from the job's JSON file, through the model, out as a JSON file. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobError } from '../job-error.js';
import { tensorFromValues, tensorToValues } from '../../onnx/tensor-values.js';
import type { ModelStep, StepResult } from './model-step.js';
import { runModel } from './run-model.js';

export async function runTensors(step: ModelStep): Promise<StepResult> {
  const { rt } = step;
  if (!rt.input.tensors) throw new JobError('invalid_input', 'this model takes raw tensors, and the job has none');
  const file = path.join(rt.workDir, 'tensors.json');
  await rt.transfer.fetchInput(rt.input.tensors.file, file, rt.signal);
  let given: { inputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }> };
  try {
    given = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new JobError('invalid_input', 'the tensors file is not JSON');
  }
  const feeds = Object.fromEntries(given.inputs.map((t) => [t.name, tensorFromValues(t.datatype, t.shape, t.data)]));
  const result = await runModel(step, feeds);
  const outputs = Object.entries(result.outputs).map(([name, t]) => tensorToValues(name, t));
  const dest = path.join(rt.workDir, 'outputs.json');
  await writeFile(dest, JSON.stringify({ outputs }));
  const id = await rt.transfer.upload('outputs.json', dest, 'application/json', rt.signal);
  rt.log('info', `outputs: ${outputs.map((o) => `${o.name} ${o.datatype} [${o.shape}]`).join(', ')}`);
  return { ...result.step, outputs: [{ file: id, role: 'tensors' }], output: { $file: id } };
}
