/**
 * One render task (a chunk of frames) as a Blender command line: pure, from the validated input and
 * the worker's probed Blender capabilities. Blender reads its arguments in order: the .blend loads,
 * `-S` picks the scene, the settings script runs on it, `-o/-F/-x/-s/-e/-j` set the output and the
 * range, and `-a` renders; anything after `-a` would come too late. `--factory-startup`,
 * `--disable-autoexec` and `-noaudio` apply before the file loads wherever they stand (checked on
 * 3.4.1), and `--factory-startup` keeps the file's own render settings (it only skips the worker
 * account's startup file, preferences and add-ons).
 */
import type { BlenderCaps } from '../../capabilities/worker-capabilities.js';
import type { RenderInput } from './spec.js';

export type BlenderDevice = 'OPTIX' | 'CUDA' | 'CPU';

export interface BlenderTaskPlan {
  command: string[];
  /** Where Cycles renders. For Eevee (OpenGL), where its OpenGL most likely draws; see `reason`. */
  device: BlenderDevice;
  /** Which device and why, for the job log: every fallback says so here and in `notes`. */
  reason: string;
  /** `${outDir}/frame_####.png`: # is the zero-padded frame number (more digits past 9999). */
  framePattern: string;
  fileExtension: 'png' | 'exr';
  notes: string[];
}

/** Everything the settings script applies; only numbers, enums and the schema-checked scene name. */
export interface BlenderSettings {
  /** Checked against the scene `-S` selected: Blender renders the active scene when `-S` names none. */
  scene: string | null;
  engine: 'CYCLES' | 'BLENDER_EEVEE' | null;
  resolution: { width: number; height: number; percentage: number } | null;
  samples: number | null;
  /** null: leave the device settings alone (Eevee has none). */
  device: BlenderDevice | null;
  /** as-saved: the file's choice works here; optix: denoise with OptiX; off: no denoiser for this device. */
  denoising: 'as-saved' | 'optix' | 'off';
  format: 'PNG' | 'OPEN_EXR';
}

/** Exit code of the settings script when it refuses to render (wrong scene, missing GPU, …). */
export const BLENDER_SETTINGS_EXIT_CODE = 2;

export function planBlenderTask(
  input: RenderInput,
  task: { frameStart: number; frameEnd: number; step: number },
  caps: BlenderCaps,
  paths: { scene: string; outDir: string },
): BlenderTaskPlan {
  const options = input.blender;
  const format = options?.format ?? 'PNG';
  const fileExtension = format === 'OPEN_EXR' ? 'exr' : 'png';
  const engine = options?.engine ?? null;
  const choice = chooseBlenderDevice(options?.device ?? 'AUTO', engine, caps);
  const denoise = chooseDenoising(choice.device, engine, caps);
  const resolution = options?.resolution;
  const settings: BlenderSettings = {
    scene: options?.scene ?? null,
    engine,
    // A size without a percentage means that size: the file's percentage (often 50) must not halve it.
    resolution: resolution ? { width: resolution.width, height: resolution.height, percentage: resolution.percentage ?? 100 } : null,
    samples: options?.samples ?? null,
    device: engine === 'BLENDER_EEVEE' ? null : choice.device,
    denoising: denoise.denoising,
    format,
  };
  const command = [
    'blender',
    '-b',
    '--factory-startup',
    // A tenant's .blend must not run its own Python (registered text blocks, Python drivers).
    '--disable-autoexec',
    '-noaudio',
    paths.scene,
    ...(settings.scene !== null ? ['-S', settings.scene] : []),
    // Only a syntax error can escape the script's own checks; it must stop Blender, not render anyway.
    '--python-exit-code',
    String(BLENDER_SETTINGS_EXIT_CODE),
    '--python-expr',
    blenderSettingsScript(settings),
    '-o',
    `${paths.outDir}/frame_####`,
    '-F',
    format,
    '-x',
    '1',
    '-s',
    String(task.frameStart),
    '-e',
    String(task.frameEnd),
    '-j',
    String(task.step),
    '-a',
  ];
  return {
    command,
    device: choice.device,
    reason: choice.reason,
    framePattern: `${paths.outDir}/frame_####.${fileExtension}`,
    fileExtension,
    notes: [...choice.notes, ...denoise.notes],
  };
}

/** The file Blender writes for one frame of `framePattern`: four digits at least, more when needed. */
export function blenderFramePath(outDir: string, frame: number, extension: 'png' | 'exr'): string {
  return `${outDir}/frame_${String(frame).padStart(4, '0')}.${extension}`;
}

