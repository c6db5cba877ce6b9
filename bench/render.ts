/**
 * The render phase: what the farm adds to each render task beyond Blender's own time, and frames
 * per hour. One scene built by Blender's own Python (test/helpers/blend-scene.ts), 12 frames in
 * tasks of 3. Bare: the exact argv a worker runs for each task (`planBlenderTask` with the Blender
 * capabilities probed as the worker probes them), spawned here, task after task. Farm: the same
 * scene and chunk size as a render job on the bench's one worker, its tasks' times read back from
 * `GET /v1/jobs/{id}/tasks` and the job's log. Bare and farm runs alternate (bare, farm, bare …).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ApiClient } from '../test/helpers/api-client.js';
import { makeBlendScene } from '../test/helpers/blend-scene.js';
import type { BlenderCaps } from '../src/capabilities/worker-capabilities.js';
import { blenderFramePath, planBlenderTask } from '../src/jobs/render/blender-plan.js';
import { frameNumbers, renderInputSchema, type RenderInput } from '../src/jobs/render/spec.js';
import { probeBlender } from '../workers/probe/blender-probe.js';
import { runCommand } from '../workers/probe/run-command.js';
import { followJob } from './follow-job.js';
import { median, round, sleep } from './measure.js';

/** Frames take about 0.2 s each on a 2-core CPU host, after about 1.1 s of Blender start-up. */
export const RENDER_SCENE = { frames: 12, width: 320, height: 180, samples: 16 } as const;
export const RENDER_CHUNK = 3;
export const RENDER_PROFILES = { full: { reps: 3, warmup: 1 }, quick: { reps: 1, warmup: 0 } } as const;

export interface RenderSetup {
  scene: string;
  sceneBytes: number;
  caps: BlenderCaps;
  probeNotes: string[];
  input: RenderInput;
  /** The tasks' frame ranges, as the job compiles them with chunk_size. */
  tasks: Array<{ frameStart: number; frameEnd: number }>;
}

export interface BareRenderRun {
  /** Spawn → exit of each task's Blender, in seconds. */
  taskSeconds: number[];
  /** Blender's own "Time:" per frame, summed per task: the frames' render and save, without start-up. */
  framesSeconds: number[];
  totalSeconds: number;
}

export interface FarmRenderTask {
  index: number;
  /** started_at → ended_at: the worker's reports, from the start report to the end report. */
  seconds: number;
  /** The worker's own "task N completed in X s" (10 ms resolution), before the end report. */
  loggedSeconds: number | null;
  /** started_at → the logged command line: the start report, the scene (in place or over HTTP), the plan. */
  before: number | null;
  /** The logged command line → Blender's "Blender quit". */
  blender: number | null;
  /** "Blender quit" → ended_at: the last frame's upload, the frame check, draining reports, the end report. */
  after: number | null;
  /** The previous task's ended_at (the job's created_at for the first one to start) → this task's started_at. */
  gapSeconds: number;
}

export interface FarmRenderRun {
  jobId: string;
  /** The frame tasks, in the order they started. */
  tasks: FarmRenderTask[];
  /** The assembly task's started_at → ended_at: the preview video. */
  assemblySeconds: number;
  /** POST sent → the last frame task's ended_at (the worker's clock, same host). */
  framesDoneSeconds: number;
  /** POST sent → `succeeded` seen on SSE, the assembly included. */
  endToEndSeconds: number;
  execution: Record<string, unknown>;
}

