import ort from 'onnxruntime-node';
import { writeFileSync, readFileSync } from 'node:fs';
import { createOnnxDoor, type ModelHandle } from '../src/onnx/onnx-door.ts';
import { perceptronModel } from '../src/onnx/tiny-model.ts';
const M = '/work/shared/assets/models/';
writeFileSync('/tmp/perc.onnx', perceptronModel({ inputs: 256, hidden: 512, outputs: 10 }));
writeFileSync('/tmp/percbig.onnx', perceptronModel({ inputs: 1024, hidden: 2048, outputs: 1000 }));
const cases = [
  { key: 'super-resolution-10', path: M + 'super-resolution-10.onnx', name: 'input', dims: [1, 1, 224, 224], items: 96 },
  { key: 'perceptron-big', path: '/tmp/percbig.onnx', name: 'x', dims: [1, 1024], items: 1500 },
];
for (const c of cases) {
  const n = c.dims.reduce((a, b) => a * b, 1);
  const bare = await ort.InferenceSession.create(c.path, { logSeverityLevel: 3 });
  const t = () => new ort.Tensor('float32', new Float32Array(n).fill(0.5), c.dims);
  for (let i = 0; i < 3; i++) await bare.run({ [c.name]: t() });
  let t0 = performance.now();
  for (let i = 0; i < c.items; i++) await bare.run({ [c.name]: t() });
  const bareRate = c.items / ((performance.now() - t0) / 1000);
  await bare.release();
  const res: string[] = [`bare batch-1 loop ${bareRate.toFixed(0)} items/s`];
  for (const batch of [null, { maxSize: 16, maxDelayMs: 5 }]) {
    const logs: string[] = [];
    const door = createOnnxDoor({ providers: ['cpu'], memoryBudgetBytes: 1 << 30, log: (l, m) => logs.push(m) });
    const model: ModelHandle = { key: c.key, path: c.path, batch };
    const feeds = () => ({ [c.name]: { dtype: 'float32' as const, dims: c.dims, data: new Float32Array(n).fill(0.5) } });
    // learn first (not timed), then measure: 16 callers each looping
    const loop = async (items: number) => { let left = items; await Promise.all(Array.from({ length: 16 }, async () => { while (left-- > 0) await door.run(model, feeds()); })); };
    await loop(c.items);
    t0 = performance.now();
    await loop(c.items);
    const rate = c.items / ((performance.now() - t0) / 1000);
    const s = door.stats().sessions[0]!;
    res.push(`door ${batch ? 'batch≤16' : 'no batch'} ${rate.toFixed(0)} items/s (${(rate / bareRate).toFixed(2)}× bare; state ${s.batching}, preferred ${s.preferredBatch}) ${logs.filter((l) => l.includes('batching ')).join(' | ')}`);
    await door.close();
  }
  console.log(c.key + ':\n  ' + res.join('\n  '));
}
