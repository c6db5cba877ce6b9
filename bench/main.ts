/**
 * `npm run bench`: the farm against its bare engines, side by side in one run (STYLE.md rule 11).
 *   1. submission throughput: POST /v1/jobs vs bare BullMQ queue.add (same payload, same Redis)
 *   2. dispatch latency on an idle worker: created_at → started_at vs queue.add → bare processor
 *   3. transcode wall time: farm job vs the plan's own CPU ffmpeg argv run bare
 *   4. inference (bench/inference.ts): the ONNX door vs a bare onnxruntime-node session.run —
 *      per-request overhead, and batched vs unbatched throughput at 16 and 64 concurrent requests;
 *      then one tensor model through the farm (POST with Prefer: wait), without a target
 *   5. render (bench/render.ts): render tasks through the farm vs the worker's own Blender argv run
 *      bare — the time each task adds, and frames per hour
 *   6. live (bench/live.ts): N 1080p channels × 1, 3 or 4 rungs fed pre-cut 2 s segments in real
 *      time — deadline misses, latency and real-time factor per rung as N rises — against the
 *      worker's own rung argv run bare on the same segments at the same times
 * Flags: --quick (small N, one repetition: a validation run), --postgres (the farm on the test
 * PostgreSQL server, MALAN_TEST_DB=postgres semantics), --keep (keep the farm's home and logs),
 * --out FILE (default bench/results.json; bench/results.quick.json with --quick), and
 * --submit-n N, --dispatch-n N, --transcode-reps N, --render-reps N, --live-max-channels N and
 * --live-stream-seconds S to override the profile's counts.
 */
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { apiClient } from '../test/helpers/api-client.js';
import { startFarm, stopChild, type FarmProcesses } from '../test/helpers/farm-processes.js';
import { packageRoot } from '../src/paths.js';
import { bareDispatch, farmDispatch } from './dispatch.js';
import { environmentFacts } from './environment.js';
import { benchCleanup } from './cleanup.js';
import { median, round, sleep } from './measure.js';
import { removePrefix } from './redis-keys.js';
import { farmPredictionLatency, INFERENCE_PROFILES, inferenceBench } from './inference.js';
import { prepareRender, RENDER_PROFILES, renderPhase } from './render.js';
import { LIVE_PROFILES, LIVE_SEGMENT_SECONDS, liveBench, type LiveResults } from './live.js';
import { renderLive } from './live-report.js';
import { prepareLiveSource } from './live-source.js';
import { inferenceTargets, renderTable, renderTarget, summarizeTranscode, TARGETS, type BenchResults } from './report.js';
import { apiSubmission, bareSubmission } from './submission.js';
import { bareCommand, bareLadderCommand, makeClip, runBare, runFarm, type BareRun, type ClipSpec, type FarmRun } from './transcode.js';

const PROFILES = {
  full: { submitN: 2000, submitWarmup: 100, concurrency: 16, dispatchN: 50, dispatchWarmup: 5, transcodeReps: 3, transcodeWarmup: 1, renderReps: RENDER_PROFILES.full.reps, renderWarmup: RENDER_PROFILES.full.warmup },
  quick: { submitN: 200, submitWarmup: 10, concurrency: 16, dispatchN: 10, dispatchWarmup: 2, transcodeReps: 1, transcodeWarmup: 0, renderReps: RENDER_PROFILES.quick.reps, renderWarmup: RENDER_PROFILES.quick.warmup },
};
/**
 * A typical rendition of a 10 s master, a small job where the farm's fixed per-job costs show, and
 * a 3-rung HLS ladder (the farm's own extras — poster and sprite — off, so both sides do the same work).
 */
const LADDER = { ladder: [{ height: 720 }, { height: 480 }, { height: 360 }], formats: ['hls'], segment_duration: 4, thumbnails: false };
const CASES: Array<{ clip: ClipSpec; height: number; ladder?: boolean }> = [
  { clip: { seconds: 10, width: 1920, height: 1080, fps: 30, audio: true }, height: 720 },
  { clip: { seconds: 10, width: 1280, height: 720, fps: 30, audio: true }, height: 240 },
  { clip: { seconds: 10, width: 1920, height: 1080, fps: 30, audio: true }, height: 720, ladder: true },
];
/** The dispatch and submission jobs: a transcode of a tiny clip, so a job costs the worker little. */
const TINY: ClipSpec = { seconds: 0.5, width: 160, height: 90, fps: 30, audio: false };
const HEIGHT = 240;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    postgres: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
    'submit-n': { type: 'string' },
    'dispatch-n': { type: 'string' },
    'transcode-reps': { type: 'string' },
    'render-reps': { type: 'string' },
    'live-max-channels': { type: 'string' },
    'live-stream-seconds': { type: 'string' },
  },
});
const mode = flags.quick ? 'quick' : 'full';
const profile = {
  ...PROFILES[mode],
  ...(flags['submit-n'] && { submitN: positive('--submit-n', flags['submit-n']) }),
  ...(flags['dispatch-n'] && { dispatchN: positive('--dispatch-n', flags['dispatch-n']) }),
  ...(flags['transcode-reps'] && { transcodeReps: positive('--transcode-reps', flags['transcode-reps']) }),
  ...(flags['render-reps'] && { renderReps: positive('--render-reps', flags['render-reps']) }),
};
const liveProfile = {
  ...LIVE_PROFILES[mode],
  ...(flags['live-max-channels'] && { maxChannels: positive('--live-max-channels', flags['live-max-channels']) }),
  ...(flags['live-stream-seconds'] && { streamSeconds: positive('--live-stream-seconds', flags['live-stream-seconds']) }),
};
const outFile = path.resolve(flags.out ?? path.join(packageRoot, 'bench', mode === 'quick' ? 'results.quick.json' : 'results.json'));
const say = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

