/**
 * The inference phase alone, without the farm (no Redis, no ffmpeg): the ONNX door against a bare
 * onnxruntime-node session, as `npm run bench` measures it (bench/inference.ts). For iterating on
 * src/onnx; the recorded figures come from the whole bench. Build first (`npm run build`), then
 * `node dist/bench/inference-main.js [--quick] [--out FILE]`. Writes a file only with --out.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { INFERENCE_PROFILES, inferenceBench } from './inference.js';
import { inferenceTargets, renderInference } from './report.js';

const { values: flags } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } } });
const mode = flags.quick ? 'quick' : 'full';
const say = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'malan-bench-inference-'));
try {
  const loadAtStart = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const inference = await inferenceBench({ profile: INFERENCE_PROFILES[mode], tmp, say });
  const targets = inferenceTargets(inference);
  const header = `Malan bench, inference phase only (${mode}); ${os.cpus()[0]?.model.trim()}, ${os.availableParallelism()} cores; load average at start ${loadAtStart.join(' ')}, at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
  process.stdout.write(`\n${header}\n\n${renderInference(inference, targets).join('\n')}\n`);
  if (flags.out) writeFileSync(path.resolve(flags.out), `${JSON.stringify({ mode, loadAtStart, inference, targets }, null, 2)}\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