export interface RenderResults {
  scene: typeof RENDER_SCENE & { engine: 'CYCLES'; bytes: number };
  chunkSize: number;
  tasksPerJob: number;
  blender: { caps: BlenderCaps; probeNotes: string[]; device: string; reason: string; notes: string[]; command: string[] };
  bare: { runs: BareRenderRun[]; taskMedianSeconds: number; framesMedianSeconds: number; jobMedianSeconds: number; framesPerHour: number };
  farm: {
    runs: FarmRenderRun[];
    taskMedianSeconds: number;
    phasesMedian: { before: number; blender: number; after: number } | null;
    gapMedianSeconds: number;
    assemblyMedianSeconds: number;
    framesDoneMedianSeconds: number;
    endToEndMedianSeconds: number;
    framesPerHour: number;
    framesPerHourWithoutAssembly: number;
  };
  /** Median farm task − median bare task: what the 0.5 s target is about. */
  overheadPerTaskSeconds: number;
  /** (POST → last frame task ended − the bare job) / tasks: the same, with submission and dispatch. */
  overheadPerTaskEndToEndSeconds: number;
}

/** Before the farm starts: the scene, and Blender's capabilities asked the way the worker asks them. */
export async function prepareRender(tmp: string): Promise<RenderSetup> {
  const dir = path.join(tmp, 'render');
  mkdirSync(dir, { recursive: true });
  const scene = makeBlendScene(dir, RENDER_SCENE);
  const probe = await probeBlender(runCommand, 'blender');
  if (!probe.caps) throw new Error(`render: ${probe.notes.join('; ')}`);
  const input = renderInputSchema.parse({ scene: { file: 'file_00000000000000000000000000' }, renderer: 'blender', frames: { start: 1, end: RENDER_SCENE.frames }, chunk_size: RENDER_CHUNK });
  const frames = frameNumbers(input.frames);
  const tasks = [];
  for (let i = 0; i < frames.length; i += RENDER_CHUNK) tasks.push({ frameStart: frames[i]!, frameEnd: frames[Math.min(i + RENDER_CHUNK, frames.length) - 1]! });
  return { scene, sceneBytes: statSync(scene).size, caps: probe.caps, probeNotes: probe.notes, input, tasks };
}

export async function renderPhase(opts: { setup: RenderSetup; api: ApiClient; baseUrl: string; key: string; tmp: string; reps: number; warmup: number; tag: string }): Promise<RenderResults> {
  const { setup, api } = opts;
  const up = await api.upload(readFileSync(setup.scene), 'application/octet-stream', 'scene.blend');
  if (up.status !== 201) throw new Error(`upload of the scene answered ${up.status}: ${JSON.stringify(up.body)}`);
  const body = { kind: 'render', input: { scene: { file: up.body.id }, renderer: 'blender', frames: { start: 1, end: RENDER_SCENE.frames }, chunk_size: RENDER_CHUNK } };
  const bareRuns: BareRenderRun[] = [];
  const farmRuns: FarmRenderRun[] = [];
  for (let i = 0; i < opts.warmup + opts.reps; i++) {
    const bare = await runBareJob(setup, opts.tmp);
    const viaFarm = await runFarmJob(api, opts.baseUrl, opts.key, body, `${opts.tag}-render-${i}`, setup.tasks.length);
    if (i < opts.warmup) continue;
    bareRuns.push(bare);
    farmRuns.push(viaFarm);
  }
  const sample = planBlenderTask(setup.input, { ...setup.tasks[0]!, step: 1 }, setup.caps, { scene: setup.scene, outDir: path.join(opts.tmp, 'render', 'out') });
  const farmTasks = farmRuns.flatMap((r) => r.tasks);
  const phases = farmTasks.filter((t) => t.before !== null && t.blender !== null && t.after !== null);
  const frames = RENDER_SCENE.frames;
  const bareTask = median(bareRuns.flatMap((r) => r.taskSeconds));
  const farmTask = median(farmTasks.map((t) => t.seconds));
  const bareJob = median(bareRuns.map((r) => r.totalSeconds));
  const framesDone = median(farmRuns.map((r) => r.framesDoneSeconds));
  const endToEnd = median(farmRuns.map((r) => r.endToEndSeconds));
  return {
    scene: { ...RENDER_SCENE, engine: 'CYCLES', bytes: setup.sceneBytes },
    chunkSize: RENDER_CHUNK,
    tasksPerJob: setup.tasks.length,
    blender: { caps: setup.caps, probeNotes: setup.probeNotes, device: sample.device, reason: sample.reason, notes: sample.notes, command: sample.command },
    bare: { runs: bareRuns, taskMedianSeconds: bareTask, framesMedianSeconds: median(bareRuns.flatMap((r) => r.framesSeconds)), jobMedianSeconds: bareJob, framesPerHour: round((frames / bareJob) * 3600, 0) },
    farm: {
      runs: farmRuns,
      taskMedianSeconds: farmTask,
      phasesMedian: phases.length ? { before: median(phases.map((t) => t.before!)), blender: median(phases.map((t) => t.blender!)), after: median(phases.map((t) => t.after!)) } : null,
      gapMedianSeconds: median(farmRuns.flatMap((r) => r.tasks.slice(1).map((t) => t.gapSeconds))),
      assemblyMedianSeconds: median(farmRuns.map((r) => r.assemblySeconds)),
      framesDoneMedianSeconds: framesDone,
      endToEndMedianSeconds: endToEnd,
      framesPerHour: round((frames / endToEnd) * 3600, 0),
      framesPerHourWithoutAssembly: round((frames / framesDone) * 3600, 0),
    },
    overheadPerTaskSeconds: round(farmTask - bareTask),
    overheadPerTaskEndToEndSeconds: round((framesDone - bareJob) / setup.tasks.length),
  };
}

