/**
 * The inference phase of `npm run bench`: the ONNX door (src/onnx/onnx-door.ts) against a bare
 * onnxruntime-node session in the same process (STYLE.md rule 11). Both sides get the same
 * session options the door's thread uses (CPU, graph optimisation 'all', one inter-op thread).
 *   1. Overhead: N sequential single requests through the door vs N bare `session.run` calls on
 *      the same input (an MNIST-sized MLP and mnist-8).
 *   2. Throughput at 16 and 64 concurrent requests, and at 4 (beyond the issue), in a closed loop
 *      (each caller sends its next request when the last one returns): the bare engine at batch 1
 *      and at batch 16 (its own ceiling), the door without batching, and the door with batching
 *      once its learner has decided (the MLP, where the engine gains from batches, and
 *      super-resolution-10, where it gains little). Then sequential requests on the batched handle.
 *   3. Through the real farm (farmPredictionLatency, called by main.ts while a worker runs):
 *      POST a mnist-8 prediction with `Prefer: wait` vs a bare session.run. No target.
 * The bare side and the door run in blocks, never interleaved call by call: each ORT session has
 * its own intra-op threads, which spin for a while after a run and would tax the other side.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { MODELS as TEST_MODELS } from '../test/helpers/assets.js';
import { packageRoot } from '../src/paths.js';
import type { ApiClient } from '../test/helpers/api-client.js';
import { createOnnxDoor, type ModelHandle, type OnnxDoor } from '../src/onnx/onnx-door.js';
import { readTensorProto } from '../src/onnx/tensor-proto.js';
import { perceptronModel } from '../src/onnx/tiny-model.js';
import { quantile, round, runPool } from './measure.js';

/** The door's batching as a model manifest asks for it by default (max_size 16, max_delay_ms 5). */
const BATCH = { maxSize: 16, maxDelayMs: 5 };
/**
 * 16 and 64 concurrent requests are the issue's; 4 goes beyond it, measured last in each round:
 * fewer callers than the preferred batch, where a batch can only fill by waiting maxDelayMs.
 */
const CONCURRENCY = [16, 64, 4] as const;
export const ISSUE_CONCURRENCY: readonly number[] = [16, 64];
/** An MNIST-sized classifier: 784 inputs, 1024 hidden, 10 classes (3.2 MB of float32 weights). */
const MLP = { inputs: 784, hidden: 1024, outputs: 10 };

interface Counts {
  /** Rounds of every throughput measurement, alternating the order of each pair (A B, B A…). */
  rounds: number;
  bare1Items: number;
  bare16Items: number;
  /** Items per measurement at each concurrency, per round and per door mode. */
  doorItems: Record<(typeof CONCURRENCY)[number], number>;
  /** The batched handle's warm-up: at least `warmupMin` requests, then on until the learner decides (at most `warmupMax`). */
  warmupMin: number;
  warmupMax: number;
  /** Sequential lone requests on the batched handle after it decided. */
  loneN: number;
}

export interface InferenceProfile {
  /** The overhead's requests are split into this many bare-then-door blocks. */
  overheadRounds: number;
  overheadN: number;
  overheadWarmup: number;
  mlp: Counts;
  superRes: Counts;
  farmN: number;
  farmWarmup: number;
}