function chooseBlenderDevice(
  requested: 'AUTO' | BlenderDevice,
  engine: BlenderSettings['engine'],
  caps: BlenderCaps,
): { device: BlenderDevice; reason: string; notes: string[] } {
  const has = (type: 'OPTIX' | 'CUDA') => caps.cyclesDevices.includes(type);
  const gpuNames = (type: string) => [...new Set(caps.gpuDevices.filter((d) => d.type === type).map((d) => d.name))].join(', ');
  const best: BlenderDevice = has('OPTIX') ? 'OPTIX' : has('CUDA') ? 'CUDA' : 'CPU';
  if (engine === 'BLENDER_EEVEE') {
    const notes = requested === 'AUTO' ? [] : [`blender.device ${requested} applies to Cycles only: Eevee ignores it`];
    const reason =
      best === 'CPU'
        ? "Eevee draws with OpenGL; this worker's Blender found no GPU, so that is software OpenGL (Mesa) on the CPU"
        : `Eevee draws with OpenGL on the host's GPU driver (${gpuNames(best)}), not through a Cycles device`;
    return { device: best, reason, notes };
  }
  const cyclesOnly = engine === null ? ' (if the file renders with Cycles)' : '';
  if (requested === 'AUTO') {
    if (best === 'CPU') return { device: 'CPU', reason: `no GPU device in this worker's Blender: Cycles on the CPU${cyclesOnly}`, notes: [] };
    return { device: best, reason: `AUTO: Cycles on ${best} (${gpuNames(best)}), the best device this worker's Blender found${cyclesOnly}`, notes: [] };
  }
  if (requested === 'CPU') return { device: 'CPU', reason: `Cycles on the CPU, as asked${cyclesOnly}`, notes: [] };
  if (has(requested)) return { device: requested, reason: `Cycles on ${requested} (${gpuNames(requested)}), as asked${cyclesOnly}`, notes: [] };
  const found = caps.cyclesDevices.join(', ') || 'none';
  const fallback = `FALLBACK: ${requested} was asked for, but this worker's Blender has no ${requested} device (it has: ${found}); Cycles renders on the CPU`;
  return { device: 'CPU', reason: fallback, notes: [fallback] };
}

function chooseDenoising(device: BlenderDevice, engine: BlenderSettings['engine'], caps: BlenderCaps): { denoising: BlenderSettings['denoising']; notes: string[] } {
  // Eevee has no denoiser; Cycles falls back to OpenImageDenoise for any denoiser it cannot run.
  if (engine === 'BLENDER_EEVEE' || caps.openImageDenoise) return { denoising: 'as-saved', notes: [] };
  if (device === 'OPTIX' && caps.optixDenoiser) {
    return { denoising: 'optix', notes: ["denoiser: OptiX (this worker's Blender has no OpenImageDenoise)"] };
  }
  return {
    denoising: 'off',
    notes: [
      `denoising off: this worker's Blender ${caps.version} has no OpenImageDenoise${device === 'OPTIX' ? ' and no OptiX denoiser' : ''}` +
        ' (with denoising on, Cycles stops with "Build without OpenImageDenoiser")',
    ],
  };
}

/**
 * The Python run inside Blender after the file loads. The settings enter as one JSON document in a
 * Python string literal, read with json.loads: JSON's string escapes are a subset of Python's, so
 * no value is ever spliced into code. Any refusal prints "Error: malan: …" and exits with
 * BLENDER_SETTINGS_EXIT_CODE before a frame renders; Blender itself would go on rendering after an
 * exception and exit 0.
 */
export function blenderSettingsScript(settings: BlenderSettings): string {
  return `import bpy, json, sys
s = json.loads(${JSON.stringify(JSON.stringify(settings))})
def fail(message):
    print("Error: malan: " + message, flush=True)
    sys.exit(${BLENDER_SETTINGS_EXIT_CODE})
try:
    scene = bpy.context.scene
    if s["scene"] is not None and scene.name != s["scene"]:
        fail("scene %s is not in this file (it has %s)" % (json.dumps(s["scene"]), ", ".join(json.dumps(x.name) for x in bpy.data.scenes)))
    if s["engine"] is not None:
        scene.render.engine = s["engine"]
    if s["resolution"] is not None:
        scene.render.resolution_x = s["resolution"]["width"]
        scene.render.resolution_y = s["resolution"]["height"]
        scene.render.resolution_percentage = s["resolution"]["percentage"]
    if s["samples"] is not None:
        # Both: with no engine given, the file's own engine renders.
        scene.cycles.samples = s["samples"]
        scene.eevee.taa_render_samples = s["samples"]
    if s["device"] == "CPU":
        scene.cycles.device = "CPU"
    elif s["device"] is not None:
        prefs = bpy.context.preferences.addons["cycles"].preferences
        prefs.compute_device_type = s["device"]
        gpus = [d for d in prefs.get_devices_for_type(s["device"]) if d.type == s["device"]]
        if not gpus:
            fail("Cycles finds no %s device now, though the worker's probe did; refusing to render on the CPU instead" % s["device"])
        # The GPUs only: the CPU as an extra Cycles device slows most GPU renders and is the other jobs' CPU.
        for d in prefs.devices:
            d.use = d.type == s["device"]
        scene.cycles.device = "GPU"
        print("malan: Cycles on %s: %s" % (s["device"], ", ".join(d.name for d in gpus)), flush=True)
    if s["denoising"] == "off":
        if scene.cycles.use_denoising:
            print("malan: the scene had denoising on; turned off (no denoiser in this Blender for this device)", flush=True)
        scene.cycles.use_denoising = False
        for layer in scene.view_layers:
            layer.cycles.use_denoising = False
    elif s["denoising"] == "optix":
        scene.cycles.denoiser = "OPTIX"
    render = scene.render
    # A retried task must overwrite a frame a killed attempt left half-written, not skip it.
    render.use_overwrite = True
    render.use_placeholder = False
    render.use_file_extension = True
    render.image_settings.file_format = s["format"]
    render.image_settings.color_mode = "RGBA"
    render.image_settings.color_depth = "16" if s["format"] == "OPEN_EXR" else "8"
except Exception as e:
    fail("render settings failed: %s: %s" % (type(e).__name__, e))
`;
}