// test-env reads MALAN_TEST_DB when it loads, so it is imported after the flag is applied.
if (flags.postgres) process.env.MALAN_TEST_DB = 'postgres';
const { testWorld, testDbKind } = await import('../test/helpers/test-env.js');

const tag = `bench${randomBytes(4).toString('hex')}`;
const barePrefix = `${tag}-bare`;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'malan-bench-'));
const world = await testWorld({ env: { MALAN_RECONCILE_SECONDS: '3600' } });
const redisUrl = world.env.REDIS_URL!;
const ffmpegPath = world.config.MALAN_FFMPEG_PATH;
let farm: FarmProcesses | undefined;

const cleanup = benchCleanup({
  say,
  farm: () => farm,
  redisUrl,
  prefix: world.env.MALAN_QUEUE_PREFIX!,
  home: world.home,
  tmp,
  keep: flags.keep === true,
  extra: [
    ['bare keys', () => removePrefix(redisUrl, barePrefix, ['transcode'])],
    ...(world.env.DATABASE_URL ? ([['dropping the database', () => dropDatabase(world.env.DATABASE_URL!)]] as Array<[string, () => Promise<unknown>]>) : []),
  ],
});

try {
  const results = await run();
  const live = 'error' in results.live ? [`Live: failed (${results.live.error})`] : renderLive(results.live);
  process.stdout.write(`${renderTable(results)}\n\n${live.join('\n')}\n`);
  writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  say(`results written to ${path.relative(process.cwd(), outFile) || outFile}`);
} catch (err) {
  say(`FAILED: ${(err as Error).stack ?? err}`);
  if (farm) for (const name of ['serve', 'worker-0'] as const) say(`--- tail of ${name}.log ---\n${farm.log(name).split('\n').slice(-25).join('\n')}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}

async function run(): Promise<BenchResults & { live: LiveResults | { error: string } }> {
  const environment = await environmentFacts({ ffmpegPath, redisUrl, database: databaseLabel() });
  say(`${mode} run; farm home ${world.home}, prefixes ${world.env.MALAN_QUEUE_PREFIX} (farm) and ${barePrefix} (bare)`);
  // In this process, before the farm starts: its idle processes would only add noise.
  const inferenceProfile = INFERENCE_PROFILES[mode];
  const inference = await inferenceBench({ profile: inferenceProfile, tmp, say });
  const tiny = path.join(tmp, 'tiny.mp4');
  await makeClip(ffmpegPath, tiny, TINY);
  const clips = await Promise.all(
    CASES.map(async (c, i) => {
      const file = path.join(tmp, `clip-${i}.mp4`);
      await makeClip(ffmpegPath, file, c.clip);
      const outDir = path.join(tmp, `bare-${i}`);
      return { ...c, file, command: c.ladder ? await bareLadderCommand(file, outDir, LADDER) : await bareCommand(file, tmp, c.height) };
    }),
  );
  say('render: building the scene with Blender and probing Blender as the worker does');
  const renderSetup = await prepareRender(tmp);
  say(`live: cutting ${liveProfile.streamSeconds} s of 1080p30 into ${LIVE_SEGMENT_SECONDS} s segments`);
  const liveDir = path.join(tmp, 'live-source');
  mkdirSync(liveDir);
  const liveSource = await prepareLiveSource({ ffmpegPath, ffprobePath: world.config.MALAN_FFPROBE_PATH, dir: liveDir, seconds: liveProfile.streamSeconds, segmentSeconds: LIVE_SEGMENT_SECONDS });

  say('starting the farm (malan serve + one malan worker)');
  farm = await startFarm(world.env, { workers: 1 });
  const key = await farm.createKey('bench');
  const api = apiClient(farm.baseUrl, key);
  const upload = async (file: string) => {
    const res = await api.upload(new Blob([readFileSync(file)]), 'video/mp4', path.basename(file));
    if (res.status !== 201) throw new Error(`upload of ${file} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  };
  const tinyId = await upload(tiny);
  const smallJob = { kind: 'transcode', input: { source: { file: tinyId }, height: HEIGHT } };

  say(`dispatch: farm, ${profile.dispatchN} jobs one at a time`);
  const farmD = await farmDispatch({ api, baseUrl: farm.baseUrl, key, redisUrl, prefix: world.env.MALAN_QUEUE_PREFIX!, body: smallJob, n: profile.dispatchN, warmup: profile.dispatchWarmup, tag });
  const { payload, ...farmDispatchResult } = farmD;
  say(`dispatch: bare BullMQ, ${profile.dispatchN} jobs one at a time`);
  const bareD = await bareDispatch({ redisUrl, prefix: barePrefix, payload, n: profile.dispatchN, warmup: profile.dispatchWarmup, tag });

  const transcode = [];
  for (const [n, c] of clips.entries()) {
    say(`transcode ${c.clip.height}p→${c.ladder ? 'ladder' : `${c.height}p`}: ${profile.transcodeReps}× bare ffmpeg and ${profile.transcodeReps}× through the farm, interleaved`);
    const clipId = await upload(c.file);
    const bareRuns: BareRun[] = [];
    const farmRuns: FarmRun[] = [];
    for (let i = 0; i < profile.transcodeWarmup + profile.transcodeReps; i++) {
      const bare = await runBare(ffmpegPath, c.command.args);
      const input = c.ladder ? { source: { file: clipId }, ...LADDER } : { source: { file: clipId }, height: c.height };
      const viaFarm = await runFarm({ api, baseUrl: farm.baseUrl, key, input, tag: `${tag}-t${n}-${i}` });
      if (i < profile.transcodeWarmup) continue;
      bareRuns.push(bare);
      farmRuns.push(viaFarm);
    }
    transcode.push(summarizeTranscode({ clip: { ...c.clip, bytes: statSync(c.file).size }, height: c.height, ladder: c.ladder ? LADDER.ladder.map((r) => r.height) : null, command: c.command, bareRuns, farmRuns }));
  }

  say(`inference through the farm: mnist-8 added as a tensor model, ${inferenceProfile.farmN} predictions one at a time with Prefer: wait`);
  inference.farm = await farmPredictionLatency({ api, addModel: (manifest) => farm!.cli(['models', 'add', manifest]), dir: tmp, n: inferenceProfile.farmN, warmup: inferenceProfile.farmWarmup });

  say(`render: ${renderSetup.tasks.length} tasks of Blender bare, then the same as one render job through the farm, ${profile.renderWarmup} + ${profile.renderReps} times, interleaved`);
  const render = await renderPhase({ setup: renderSetup, api, baseUrl: farm.baseUrl, key, tmp, reps: profile.renderReps, warmup: profile.renderWarmup, tag });

  // One worker, before split-and-stitch starts a second: the curve is per worker. A failure here
  // is recorded and the other phases go on (live is the newest part of the farm).
  const live = await liveBench({ api, source: liveSource, ffmpegPath, tmp, profile: liveProfile, liveConcurrency: world.config.MALAN_LIVE_CONCURRENCY, say }).catch((err: Error) => {
    say(`live: FAILED: ${err.stack ?? err.message}`);
    return { error: err.message };
  });

  say('split-and-stitch: a 60 s 720p clip, in one piece on one worker vs in 10 s pieces on two workers');
  const longClip = path.join(tmp, 'long.mp4');
  await makeClip(ffmpegPath, longClip, { seconds: 60, width: 1280, height: 720, fps: 30, audio: true });
  const longId = await upload(longClip);
  await farm.startWorker();
  const splitRuns = { whole: [] as FarmRun[], split: [] as FarmRun[] };
  for (let i = 0; i < Math.max(1, profile.transcodeReps - 1); i++) {
    splitRuns.whole.push(await runFarm({ api, baseUrl: farm.baseUrl, key, input: { source: { file: longId }, height: 720 }, tag: `${tag}-whole-${i}` }));
    splitRuns.split.push(await runFarm({ api, baseUrl: farm.baseUrl, key, input: { source: { file: longId }, height: 720, chunk_seconds: 10 }, tag: `${tag}-split-${i}` }));
  }
  const wholeSeconds = median(splitRuns.whole.map((r) => r.workerSeconds));
  const splitSeconds = median(splitRuns.split.map((r) => r.workerSeconds));
  const split = { clip: '60 s 1280x720 30 fps, keyframe every 2 s', chunkSeconds: 10, workers: 2, wholeSeconds, splitSeconds, speedup: round(wholeSeconds / splitSeconds), target: 1.6 };

  say('submission: stopping the workers so that nothing competes');
  for (const w of farm.workers) await stopChild(w);
  await sleep(1000);
  say(`submission: ${profile.submitN} POST /v1/jobs at concurrency ${profile.concurrency}`);
  const apiS = await apiSubmission({ api, body: smallJob, n: profile.submitN, warmup: profile.submitWarmup, concurrency: profile.concurrency, tag, redisUrl, serverPid: farm.server.pid });
  say(`submission: ${profile.submitN} bare queue.add at concurrency ${profile.concurrency}`);
  const bareS = await bareSubmission({ redisUrl, prefix: barePrefix, payload, n: profile.submitN, warmup: profile.submitWarmup, concurrency: profile.concurrency, tag });

  const notes: string[] = [];
  for (const t of transcode) {
    const paths = new Set(t.farm.runs.map((r) => r.executionPath));
    if ([...paths].some((p) => p !== t.command.path)) notes.push(`the farm ran path ${[...paths].join(',')} but the bare command is the ${t.command.path} path: the transcode ratio compares different work`);
  }
  // A render job's execution.paths: the paths (cpu, optix, cuda) of the task runs that rendered frames.
  const renderPaths = new Set(render.farm.runs.flatMap((r) => (Array.isArray(r.execution.paths) ? r.execution.paths.map(String) : ['unknown'])));
  if ([...renderPaths].some((p) => p !== render.blender.device.toLowerCase())) notes.push(`render: the farm rendered on path ${[...renderPaths].join(',')} but the bare commands on ${render.blender.device}: the render overhead compares different work`);
  if (environment.loadAverageAtStart[0]! > environment.cores / 2) notes.push(`the machine was busy at start (load ${environment.loadAverageAtStart[0]} on ${environment.cores} cores): figures are noisy`);
  for (const t of inference.throughput) {
    const states = new Set(t.cases.map((c) => `${c.batched.batchingAfter}/${c.batched.preferredAfter}`));
    if (states.size > 1 || !states.has(`${t.warmup.batching}/${t.warmup.preferred}`)) notes.push(`${t.model}: the batching learner changed its mind during the measurement (after warm-up ${t.warmup.batching}/${t.warmup.preferred}, then ${[...states].join(', ')}): it relearns every 1000 runs or 10 minutes`);
  }
  if ('error' in live) notes.push(`live: the phase failed (${live.error}); the other phases are unaffected`);
  if (mode === 'quick') notes.push('quick mode: small N and one transcode repetition; p99 of a few samples is their maximum');
  return {
    mode,
    environment,
    settings: { ...profile, dispatchHeight: HEIGHT, reconcileSeconds: 3600, tinyClip: `${TINY.width}x${TINY.height} ${TINY.seconds} s no audio` },
    submission: { api: apiS, bare: bareS, ratio: round(apiS.jobsPerSecond / bareS.jobsPerSecond) },
    dispatch: { farm: farmDispatchResult, bare: bareD, ratioP50: round(farmDispatchResult.latency.p50 / bareD.latency.p50), ratioP99: round(farmDispatchResult.latency.p99 / bareD.latency.p99) },
    transcode,
    inference,
    split,
    render,
    live,
    targets: {
      dispatchP50: { limitMs: TARGETS.dispatchP50Ms, valueMs: farmDispatchResult.latency.p50, met: farmDispatchResult.latency.p50 < TARGETS.dispatchP50Ms },
      transcode: transcode.map((t) => ({
        case: `${t.clip.seconds} s ${t.clip.height}p→${t.ladder ? `HLS ladder ${t.ladder.join('/')}` : `${t.height}p`}`,
        limitRatio: TARGETS.transcodeRatio,
        worker: t.ratios.worker,
        endToEnd: t.ratios.endToEnd,
        workerMet: t.ratios.worker <= TARGETS.transcodeRatio,
        endToEndMet: t.ratios.endToEnd <= TARGETS.transcodeRatio,
      })),
      inference: inferenceTargets(inference),
      render: renderTarget(render),
    },
    loadAverageAtEnd: os.loadavg().map((l) => round(l, 2)),
    notes,
  };
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: ${flag} must be a positive integer, got '${value}'\n`);
    process.exit(2);
  }
  return n;
}

function databaseLabel(): string {
  if (testDbKind === 'pglite') return 'pglite (embedded, in the API process)';
  return `postgres server (${new URL(world.env.DATABASE_URL!).host})`;
}

/** The bench's own database on the test server (testWorld made it): dropped through the maintenance database. */
async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  if (!/^malan_t_[0-9a-f]+$/.test(name)) throw new Error(`refusing to drop unexpected database '${name}'`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await sql.end();
  }
}
