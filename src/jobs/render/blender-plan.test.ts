import { describe, expect, it } from 'vitest';
import type { BlenderCaps } from '../../capabilities/worker-capabilities.js';
import { blenderFramePath, blenderSettingsScript, planBlenderTask, type BlenderSettings } from './blender-plan.js';
import { renderInputSchema } from './spec.js';

/** Debian's Blender 3.4.1 here (workers/probe/fixtures/blender-3.4.1-debian-probe.txt). */
const DEBIAN_CPU: BlenderCaps = { version: '3.4.1', cyclesDevices: ['CPU'], gpuDevices: [], openImageDenoise: false, optixDenoiser: false };
const H100 = 'NVIDIA H100 80GB HBM3';
/** An official build on an NVIDIA host. */
const OPTIX_HOST: BlenderCaps = {
  version: '4.2.3 LTS',
  cyclesDevices: ['OPTIX', 'CUDA', 'CPU'],
  gpuDevices: [
    { type: 'OPTIX', name: H100 },
    { type: 'CUDA', name: H100 },
  ],
  openImageDenoise: true,
  optixDenoiser: true,
};
/** A build with CUDA but no OptiX and no OpenImageDenoise (Debian's 3.4 lists CUDA and HIP, not OptiX). */
const CUDA_HOST: BlenderCaps = { version: '3.4.1', cyclesDevices: ['CUDA', 'CPU'], gpuDevices: [{ type: 'CUDA', name: 'Tesla T4' }], openImageDenoise: false, optixDenoiser: false };
/** OptiX devices and the OptiX denoiser, without OpenImageDenoise. */
const OPTIX_NO_OIDN: BlenderCaps = { ...OPTIX_HOST, version: '3.4.1', openImageDenoise: false };

const PATHS = { scene: '/var/malan/task/scene.blend', outDir: '/var/malan/task/frames' };
const TASK = { frameStart: 1, frameEnd: 4, step: 1 };
const NO_DENOISER = 'denoising off: this worker\'s Blender 3.4.1 has no OpenImageDenoise (with denoising on, Cycles stops with "Build without OpenImageDenoiser")';

function input(blender?: Record<string, unknown>) {
  // DESIGN.md's smallest input, plus the options under test.
  return renderInputSchema.parse({
    scene: { file: 'file_0123456789abcdefghijklmnop' },
    renderer: 'blender',
    frames: { start: 1, end: 24 },
    chunk_size: 4,
    ...(blender ? { blender } : {}),
  });
}

const DEFAULT_SETTINGS: BlenderSettings = { scene: null, engine: null, resolution: null, samples: null, device: 'CPU', denoising: 'off', format: 'PNG' };

function command(settings: BlenderSettings, opts: { scene?: string; format?: string; start?: number; end?: number; step?: number } = {}): string[] {
  return [
    'blender',
    '-b',
    '--factory-startup',
    '--disable-autoexec',
    '-noaudio',
    PATHS.scene,
    ...(opts.scene !== undefined ? ['-S', opts.scene] : []),
    '--python-exit-code',
    '2',
    '--python-expr',
    blenderSettingsScript(settings),
    '-o',
    '/var/malan/task/frames/frame_####',
    '-F',
    opts.format ?? 'PNG',
    '-x',
    '1',
    '-s',
    String(opts.start ?? 1),
    '-e',
    String(opts.end ?? 4),
    '-j',
    String(opts.step ?? 1),
    '-a',
  ];
}

