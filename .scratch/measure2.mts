import ort from 'onnxruntime-node';
import { writeFileSync } from 'node:fs';
import { createOnnxDoor, type ModelHandle } from '../src/onnx/onnx-door.ts';
import { perceptronModel } from '../src/onnx/tiny-model.ts';
const M = '/work/shared/assets/models/';
writeFileSync('/tmp/percbig.onnx', perceptronModel({ inputs: 1024, hidden: 2048, outputs: 1000 }));
const which = process.argv[2] ?? 'all';
const cases = [
  { key: 'super-resolution-10', path: M + 'super-resolution-10.onnx', name: 'input', dims: [1, 1, 224, 224], items: 48 },
  { key: 'perceptron-big', path: '/tmp/percbig.onnx', name: 'x', dims: [1, 1024], items: 1200 },
].filter((c) => which === 'all' || c.key === which);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const c of cases) {
  const n = c.dims.reduce((a, b) => a * b, 1);
  const bare = await ort.InferenceSession.create(c.path, { logSeverityLevel: 3 });
  const t = () => new ort.Tensor('float32', new Float32Array(n).fill(0.5), c.dims);
  for (let i = 0; i < 3; i++) await bare.run({ [c.name]: t() });
  const bareRun = async () => { const t0 = performance.now(); for (let i = 0; i < c.items; i++) await bare.run({ [c.name]: t() }); return c.items / ((performance.now() - t0) / 1000); };
  const logs: string[] = [];
  const doors = [null, { maxSize: 16, maxDelayMs: 5 }].map((batch) => ({ batch, door: createOnnxDoor({ providers: ['cpu'], memoryBudgetBytes: 1 << 30, log: (l, m) => logs.push(m) }), model: { key: c.key, path: c.path, batch } as ModelHandle }));
  const feeds = () => ({ [c.name]: { dtype: 'float32' as const, dims: c.dims, data: new Float32Array(n).fill(0.5) } });
  const doorRun = async (d: (typeof doors)[number]) => { let left = c.items; const t0 = performance.now(); await Promise.all(Array.from({ length: 16 }, async () => { while (left-- > 0) await d.door.run(d.model, feeds()); })); return c.items / ((performance.now() - t0) / 1000); };
  for (const d of doors) await doorRun(d); // learn
  const rates: number[][] = [[], [], []];
  for (let r = 0; r < 5; r++) { rates[0]!.push(await bareRun()); rates[1]!.push(await doorRun(doors[0]!)); rates[2]!.push(await doorRun(doors[1]!)); }
  const b = med(rates[0]!);
  console.log(`${c.key}: bare batch-1 ${b.toFixed(0)}/s; door unbatched ${med(rates[1]!).toFixed(0)}/s (${(med(rates[1]!) / b).toFixed(2)}×); door batching ${med(rates[2]!).toFixed(0)}/s (${(med(rates[2]!) / b).toFixed(2)}×, ${doors[1]!.door.stats().sessions[0]!.batching}) | ${logs.filter((l) => l.includes('batching ')).join(' | ')}`);
  console.log('  raw', JSON.stringify(rates.map((x) => x.map((v) => Math.round(v)))));
  for (const d of doors) await d.door.close();
  await bare.release();
}