/** The job's tasks one after another, as the one worker runs them, each in a fresh output folder. */
async function runBareJob(setup: RenderSetup, tmp: string): Promise<BareRenderRun> {
  const taskSeconds: number[] = [];
  const framesSeconds: number[] = [];
  for (const task of setup.tasks) {
    const outDir = mkdtempSync(path.join(tmp, 'render', 'bare-'));
    try {
      const plan = planBlenderTask(setup.input, { ...task, step: 1 }, setup.caps, { scene: setup.scene, outDir });
      const run = await runBlender(plan.command);
      const missing = frameNumbers({ start: task.frameStart, end: task.frameEnd, step: 1 }).filter((f) => !isFile(blenderFramePath(outDir, f, plan.fileExtension)));
      if (missing.length) throw new Error(`bare Blender left frames ${missing.join(', ')} unsaved: ${run.tail}`);
      taskSeconds.push(run.wallSeconds);
      framesSeconds.push(run.framesSeconds);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }
  return { taskSeconds, framesSeconds, totalSeconds: round(taskSeconds.reduce((a, b) => a + b, 0)) };
}

/** Spawns the argv as is, its output read as the worker reads it (piped); wall time from spawn to exit. */
function runBlender(argv: string[]): Promise<{ wallSeconds: number; framesSeconds: number; tail: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let framesSeconds = 0;
    const take = (chunk: string) => {
      out += chunk;
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const line of lines) framesSeconds += blenderFrameTime(line) ?? 0;
      out = out.slice(-10_000);
    };
    child.stdout.setEncoding('utf8').on('data', take);
    child.stderr.setEncoding('utf8').on('data', take);
    let wallSeconds = 0;
    child.on('error', reject);
    child.on('exit', () => (wallSeconds = (performance.now() - started) / 1000));
    // 'close' comes after the last output was read: the frames' times are all counted by then.
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`bare Blender exited ${signal ?? code}: ${out}`));
      resolve({ wallSeconds: round(wallSeconds), framesSeconds: round(framesSeconds), tail: out });
    });
  });
}