describe('planBlenderTask', () => {
  it("renders DESIGN.md's smallest input on Debian's CPU-only Blender: file's settings, Cycles on the CPU, denoising off", () => {
    expect(planBlenderTask(input(), TASK, DEBIAN_CPU, PATHS)).toEqual({
      command: command(DEFAULT_SETTINGS),
      device: 'CPU',
      reason: "no GPU device in this worker's Blender: Cycles on the CPU (if the file renders with Cycles)",
      framePattern: '/var/malan/task/frames/frame_####.png',
      fileExtension: 'png',
      notes: [NO_DENOISER],
    });
  });

  it('sets resolution, samples and half-float EXR when asked, and the task range and step', () => {
    const plan = planBlenderTask(
      input({ engine: 'CYCLES', resolution: { width: 1920, height: 1080 }, samples: 64, format: 'OPEN_EXR' }),
      { frameStart: 5, frameEnd: 11, step: 3 },
      DEBIAN_CPU,
      PATHS,
    );
    const settings: BlenderSettings = { ...DEFAULT_SETTINGS, engine: 'CYCLES', resolution: { width: 1920, height: 1080, percentage: 100 }, samples: 64, format: 'OPEN_EXR' };
    expect(plan).toEqual({
      command: command(settings, { format: 'OPEN_EXR', start: 5, end: 11, step: 3 }),
      device: 'CPU',
      reason: "no GPU device in this worker's Blender: Cycles on the CPU",
      framePattern: '/var/malan/task/frames/frame_####.exr',
      fileExtension: 'exr',
      notes: [NO_DENOISER],
    });
  });

  it('keeps a percentage given with the resolution', () => {
    const plan = planBlenderTask(input({ resolution: { width: 3840, height: 2160, percentage: 25 } }), TASK, DEBIAN_CPU, PATHS);
    expect(plan.command).toEqual(command({ ...DEFAULT_SETTINGS, resolution: { width: 3840, height: 2160, percentage: 25 } }));
  });

  it('AUTO takes OptiX where the probe found it, and leaves denoising to the file (OpenImageDenoise is there)', () => {
    expect(planBlenderTask(input({ engine: 'CYCLES' }), TASK, OPTIX_HOST, PATHS)).toEqual({
      command: command({ ...DEFAULT_SETTINGS, engine: 'CYCLES', device: 'OPTIX', denoising: 'as-saved' }),
      device: 'OPTIX',
      reason: `AUTO: Cycles on OPTIX (${H100}), the best device this worker's Blender found`,
      framePattern: '/var/malan/task/frames/frame_####.png',
      fileExtension: 'png',
      notes: [],
    });
  });

  it('AUTO takes CUDA where there is no OptiX; no denoiser there turns denoising off', () => {
    const plan = planBlenderTask(input({ engine: 'CYCLES' }), TASK, CUDA_HOST, PATHS);
    expect(plan.command).toEqual(command({ ...DEFAULT_SETTINGS, engine: 'CYCLES', device: 'CUDA', denoising: 'off' }));
    expect([plan.device, plan.reason, plan.notes]).toEqual(['CUDA', "AUTO: Cycles on CUDA (Tesla T4), the best device this worker's Blender found", [NO_DENOISER]]);
  });

  it('denoises with OptiX on OptiX when OpenImageDenoise is missing', () => {
    const plan = planBlenderTask(input({ device: 'OPTIX' }), TASK, OPTIX_NO_OIDN, PATHS);
    expect(plan.command).toEqual(command({ ...DEFAULT_SETTINGS, device: 'OPTIX', denoising: 'optix' }));
    expect([plan.device, plan.reason, plan.notes]).toEqual([
      'OPTIX',
      `Cycles on OPTIX (${H100}), as asked (if the file renders with Cycles)`,
      ["denoiser: OptiX (this worker's Blender has no OpenImageDenoise)"],
    ]);
  });

  it('CUDA on the same host has no OptiX denoiser: denoising off', () => {
    const plan = planBlenderTask(input({ device: 'CUDA' }), TASK, OPTIX_NO_OIDN, PATHS);
    expect([plan.device, plan.notes]).toEqual(['CUDA', [NO_DENOISER]]);
  });

  it('CUDA asked on a CPU-only worker falls back to the CPU, and says so loudly', () => {
    const fallback = "FALLBACK: CUDA was asked for, but this worker's Blender has no CUDA device (it has: CPU); Cycles renders on the CPU";
    expect(planBlenderTask(input({ engine: 'CYCLES', device: 'CUDA' }), TASK, DEBIAN_CPU, PATHS)).toEqual({
      command: command({ ...DEFAULT_SETTINGS, engine: 'CYCLES', device: 'CPU' }),
      device: 'CPU',
      reason: fallback,
      framePattern: '/var/malan/task/frames/frame_####.png',
      fileExtension: 'png',
      notes: [fallback, NO_DENOISER],
    });
  });

  it('CPU asked on a GPU host stays on the CPU', () => {
    const plan = planBlenderTask(input({ engine: 'CYCLES', device: 'CPU' }), TASK, OPTIX_HOST, PATHS);
    expect([plan.device, plan.reason, plan.notes]).toEqual(['CPU', 'Cycles on the CPU, as asked', []]);
  });

  it('Eevee: Eevee samples, no Cycles device settings, no denoising change', () => {
    expect(planBlenderTask(input({ engine: 'BLENDER_EEVEE', samples: 16 }), TASK, DEBIAN_CPU, PATHS)).toEqual({
      command: command({ ...DEFAULT_SETTINGS, engine: 'BLENDER_EEVEE', samples: 16, device: null, denoising: 'as-saved' }),
      device: 'CPU',
      reason: "Eevee draws with OpenGL; this worker's Blender found no GPU, so that is software OpenGL (Mesa) on the CPU",
      framePattern: '/var/malan/task/frames/frame_####.png',
      fileExtension: 'png',
      notes: [],
    });
  });

  it('Eevee on a GPU host: a device asked for is ignored, with a note', () => {
    const plan = planBlenderTask(input({ engine: 'BLENDER_EEVEE', device: 'CPU' }), TASK, OPTIX_HOST, PATHS);
    expect([plan.device, plan.reason, plan.notes]).toEqual([
      'OPTIX',
      `Eevee draws with OpenGL on the host's GPU driver (${H100}), not through a Cycles device`,
      ['blender.device CPU applies to Cycles only: Eevee ignores it'],
    ]);
  });

  it('selects a named scene with -S (one argv token) and checks it in the script', () => {
    const plan = planBlenderTask(input({ scene: 'Shot 2 – wide' }), TASK, DEBIAN_CPU, PATHS);
    expect(plan.command).toEqual(command({ ...DEFAULT_SETTINGS, scene: 'Shot 2 – wide' }, { scene: 'Shot 2 – wide' }));
  });
});