export const INFERENCE_PROFILES: Record<'full' | 'quick', InferenceProfile> = {
  full: {
    overheadRounds: 2,
    overheadN: 2000,
    overheadWarmup: 200,
    mlp: { rounds: 2, bare1Items: 2000, bare16Items: 16000, doorItems: { 16: 3000, 64: 3000, 4: 1000 }, warmupMin: 400, warmupMax: 4000, loneN: 300 },
    superRes: { rounds: 4, bare1Items: 16, bare16Items: 32, doorItems: { 16: 48, 64: 64, 4: 16 }, warmupMin: 160, warmupMax: 480, loneN: 8 },
    farmN: 50,
    farmWarmup: 5,
  },
  quick: {
    overheadRounds: 1,
    overheadN: 300,
    overheadWarmup: 50,
    mlp: { rounds: 1, bare1Items: 500, bare16Items: 4000, doorItems: { 16: 1000, 64: 1000, 4: 300 }, warmupMin: 100, warmupMax: 2000, loneN: 50 },
    superRes: { rounds: 1, bare1Items: 8, bare16Items: 16, doorItems: { 16: 16, 64: 64, 4: 8 }, warmupMin: 32, warmupMax: 320, loneN: 4 },
    farmN: 10,
    farmWarmup: 2,
  },
};

export interface Latency {
  n: number;
  p50: number;
  p95: number;
  mean: number;
}

export interface OverheadResult {
  model: string;
  bare: Latency;
  door: Latency;
  /** session.run's own time as the door's thread measured it (RunResult.seconds). */
  doorOwnRun: Latency;
  /** door p50 − bare p50: the issue's figure. */
  overheadP50Ms: number;
  /** p50 of (door wall time − its own session.run time), per request. */
  beyondOwnRunP50Ms: number;
}

export interface DoorLoad {
  items: number;
  seconds: number;
  itemsPerSecond: number;
  /** session.run calls the door made for these items. */
  sessionRuns: number;
  meanBatch: number;
  latencyMs: Latency;
  /** The learner after the measurement ('off' for the unbatched handle). */
  batchingAfter: string;
  preferredAfter: number;
  /** What the learner decided during this measurement (it relearns every 1000 runs). */
  decisions: string[];
}

export interface ThroughputCase {
  concurrency: number;
  unbatched: DoorLoad;
  batched: DoorLoad;
  /** door batched / door unbatched. */
  ratio: number;
  /** door unbatched / bare batch 1, door batched / bare batch 16. */
  unbatchedVsBare1: number;
  batchedVsBare16: number;
  rounds: Array<{ unbatchedItemsPerSecond: number; batchedItemsPerSecond: number }>;
}

export interface ModelThroughput {
  model: string;
  engine: { batch1ItemsPerSecond: number; batch16ItemsPerSecond: number; gain: number; rounds: Array<{ batch1: number; batch16: number }> };
  warmup: { items: number; seconds: number; batching: string; preferred: number; decisions: string[] };
  cases: ThroughputCase[];
  /** Everything the batched handle's learner decided from its warm-up on, from the door's log, in order. */
  decisions: string[];
  /** Sequential single requests on the batched handle once it decided: a lone request waits maxDelayMs for company where batching is on. */
  loneOnBatched: Latency & { batching: string };
}

export interface FarmPredictionResult {
  model: string;
  route: string;
  farm: Latency;
  bare: Latency;
  /** metrics.predict_time of the predictions, in ms. */
  predictTime: Latency;
  ratioP50: number;
  overheadP50Ms: number;
}

export interface InferenceResults {
  settings: InferenceProfile & { batch: typeof BATCH; mlpModel: string; concurrency: readonly number[]; sessionOptions: string };
  overhead: OverheadResult[];
  throughput: ModelThroughput[];
  /** Filled in by main.ts when the farm is up; null in the standalone run. */
  farm: FarmPredictionResult | null;
}

/**
 * The shared models. test/helpers/assets.ts finds them from test/helpers/ in the sources; from
 * dist/test/helpers/ (where the bench runs) its relative path is one level short, so the bench
 * also looks beside the package root.
 */
const MODELS = [TEST_MODELS, path.resolve(packageRoot, '../shared/assets/models')].find((d) => existsSync(d)) ?? TEST_MODELS;

const BARE_OPTIONS: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', interOpNumThreads: 1, logSeverityLevel: 3 };

interface BenchModel {
  key: string;
  label: string;
  path: string;
  input: string;
  /** One item: batch dim 1. */
  item: Float32Array;
  dims: number[];
}

