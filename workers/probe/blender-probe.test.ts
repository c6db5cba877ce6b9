import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BLENDER_PROBE_SCRIPT, BLENDER_PROBE_TIMEOUT_MS, blenderProbeArgs, parseBlenderCaps, parseBlenderProbe, probeBlender, type TimedRunCommand } from './blender-probe.js';

/** Debian's Blender 3.4.1 on a 2-core host without a GPU, the real stdout of blenderProbeArgs(). */
const DEBIAN_CPU = readFileSync(new URL('./fixtures/blender-3.4.1-debian-probe.txt', import.meta.url), 'utf8');

/**
 * Not a recording (no GPU host was at hand): the line the same script prints when Cycles lists an
 * NVIDIA card under OptiX and CUDA, written from Cycles' device tuples (name, type, id).
 */
const OPTIX_HOST = [
  'Blender 4.2.3 LTS',
  'MALAN_BLENDER_CAPS {"version": "4.2.3 LTS", "cyclesDevices": ["OPTIX", "CUDA", "CPU"], "gpuDevices": [{"type": "OPTIX", "name": "NVIDIA H100 80GB HBM3"}, {"type": "CUDA", "name": "NVIDIA H100 80GB HBM3"}], "openImageDenoise": true, "optixDenoiser": true, "problems": []}',
  '',
  'Blender quit',
].join('\n');

describe('parseBlenderCaps', () => {
  it("reads Debian's CPU-only Blender: Cycles on the CPU, no denoiser", () => {
    expect(parseBlenderCaps(DEBIAN_CPU)).toEqual({ version: '3.4.1', cyclesDevices: ['CPU'], gpuDevices: [], openImageDenoise: false, optixDenoiser: false });
  });

  it('reads a GPU host: OptiX, CUDA and the OptiX denoiser', () => {
    expect(parseBlenderCaps(OPTIX_HOST)).toEqual({
      version: '4.2.3 LTS',
      cyclesDevices: ['OPTIX', 'CUDA', 'CPU'],
      gpuDevices: [
        { type: 'OPTIX', name: 'NVIDIA H100 80GB HBM3' },
        { type: 'CUDA', name: 'NVIDIA H100 80GB HBM3' },
      ],
      openImageDenoise: true,
      optixDenoiser: true,
    });
  });

  it('drops device types it does not know and keeps the problems apart', () => {
    const line = 'MALAN_BLENDER_CAPS {"version": "3.4.1", "cyclesDevices": ["VULKAN", "CPU"], "gpuDevices": [{"type": "CUDA"}], "openImageDenoise": false, "optixDenoiser": false, "problems": ["CUDA: cuInit failed"]}';
    expect(parseBlenderProbe(line)).toEqual({
      caps: { version: '3.4.1', cyclesDevices: ['CPU'], gpuDevices: [], openImageDenoise: false, optixDenoiser: false },
      problems: ['CUDA: cuInit failed'],
    });
  });

  it.each([
    ['no marker', 'Blender 3.4.1\nBlender quit\n'],
    ['broken JSON', 'MALAN_BLENDER_CAPS {"version": "3.4.1", \n'],
    ['no version', 'MALAN_BLENDER_CAPS {"cyclesDevices": [], "gpuDevices": []}\n'],
    ['not an object', 'MALAN_BLENDER_CAPS 42\n'],
  ])('is null on %s', (_, stdout) => {
    expect(parseBlenderCaps(stdout)).toBeNull();
  });
});

describe('probeBlender', () => {
  it('runs one background Blender with factory settings and a timeout', async () => {
    const calls: Array<[string, string[], number | undefined]> = [];
    const run: TimedRunCommand = async (cmd, args, timeoutMs) => {
      calls.push([cmd, args, timeoutMs]);
      return { code: 0, stdout: DEBIAN_CPU, stderr: '' };
    };
    const result = await probeBlender(run);
    expect(calls).toEqual([['blender', ['-b', '--factory-startup', '-noaudio', '--python-expr', BLENDER_PROBE_SCRIPT], BLENDER_PROBE_TIMEOUT_MS]]);
    expect(blenderProbeArgs()).toEqual(calls[0]![1]);
    expect(result).toEqual({
      caps: { version: '3.4.1', cyclesDevices: ['CPU'], gpuDevices: [], openImageDenoise: false, optixDenoiser: false },
      notes: ['blender 3.4.1 has no denoiser (no OpenImageDenoise, no OptiX): render tasks turn denoising off'],
    });
  });

  it('says why when Blender fails, and leaves the caps out', async () => {
    // Blender prints its errors on stdout.
    const stdout = "Blender 3.4.1\nError: Python: Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\nError: script failed, expr: 'import bpy', exiting.\n";
    const run: TimedRunCommand = async () => ({ code: 1, stdout, stderr: 'Command failed: blender -b --factory-startup -noaudio --python-expr import bpy, json\n' });
    expect(await probeBlender(run)).toEqual({
      caps: null,
      notes: ["blender probe failed (exit 1): Error: script failed, expr: 'import bpy', exiting.; this worker's Blender devices and denoisers are unknown"],
    });
  });

  it("says so when the probe printed nothing (runCommand's timeout kill reads like this)", async () => {
    // What runCommand returned for a real Blender killed by a 300 ms timeout.
    const run: TimedRunCommand = async () => ({ code: 1, stdout: '', stderr: 'Command failed: blender -b --factory-startup -noaudio --python-expr import bpy, json\ncaps = {}\n' });
    expect((await probeBlender(run)).notes).toEqual(["blender probe failed (exit 1): no capabilities line in its output (timed out or crashed); this worker's Blender devices and denoisers are unknown"]);
  });

  it('says blender was not found on exit 127', async () => {
    const run: TimedRunCommand = async () => ({ code: 127, stdout: '', stderr: 'spawn blender ENOENT' });
    expect((await probeBlender(run)).notes).toEqual(["blender probe failed (exit 127): blender not found; this worker's Blender devices and denoisers are unknown"]);
  });
});
