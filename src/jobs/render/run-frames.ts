/**
 * A frame task on the worker: fetch the scene, run Blender (or the job's template) for the task's
 * frames, store each frame as it is saved with a small preview of the newest, and check at the
 * end that every frame exists and is an image of the right kind. A renderer that exits 0 having
 * saved nothing (Blender does so on a file it cannot read) fails the task with what it printed.
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { JobError } from '../job-error.js';
import { BlenderOutputParser } from './blender-output.js';
import { planBlenderTask } from './blender-plan.js';
import type { RenderTaskRuntime, TaskOutcome } from './render-runtime.js';
import { frameNumbers } from './spec.js';
import { checkParameters, expandCommand, outputName, parseTemplate } from './template.js';

const CONTENT_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', exr: 'image/x-exr' };
const PREVIEW_EVERY_MS = 2000;

export async function renderFrames(rt: RenderTaskRuntime): Promise<TaskOutcome> {
  const t = rt.task;
  const frames = frameNumbers({ start: t.frameStart, end: t.frameEnd, step: t.frameStep });
  const scene = path.join(rt.workDir, rt.input.renderer === 'blender' ? 'scene.blend' : 'input');
  const outDir = path.join(rt.workDir, 'out');
  await mkdir(outDir, { recursive: true });
  await rt.transfer.fetchInput(rt.input.scene.file, scene, rt.signal);

  const stored = new Map<number, { file: string; name: string }>();
  let previewFile: string | undefined;
  let lastPreview = 0;
  let uploads = Promise.resolve();
  const fileOf = (frame: number, ext: string, template?: Parameters<typeof outputName>[0]) =>
    path.join(outDir, template ? outputName(template, frame) : `frame_${String(frame).padStart(4, '0')}.${ext}`);
  // Frames go to storage one after another as the renderer saves them; the task ends after the last.
  const store = (frame: number, file: string, ext: string) => {
    uploads = uploads.then(async () => {
      if (stored.has(frame)) return;
      const name = `frames/frame_${String(frame).padStart(6, '0')}.${ext}`;
      stored.set(frame, { file: await rt.transfer.upload(name, file, CONTENT_TYPES[ext] ?? 'application/octet-stream', rt.signal), name });
      if (ext !== 'exr' && Date.now() - lastPreview > PREVIEW_EVERY_MS) {
        lastPreview = Date.now();
        const thumb = path.join(rt.workDir, `preview-${frame}.jpg`);
        await sharp(file).resize({ width: 320, withoutEnlargement: true }).jpeg({ quality: 80 }).toFile(thumb);
        previewFile = await rt.transfer.upload(`previews/frame_${String(frame).padStart(6, '0')}.jpg`, thumb, 'image/jpeg', rt.signal);
      }
      rt.report(stored.size, stored.size / frames.length, previewFile);
    });
  };

  const started = performance.now();
  let cpuSeconds = 0;
  let ext: string;
  let execution: Record<string, unknown>;
  const errors: string[] = [];
  if (rt.input.renderer === 'blender') {
    const caps = rt.caps.renderers.find((r) => r.name === 'blender')?.blender;
    if (!caps) throw new JobError('internal', 'this worker has no working Blender (its probe found none)', true);
    const plan = planBlenderTask(rt.input, { frameStart: t.frameStart, frameEnd: t.frameEnd, step: t.frameStep }, caps, { scene, outDir });
    ext = plan.fileExtension;
    rt.log('info', `Blender ${caps.version} on ${plan.device}: ${plan.reason}`);
    for (const note of plan.notes) rt.log('warn', note);
    rt.log('info', `${plan.command.map((a) => (a.includes('\n') ? '<settings script>' : a)).join(' ')}`);
    const parser = new BlenderOutputParser();
    let frame = frames[0]!;
    const result = await rt.renderer.run(plan.command, {
      cwd: rt.workDir,
      signal: rt.signal,
      killGraceMs: rt.killGraceMs,
      onLine: (line) => {
        for (const e of parser.push(line)) {
          if (e.type === 'frame') frame = e.frame;
          else if (e.type === 'progress') rt.report(stored.size, (stored.size + e.fraction) / frames.length, previewFile);
          else if (e.type === 'saved') store(frame, e.path, ext);
          else if (e.type === 'error') errors.push(e.message);
        }
        if (!line.startsWith('Fra:')) rt.log(/error/i.test(line) ? 'error' : 'info', line);
      },
    });
    cpuSeconds += result.cpuSeconds;
    if (result.code !== 0) throw renderFailure(`Blender exited with ${result.signal ?? `code ${result.code}`}`, errors);
    execution = { path: plan.device === 'CPU' ? 'cpu' : plan.device.toLowerCase(), renderer: 'blender', device: plan.device, reason: plan.reason, blender: caps.version };
  } else {
    const template = parseTemplate(t.template);
    const values = checkParameters(template, rt.input.parameters);
    ext = template.outputs.format;
    const runs = template.per === 'frame' ? frames.map((f) => [f]) : [frames];
    for (const group of runs) {
      const argv = expandCommand(template, values, { frame: template.per === 'frame' ? group[0] : undefined, frameStart: group[0]!, frameEnd: group[group.length - 1]!, frameStep: t.frameStep, outputDir: outDir, scene });
      rt.log('info', argv.join(' '));
      const result = await rt.renderer.run(argv, { cwd: rt.workDir, signal: rt.signal, killGraceMs: rt.killGraceMs, onLine: (line) => rt.log('info', line) });
      cpuSeconds += result.cpuSeconds;
      if (result.code !== 0) throw new JobError('internal', `${template.command[0]} exited with ${result.signal ?? `code ${result.code}`}`, true);
      for (const f of group) if (await exists(fileOf(f, ext, template))) store(f, fileOf(f, ext, template), ext);
    }
    execution = { path: 'cpu', renderer: template.name, per: template.per };
    for (const f of frames) if (!stored.has(f) && (await exists(fileOf(f, ext, template)))) store(f, fileOf(f, ext, template), ext);
  }
  await uploads;
  // Every frame of the task, or the task failed: a renderer's exit code alone is not trusted.
  const missing = frames.filter((f) => !stored.has(f));
  if (missing.length) throw renderFailure(`${missing.length} of ${frames.length} frames were not saved (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})`, errors);
  const seconds = (performance.now() - started) / 1000;
  return {
    outputs: frames.map((f) => ({ frame: f, ...stored.get(f)! })),
    previewFile,
    secondsPerFrame: seconds / frames.length,
    cpuSeconds,
    execution: { ...execution, frames: frames.length, seconds_per_frame: Math.round((seconds / frames.length) * 1000) / 1000 },
  };
}

/** What the renderer printed decides whose fault it is: a scene it cannot read is the input's. */
function renderFailure(what: string, errors: string[]): JobError {
  const said = errors.at(-1);
  if (said && /malan: scene .* is not in this file/.test(said)) return new JobError('invalid_input', said.replace(/^Error: malan: /, ''));
  if (said && /not a blend file|file format is not supported|cannot read file|failed to read blend file|unable to open/i.test(said)) {
    return new JobError('media_unreadable', `the scene could not be read: ${said}`);
  }
  return new JobError('internal', said ? `${what}: ${said}` : what, true);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then((s) => s.isFile() && s.size > 0, () => false);
}