function models(dir: string) {
  const mlpFile = path.join(dir, 'mlp.onnx');
  writeFileSync(mlpFile, perceptronModel(MLP));
  const mlpItem = new Float32Array(MLP.inputs).map((_, i) => (i % 17) / 17);
  const mnist = readTensorProto(readFileSync(path.join(MODELS, 'mnist-8.input_0.pb'))).tensor;
  const sr = readTensorProto(readFileSync(path.join(MODELS, 'super-resolution-10.input_0.pb'))).tensor;
  return {
    mlp: { key: 'mlp', label: `MLP ${MLP.inputs}-${MLP.hidden}-${MLP.outputs}`, path: mlpFile, input: 'x', item: mlpItem, dims: [1, MLP.inputs] },
    mnist: { key: 'mnist-8', label: 'mnist-8', path: path.join(MODELS, 'mnist-8.onnx'), input: 'Input3', item: mnist.data as Float32Array, dims: mnist.dims },
    superRes: { key: 'super-resolution-10', label: 'super-resolution-10', path: path.join(MODELS, 'super-resolution-10.onnx'), input: 'input', item: sr.data as Float32Array, dims: sr.dims },
  } satisfies Record<string, BenchModel>;
}

export async function inferenceBench(opts: { profile: InferenceProfile; tmp: string; say: (msg: string) => void }): Promise<InferenceResults> {
  const { profile, say } = opts;
  const m = models(opts.tmp);
  const logs: string[] = [];
  const door = createOnnxDoor({ providers: ['cpu'], memoryBudgetBytes: 1 << 30, log: (level, msg) => logs.push(`${level} ${msg}`) });
  try {
    const overhead: OverheadResult[] = [];
    for (const model of [m.mlp, m.mnist]) {
      say(`inference overhead: ${model.label}, ${profile.overheadN} sequential requests through the door and ${profile.overheadN} bare session.run`);
      overhead.push(await measureOverhead(door, model, profile));
    }
    const throughput: ModelThroughput[] = [];
    for (const [model, counts] of [[m.mlp, profile.mlp], [m.superRes, profile.superRes]] as const) {
      say(`inference throughput: ${model.label}, bare batch 1 and 16, the door unbatched and batched at ${CONCURRENCY.join(' and ')} concurrent requests, ${counts.rounds} round(s)`);
      throughput.push(await measureThroughput(door, model, counts, logs, say));
    }
    return {
      settings: { ...profile, batch: BATCH, mlpModel: `perceptron ${MLP.inputs}-${MLP.hidden}-${MLP.outputs} (src/onnx/tiny-model.ts)`, concurrency: CONCURRENCY, sessionOptions: 'cpu, graphOptimizationLevel all, interOpNumThreads 1, default intra-op threads' },
      overhead,
      throughput,
      farm: null,
    };
  } finally {
    await door.close();
  }
}

async function measureOverhead(door: OnnxDoor, model: BenchModel, profile: InferenceProfile): Promise<OverheadResult> {
  const handle: ModelHandle = { key: `${model.key}-overhead`, path: model.path, batch: null };
  const session = await ort.InferenceSession.create(model.path, BARE_OPTIONS);
  try {
    await door.describe(handle);
    const bare: number[] = [];
    const wall: number[] = [];
    const own: number[] = [];
    const beyond: number[] = [];
    const perRound = Math.ceil(profile.overheadN / profile.overheadRounds);
    // Blocks of bare then door per round, each after its own warm-up (the other side's threads are asleep by then).
    for (let r = 0; r < profile.overheadRounds; r++) {
      for (let i = 0; i < profile.overheadWarmup + perRound; i++) {
        const t0 = performance.now();
        await session.run({ [model.input]: new ort.Tensor('float32', model.item, model.dims) });
        if (i >= profile.overheadWarmup) bare.push(performance.now() - t0);
      }
      for (let i = 0; i < profile.overheadWarmup + perRound; i++) {
        const feeds = { [model.input]: { dtype: 'float32' as const, dims: model.dims, data: model.item.slice() } };
        const t0 = performance.now();
        const res = await door.run(handle, feeds);
        const ms = performance.now() - t0;
        if (i < profile.overheadWarmup) continue;
        wall.push(ms);
        own.push(res.seconds * 1000);
        beyond.push(ms - res.seconds * 1000);
      }
    }
    const b = latency(bare);
    const d = latency(wall);
    return { model: model.label, bare: b, door: d, doorOwnRun: latency(own), overheadP50Ms: round(d.p50 - b.p50), beyondOwnRunP50Ms: round(quantile(beyond, 0.5)) };
  } finally {
    await session.release();
  }
}