/** Blender's per-frame " Time: 00:00.19 (Saving: 00:00.01)" (the render and the save), in seconds. */
function blenderFrameTime(line: string): number | null {
  const m = /^\s*Time: ((?:\d+:)*\d+(?:\.\d+)?) \(Saving/.exec(line);
  return m ? m[1]!.split(':').reduce((s, part) => s * 60 + Number(part), 0) : null;
}

async function runFarmJob(api: ApiClient, baseUrl: string, key: string, body: Record<string, unknown>, tag: string, nTasks: number): Promise<FarmRenderRun> {
  const postedAt = Date.now();
  const t0 = performance.now();
  const res = await api.post('/v1/jobs', body, { 'idempotency-key': tag });
  if (res.status !== 201) throw new Error(`POST /v1/jobs (render) answered ${res.status}: ${JSON.stringify(res.body)}`);
  const id = res.body.id as string;
  const seen = await followJob(baseUrl, key, id, 600_000);
  const job = (await api.get(`/v1/jobs/${id}`)).body;
  if (job.status !== 'succeeded' || job.render?.frames_done !== RENDER_SCENE.frames) throw new Error(`farm render ${id} ended ${job.status} with ${job.render?.frames_done} frames: ${JSON.stringify(job.error)}`);
  const rows = (await api.get(`/v1/jobs/${id}/tasks`)).body.results as Array<{ index: number; type: string; started_at: string; ended_at: string }>;
  const frameRows = rows.filter((r) => r.type === 'frames');
  const assembly = rows.find((r) => r.type === 'assembly');
  if (frameRows.length !== nTasks || !assembly) throw new Error(`farm render ${id} has ${frameRows.length} frame tasks and ${assembly ? 'an' : 'no'} assembly`);
  const ms = (iso: string) => Date.parse(iso);
  // Log lines are recorded by concurrent consumers: the last may land a moment after the status.
  let lines: LogLine[] = [];
  for (let i = 0; i < 10; i++) {
    if (i > 0) await sleep(200);
    lines = parseLog(String((await api.get<string>(`/v1/jobs/${id}/logs`)).body));
    if (frameRows.every((r) => lines.some((l) => taskOf(l.attempt) === r.index && /^task \d+ completed in/.test(l.msg)))) break;
  }
  let previousEnd = ms(job.created_at);
  const inOrder = [...frameRows].sort((a, b) => ms(a.started_at) - ms(b.started_at));
  const tasks = inOrder.map((r): FarmRenderTask => {
    const started = ms(r.started_at);
    const ended = ms(r.ended_at);
    const own = lines.filter((l) => taskOf(l.attempt) === r.index);
    const last = Math.max(0, ...own.map((l) => l.attempt));
    const of = own.filter((l) => l.attempt === last);
    const command = of.find((l) => l.msg.startsWith('blender -b '))?.t;
    const quit = of.filter((l) => l.msg === 'Blender quit').at(-1)?.t;
    const logged = of.map((l) => /^task \d+ completed in ([\d.]+) s$/.exec(l.msg)).find((m) => m);
    const gap = started - previousEnd;
    previousEnd = ended;
    const s = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : (b - a) / 1000);
    return { index: r.index, seconds: (ended - started) / 1000, loggedSeconds: logged ? Number(logged[1]) : null, before: s(started, command), blender: s(command, quit), after: s(quit, ended), gapSeconds: gap / 1000 };
  });
  return {
    jobId: id,
    tasks,
    assemblySeconds: (ms(assembly.ended_at) - ms(assembly.started_at)) / 1000,
    framesDoneSeconds: (Math.max(...frameRows.map((r) => ms(r.ended_at))) - postedAt) / 1000,
    endToEndSeconds: round((seen.terminalAt - t0) / 1000),
    execution: job.execution ?? {},
  };
}

interface LogLine {
  t: number;
  attempt: number;
  msg: string;
}

function parseLog(text: string): LogLine[] {
  return text.split('\n').flatMap((raw) => {
    const m = /^(\S+) attempt=(\d+) \S+\s+(.*)$/.exec(raw);
    return m ? [{ t: Date.parse(m[1]!), attempt: Number(m[2]), msg: m[3]! }] : [];
  });
}

/** A render attempt number is (index + 1) × 1000 + generation × 10 + run (src/queue/messages.ts). */
const taskOf = (attempt: number) => Math.floor(attempt / 1000) - 1;

function isFile(file: string): boolean {
  try {
    return statSync(file).size > 0;
  } catch {
    return false;
  }
}
