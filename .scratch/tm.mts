import ort from 'onnxruntime-node';
import { perceptronModel } from '/work/main/src/onnx/tiny-model.ts';
const m = perceptronModel({ inputs: 512, hidden: 1024, outputs: 16 });
console.log('bytes', m.length);
const s = await ort.InferenceSession.create(m, { logSeverityLevel: 3, interOpNumThreads: 1 });
console.log(JSON.stringify(s.inputMetadata), JSON.stringify(s.outputMetadata));
for (const n of [1,2,4,8,16,32]) {
  const t = new ort.Tensor('float32', new Float32Array(n*512).map(()=>Math.random()), [n,512]);
  await s.run({x:t});
  const R = Math.ceil(800/n); let t0=performance.now(); for (let r=0;r<R;r++) await s.run({x:t});
  console.log('batch', n, ((performance.now()-t0)/R/n*1000).toFixed(1), 'us/item');
}