async function measureThroughput(door: OnnxDoor, model: BenchModel, counts: Counts, logs: string[], say: (msg: string) => void): Promise<ModelThroughput> {
  const single: ModelHandle = { key: `${model.key}-unbatched`, path: model.path, batch: null };
  const batched: ModelHandle = { key: `${model.key}-batched`, path: model.path, batch: BATCH };
  const feeds = () => ({ [model.input]: { dtype: 'float32' as const, dims: model.dims, data: model.item.slice() } });
  const stat = (key: string) => door.stats().sessions.find((s) => s.key === key)!;
  const session = await ort.InferenceSession.create(model.path, BARE_OPTIONS);
  try {
    await door.describe(single);
    await door.describe(batched);
    // The bare session's first runs at each size pay for its allocations; the door's sessions are warm by now.
    for (let i = 0; i < 3; i++) for (const b of [1, 16]) await bareItemsPerSecond(session, model, b, b);
    // Warm-up: the unbatched handle briefly, then the batched one until its learner has decided.
    await runPool(Math.min(counts.warmupMin, 64), 16, async () => void (await door.run(single, feeds())));
    const logFrom = logs.length;
    const warmStart = performance.now();
    let warmItems = 0;
    while (warmItems < counts.warmupMin || (stat(batched.key).batching === 'learning' && warmItems < counts.warmupMax)) {
      await runPool(32, 16, async () => void (await door.run(batched, feeds())));
      warmItems += 32;
    }
    const warm = stat(batched.key);
    const warmup = { items: warmItems, seconds: round((performance.now() - warmStart) / 1000), batching: warm.batching, preferred: warm.preferredBatch, decisions: decisionsIn(logs.slice(logFrom), batched.key) };
    say(`  ${model.label}: batching ${warm.batching} (preferred batch ${warm.preferredBatch}) after ${warmItems} warm-up requests`);

    const engineRounds: Array<{ batch1: number; batch16: number }> = [];
    const loads = new Map<number, { unbatched: RawLoad[]; batched: RawLoad[] }>(CONCURRENCY.map((c) => [c, { unbatched: [], batched: [] }]));
    // Odd rounds take each pair in the other order (A B, B A…), so that a drift in the machine's load hits both sides alike.
    for (let r = 0; r < counts.rounds; r++) {
      const flip = r % 2 === 1;
      const e = { batch1: 0, batch16: 0 };
      for (const b of flip ? [16, 1] : [1, 16]) e[b === 1 ? 'batch1' : 'batch16'] = await bareItemsPerSecond(session, model, b, b === 1 ? counts.bare1Items : counts.bare16Items);
      engineRounds.push(e);
      for (const c of CONCURRENCY) {
        for (const mode of flip ? (['batched', 'unbatched'] as const) : (['unbatched', 'batched'] as const)) {
          loads.get(c)![mode].push(await doorLoad(door, mode === 'batched' ? batched : single, feeds, counts.doorItems[c], c, logs));
        }
      }
    }
    const b1 = counts.bare1Items * counts.rounds / engineRounds.reduce((n, e) => n + counts.bare1Items / e.batch1, 0);
    const b16 = counts.bare16Items * counts.rounds / engineRounds.reduce((n, e) => n + counts.bare16Items / e.batch16, 0);
    const cases: ThroughputCase[] = CONCURRENCY.map((c) => {
      const l = loads.get(c)!;
      const u = merge(l.unbatched);
      const b = merge(l.batched);
      return {
        concurrency: c,
        unbatched: u,
        batched: b,
        ratio: round(b.itemsPerSecond / u.itemsPerSecond),
        unbatchedVsBare1: round(u.itemsPerSecond / b1),
        batchedVsBare16: round(b.itemsPerSecond / b16),
        rounds: l.unbatched.map((x, i) => ({ unbatchedItemsPerSecond: round(x.items / x.seconds, 1), batchedItemsPerSecond: round(l.batched[i]!.items / l.batched[i]!.seconds, 1) })),
      };
    });

    // Lone requests on the batched handle: what sequential traffic pays where batching is on.
    const lone: number[] = [];
    for (let i = 0; i < counts.loneN; i++) {
      const f = feeds();
      const t0 = performance.now();
      await door.run(batched, f);
      lone.push(performance.now() - t0);
    }
    const decisions = decisionsIn(logs.slice(logFrom), batched.key);
    return {
      model: model.label,
      engine: { batch1ItemsPerSecond: round(b1, 1), batch16ItemsPerSecond: round(b16, 1), gain: round(b16 / b1), rounds: engineRounds.map((e) => ({ batch1: round(e.batch1, 1), batch16: round(e.batch16, 1) })) },
      warmup,
      cases,
      decisions,
      loneOnBatched: { ...latency(lone), batching: stat(batched.key).batching },
    };
  } finally {
    await session.release();
  }
}

