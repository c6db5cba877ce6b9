/**
 * Everything a worker can do, probed once at start: GPUs (nvidia-smi), ffmpeg and the hardware
 * video paths that pass a real one-frame test, ONNX Runtime's execution providers, renderers on
 * PATH. The result is data; job code reads it and never touches a device itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { WorkerCapabilities } from '../../src/capabilities/worker-capabilities.js';
import { probeBlender } from './blender-probe.js';
import { readGpus, type RunCommand } from './nvidia-smi.js';
import { runCommand } from './run-command.js';
import { parseFfmpegEncoders, probeVideoAcceleration } from './video-acceleration.js';

export interface ProbeOptions {
  gpuIndex?: number;
  ffmpegPath: string;
  run?: RunCommand;
}

export async function probeWorker(opts: ProbeOptions): Promise<WorkerCapabilities> {
  // The timeout a probe asks for (Blender's is shorter than the default) goes through.
  const run = opts.run ?? ((cmd: string, args: string[], timeoutMs?: number) => runCommand(cmd, args, timeoutMs));
  const notes: string[] = [];
  const { gpus, note } = await readGpus(run, opts.gpuIndex);
  if (note) notes.push(note);

  let ffmpeg: WorkerCapabilities['ffmpeg'] = null;
  const version = await run(opts.ffmpegPath, ['-hide_banner', '-version']);
  if (version.code === 0) {
    const encoders = parseFfmpegEncoders((await run(opts.ffmpegPath, ['-hide_banner', '-encoders'])).stdout);
    ffmpeg = { path: opts.ffmpegPath, version: /ffmpeg version (\S+)/.exec(version.stdout)?.[1] ?? 'unknown', encoders };
  } else {
    notes.push(`ffmpeg not usable (${opts.ffmpegPath}, exit ${version.code}): this worker takes no transcode work. Install it (Debian: apt-get install ffmpeg).`);
  }

  let videoAcceleration: WorkerCapabilities['videoAcceleration'] = null;
  const gpu = gpus[0];
  if (ffmpeg && gpu) {
    const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'malan-probe-'));
    try {
      const result = await probeVideoAcceleration({ gpuIndex: gpu.index, gpuName: gpu.name, ffmpegEncoders: ffmpeg.encoders, tmpDir, run });
      videoAcceleration = result.acceleration;
      notes.push(...result.notes);
    } finally {
      await rm(tmpDir, { recursive: true, force: true });
    }
  }

  return {
    hostname: os.hostname(),
    cpuCount: os.availableParallelism(),
    gpus,
    ffmpeg,
    videoAcceleration,
    onnxRuntime: await probeOnnxRuntime(notes, gpus.length > 0),
    renderers: await probeRenderers(run, notes),
    notes,
  };
}

async function probeOnnxRuntime(notes: string[], hasGpu: boolean): Promise<WorkerCapabilities['onnxRuntime']> {
  try {
    const ort = await import('onnxruntime-node');
    // The package lists the providers it was built with; a GPU one is only offered where a GPU is.
    const providers = (ort.listSupportedBackends?.() ?? []).map((b: { name: string }) => b.name).filter((n: string) => n === 'cpu' || hasGpu);
    return { version: ort.env.versions?.common ?? 'unknown', providers };
  } catch (err) {
    notes.push(`onnxruntime-node could not load: ${(err as Error).message.split('\n')[0]}`);
    return null;
  }
}

async function probeRenderers(run: RunCommand, notes: string[]): Promise<WorkerCapabilities['renderers']> {
  const blender = await run('blender', ['--version']);
  if (blender.code !== 0) {
    notes.push('blender not found on PATH: this worker takes no Blender render work');
    return [];
  }
  const version = /Blender (\S+)/.exec(blender.stdout)?.[1] ?? null;
  // What Cycles can use here (devices, denoisers), asked of Blender itself; on failure the render
  // plan has nothing to pick a device from, and the note says why.
  const probe = await probeBlender(run, 'blender');
  notes.push(...probe.notes);
  return [{ name: 'blender', path: 'blender', version, ...(probe.caps ? { blender: probe.caps } : {}) }];
}
