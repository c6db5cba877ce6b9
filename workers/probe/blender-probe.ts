/**
 * What the worker's Blender can do, asked of Blender itself: its version, the Cycles device types
 * that have devices here, the GPUs Cycles sees, and which denoisers it has. One background run
 * (about 1 s on a CPU host) prints one marked JSON line; `parseBlenderCaps` reads it.
 */
import type { BlenderCaps } from '../../src/capabilities/worker-capabilities.js';
import type { CommandResult } from './nvidia-smi.js';

export const BLENDER_CAPS_MARKER = 'MALAN_BLENDER_CAPS ';

/** CUDA/OptiX initialisation on a cold driver takes seconds; a Blender hung longer than this is broken. */
export const BLENDER_PROBE_TIMEOUT_MS = 20_000;

/** A runner that may honour a timeout (runCommand does); a two-argument runner still fits. */
export type TimedRunCommand = (cmd: string, args: string[], timeoutMs?: number) => Promise<CommandResult>;

const CYCLES_DEVICE_TYPES: ReadonlySet<string> = new Set(['OPTIX', 'CUDA', 'HIP', 'METAL', 'ONEAPI', 'CPU']);

/**
 * Runs inside Blender. Every step is guarded: a missing attribute in another Blender version becomes
 * a problem in the output, not a failed probe. `bpy.app.build_options` has no `openimagedenoise` in
 * 3.4 (checked on Debian's build); Cycles' own `_cycles.with_openimagedenoise` is what its denoiser
 * menu reads. `get_devices_for_type` appends the CPU to any type with devices, so entries are
 * filtered by type. The OptiX denoiser is offered exactly when OptiX devices exist (Cycles'
 * `enum_optix_denoiser`).
 */
export const BLENDER_PROBE_SCRIPT = `import bpy, json
caps = {"version": bpy.app.version_string, "cyclesDevices": [], "gpuDevices": [], "openImageDenoise": False, "optixDenoiser": False, "problems": []}
try:
    oidn = getattr(bpy.app.build_options, "openimagedenoise", None)
    if oidn is None:
        import _cycles
        oidn = getattr(_cycles, "with_openimagedenoise", False)
    caps["openImageDenoise"] = bool(oidn)
except Exception as e:
    caps["problems"].append("OpenImageDenoise: %s" % e)
try:
    prefs = bpy.context.preferences.addons["cycles"].preferences
    try:
        types = [t[0] for t in prefs.get_device_types(bpy.context) if t[0] != "NONE"]
    except Exception as e:
        caps["problems"].append("device types: %s" % e)
        types = ["OPTIX", "CUDA", "HIP", "METAL", "ONEAPI"]
    for t in ["OPTIX", "CUDA", "HIP", "METAL", "ONEAPI"]:
        if t not in types:
            continue
        try:
            devices = [d for d in prefs.get_devices_for_type(t) if d.type == t]
        except Exception as e:
            caps["problems"].append("%s: %s" % (t, e))
            continue
        if devices:
            caps["cyclesDevices"].append(t)
            caps["gpuDevices"] += [{"type": t, "name": d.name} for d in devices]
    import _cycles
    if any(d[1] == "CPU" for d in _cycles.available_devices("CPU")):
        caps["cyclesDevices"].append("CPU")
    caps["optixDenoiser"] = "OPTIX" in caps["cyclesDevices"]
except Exception as e:
    caps["problems"].append("Cycles: %s" % e)
print("${BLENDER_CAPS_MARKER}" + json.dumps(caps), flush=True)
`;

/** `--factory-startup`: the worker account's preferences and add-ons must not change the answer. */
export function blenderProbeArgs(): string[] {
  return ['-b', '--factory-startup', '-noaudio', '--python-expr', BLENDER_PROBE_SCRIPT];
}

export interface BlenderProbeReading {
  caps: BlenderCaps;
  /** Steps inside Blender that raised, for the worker's notes. */
  problems: string[];
}

/** Reads the marked line; null when it is missing or not the shape the script prints. */
export function parseBlenderProbe(stdout: string): BlenderProbeReading | null {
  const line = stdout.split('\n').find((l) => l.startsWith(BLENDER_CAPS_MARKER));
  if (!line) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(line.slice(BLENDER_CAPS_MARKER.length));
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.version !== 'string' || !Array.isArray(r.cyclesDevices) || !Array.isArray(r.gpuDevices)) return null;
  const cyclesDevices = r.cyclesDevices.filter((t): t is BlenderCaps['cyclesDevices'][number] => typeof t === 'string' && CYCLES_DEVICE_TYPES.has(t));
  const gpuDevices = r.gpuDevices
    .filter((d): d is { type: string; name: string } => typeof d === 'object' && d !== null && typeof d.type === 'string' && typeof d.name === 'string')
    .map((d) => ({ type: d.type, name: d.name }));
  const problems = Array.isArray(r.problems) ? r.problems.filter((p): p is string => typeof p === 'string') : [];
  return {
    caps: { version: r.version, cyclesDevices, gpuDevices, openImageDenoise: r.openImageDenoise === true, optixDenoiser: r.optixDenoiser === true },
    problems,
  };
}

export function parseBlenderCaps(stdout: string): BlenderCaps | null {
  return parseBlenderProbe(stdout)?.caps ?? null;
}

/** Never throws: a failure is `caps: null` and notes that say why. */
export async function probeBlender(run: TimedRunCommand, blenderPath = 'blender'): Promise<{ caps: BlenderCaps | null; notes: string[] }> {
  const result = await run(blenderPath, blenderProbeArgs(), BLENDER_PROBE_TIMEOUT_MS);
  const reading = parseBlenderProbe(result.stdout);
  if (!reading) {
    const why = failureReason(result);
    return { caps: null, notes: [`blender probe failed (exit ${result.code}): ${why}; this worker's Blender devices and denoisers are unknown`] };
  }
  const notes = reading.problems.map((p) => `blender probe: ${p}`);
  if (!reading.caps.openImageDenoise && !reading.caps.optixDenoiser) {
    notes.push(`blender ${reading.caps.version} has no denoiser (no OpenImageDenoise, no OptiX): render tasks turn denoising off`);
  }
  return { caps: reading.caps, notes };
}

/**
 * Blender prints its errors on stdout ("Error: …"). runCommand puts execFile's message in stderr
 * when the process wrote none: "Command failed: <the whole command>", script included, which
 * says nothing a reader needs; a kill by the timeout looks like that too.
 */
function failureReason(result: CommandResult): string {
  const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const error = lines(result.stdout).filter((l) => l.startsWith('Error')).at(-1);
  if (error) return error;
  if (result.code === 127) return 'blender not found';
  const stderr = result.stderr.startsWith('Command failed:') ? undefined : lines(result.stderr).at(-1);
  return stderr ?? 'no capabilities line in its output (timed out or crashed)';
}