/** Sequential bare runs of `batch` rows until `items` items: items per second. */
async function bareItemsPerSecond(session: ort.InferenceSession, model: BenchModel, batch: number, items: number): Promise<number> {
  const data = new Float32Array(model.item.length * batch);
  for (let i = 0; i < batch; i++) data.set(model.item, i * model.item.length);
  const dims = [batch, ...model.dims.slice(1)];
  const run = () => session.run({ [model.input]: new ort.Tensor('float32', data, dims) });
  await run(); // a new batch size grows ORT's arena once
  const runs = Math.max(1, Math.ceil(items / batch));
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await run();
  return (runs * batch) / ((performance.now() - t0) / 1000);
}

interface RawLoad {
  items: number;
  seconds: number;
  sessionRuns: number;
  latencies: number[];
  batchingAfter: string;
  preferredAfter: number;
  decisions: string[];
}

/** `items` requests, `concurrency` in flight at once (each caller sends its next when the last returns). */
async function doorLoad(door: OnnxDoor, handle: ModelHandle, feeds: () => Record<string, { dtype: 'float32'; dims: number[]; data: Float32Array }>, items: number, concurrency: number, logs: string[]): Promise<RawLoad> {
  const stat = () => door.stats().sessions.find((s) => s.key === handle.key)!;
  const before = stat();
  const logFrom = logs.length;
  const latencies: number[] = [];
  const ms = await runPool(items, concurrency, async () => {
    const f = feeds();
    const t0 = performance.now();
    await door.run(handle, f);
    latencies.push(performance.now() - t0);
  });
  const after = stat();
  return { items, seconds: ms / 1000, sessionRuns: after.runs - before.runs, latencies, batchingAfter: after.batching, preferredAfter: after.preferredBatch, decisions: decisionsIn(logs.slice(logFrom), handle.key) };
}