describe('blenderSettingsScript', () => {
  it('embeds the settings as one JSON string literal read by json.loads', () => {
    const script = blenderSettingsScript({ ...DEFAULT_SETTINGS, scene: 'Shot 2 – wide' });
    const lines = script.split('\n');
    expect(lines.slice(0, 2)).toEqual([
      'import bpy, json, sys',
      String.raw`s = json.loads("{\"scene\":\"Shot 2 – wide\",\"engine\":null,\"resolution\":null,\"samples\":null,\"device\":\"CPU\",\"denoising\":\"off\",\"format\":\"PNG\"}")`,
    ]);
    // The name appears nowhere else in the code.
    expect(script.split('Shot 2').length).toBe(2);
  });

  it('keeps a name that looks like code inside the JSON (the spec allows semicolons and parentheses)', () => {
    const name = 'x); import os; os.system(1'; // no quote or backslash, so the spec lets it through
    expect(input({ scene: name }).blender?.scene).toBe(name);
    const line = blenderSettingsScript({ ...DEFAULT_SETTINGS, scene: name }).split('\n')[1]!;
    const literal = /^s = json\.loads\((".*")\)$/.exec(line)?.[1];
    // The Python literal is a JSON string: decoding it twice gives back the settings, name intact.
    expect(JSON.parse(JSON.parse(literal!) as string)).toEqual({ ...DEFAULT_SETTINGS, scene: name });
  });

  it("is not reached by a name with quotes: the spec refuses `\"; import os; os.system('x')`", () => {
    const result = renderInputSchema.safeParse({
      scene: { file: 'file_0123456789abcdefghijklmnop' },
      renderer: 'blender',
      frames: { start: 1, end: 24 },
      blender: { scene: `"; import os; os.system('x')` },
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message)).toEqual(['blender.scene: a scene name without quotes, backslashes or control characters']);
  });
});

describe('blenderFramePath', () => {
  it('pads to four digits like ####, and grows past 9999', () => {
    expect([blenderFramePath('/o', 7, 'png'), blenderFramePath('/o', 12345, 'exr')]).toEqual(['/o/frame_0007.png', '/o/frame_12345.exr']);
  });
});