/** The rounds of one measurement as one: all items over all seconds, latencies over all requests, the learner as the last round left it. */
function merge(xs: RawLoad[]): DoorLoad {
  const items = xs.reduce((n, x) => n + x.items, 0);
  const seconds = xs.reduce((n, x) => n + x.seconds, 0);
  const runs = xs.reduce((n, x) => n + x.sessionRuns, 0);
  const last = xs[xs.length - 1]!;
  return {
    items,
    seconds: round(seconds),
    itemsPerSecond: round(items / seconds, 1),
    sessionRuns: runs,
    meanBatch: round(items / runs, 2),
    latencyMs: latency(xs.flatMap((x) => x.latencies)),
    batchingAfter: last.batchingAfter,
    preferredAfter: last.preferredAfter,
    decisions: xs.flatMap((x) => x.decisions),
  };
}

/** The learner's decisions in the door's log lines, e.g. 'on (0.11 ms per item alone, 0.02 ms at batch 16: 6.43×)'. */
function decisionsIn(lines: string[], key: string): string[] {
  const prefix = `model ${key}: batching `;
  return lines.flatMap((l) => {
    const i = l.indexOf(prefix);
    return i < 0 ? [] : [l.slice(i + prefix.length)];
  });
}

function latency(ms: number[]): Latency {
  return { n: ms.length, p50: round(quantile(ms, 0.5)), p95: round(quantile(ms, 0.95)), mean: round(ms.reduce((a, b) => a + b, 0) / ms.length) };
}

/**
 * Through the real farm: mnist-8 added as a tensor model with the CLI, then `POST
 * /v1/models/bench/mnist/predictions` with `Prefer: wait`, one at a time, against a bare
 * session.run of the same input in this process. Reported for honesty; the issue sets no target.
 */
export async function farmPredictionLatency(opts: { api: ApiClient; addModel: (manifest: string) => Promise<unknown>; dir: string; n: number; warmup: number }): Promise<FarmPredictionResult> {
  const file = path.join(MODELS, 'mnist-8.onnx');
  const manifest = path.join(opts.dir, 'bench-mnist.json');
  writeFileSync(manifest, JSON.stringify({ name: 'bench/mnist', task: 'tensor', license: 'MIT (ONNX Model Zoo test data)', weights: { path: file } }));
  await opts.addModel(manifest);
  const input = readTensorProto(readFileSync(path.join(MODELS, 'mnist-8.input_0.pb'))).tensor;
  const body = { input: { Input3: { datatype: 'FP32', shape: input.dims, data: Array.from(input.data as Float32Array) } } };
  const route = '/v1/models/bench/mnist/predictions';
  const farm: number[] = [];
  const predict: number[] = [];
  for (let i = 0; i < opts.warmup + opts.n; i++) {
    const t0 = performance.now();
    const res = await opts.api.post(route, body, { Prefer: 'wait=60' });
    const ms = performance.now() - t0;
    if (res.status !== 201 || res.body?.status !== 'succeeded') throw new Error(`prediction answered ${res.status} ${res.body?.status}: ${JSON.stringify(res.body?.error ?? res.body)}`);
    if (i < opts.warmup) continue;
    farm.push(ms);
    if (typeof res.body.metrics?.predict_time === 'number') predict.push(res.body.metrics.predict_time * 1000);
  }
  const session = await ort.InferenceSession.create(file, BARE_OPTIONS);
  const bare: number[] = [];
  try {
    for (let i = 0; i < opts.warmup + opts.n; i++) {
      const t0 = performance.now();
      await session.run({ Input3: new ort.Tensor('float32', input.data as Float32Array, input.dims) });
      if (i >= opts.warmup) bare.push(performance.now() - t0);
    }
  } finally {
    await session.release();
  }
  const f = latency(farm);
  const b = latency(bare);
  return { model: 'mnist-8 (task tensor)', route: `POST ${route}, Prefer: wait=60`, farm: f, bare: b, predictTime: latency(predict), ratioP50: round(f.p50 / b.p50, 1), overheadP50Ms: round(f.p50 - b.p50, 1) };
}
