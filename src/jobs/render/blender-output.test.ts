import { describe, expect, it } from 'vitest';
import { BlenderOutputParser, type BlenderEvent } from './blender-output.js';

// Real stdout of Debian's Blender 3.4.1 on a 2-core host with no GPU and no display.

/**
 * Cycles on the CPU, frames 1-3 of test/helpers/blend-scene.ts at 160x90 and 4 samples, run with the
 * planned command (Debian's Blender 3.4.1). Frame 1 is whole; frames 2 and 3 are without their 34
 * "Updating …" and "Synchronizing …" lines, which are the same as frame 1's.
 */
const CYCLES_3_FRAMES = `Blender 3.4.1
Read blend: /tmp/bl/rec/scene.blend
Fra:1 Mem:8.62M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Synchronizing object | Cube
Fra:1 Mem:8.62M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Initializing
Fra:1 Mem:8.47M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Waiting for render to start
Fra:1 Mem:8.47M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Loading render kernels (may take a few minutes the first time)
Fra:1 Mem:8.47M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Scene
Fra:1 Mem:8.47M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Shaders
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Procedurals
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Background
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Camera
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Meshes Flags
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Objects
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Objects | Copying Transformations to device
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Objects | Applying Static Transformations
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Particle Systems
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Particle Systems | Copying Particles to device
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Meshes
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Mesh | Computing attributes
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Mesh | Copying Attributes to device
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Scene BVH | Building
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Scene BVH | Building BVH
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Scene BVH | Building BVH 0%
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Scene BVH | Copying BVH to device
Fra:1 Mem:8.97M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Mesh | Computing normals
Fra:1 Mem:8.98M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Mesh | Copying Mesh to device
Fra:1 Mem:8.98M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Objects Flags
Fra:1 Mem:8.98M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Primitive Offsets
Fra:1 Mem:8.98M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Images
Fra:1 Mem:8.98M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Camera Volume
Fra:1 Mem:8.98M (Peak 10.24M) | Time:00:00.03 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Lookup Tables
Fra:1 Mem:8.98M (Peak 10.24M) | Time:00:00.03 | Mem:0.25M, Peak:0.25M | Scene, ViewLayer | Updating Lights
Fra:1 Mem:8.98M (Peak 10.24M) | Time:00:00.03 | Mem:0.25M, Peak:0.25M | Scene, ViewLayer | Updating Lights | Computing distribution
Fra:1 Mem:8.98M (Peak 10.24M) | Time:00:00.03 | Mem:0.25M, Peak:0.25M | Scene, ViewLayer | Updating Integrator
Fra:1 Mem:9.48M (Peak 10.24M) | Time:00:00.03 | Mem:0.75M, Peak:0.75M | Scene, ViewLayer | Updating Film
Fra:1 Mem:9.48M (Peak 10.24M) | Time:00:00.03 | Mem:0.50M, Peak:0.75M | Scene, ViewLayer | Updating Lookup Tables
Fra:1 Mem:9.48M (Peak 10.24M) | Time:00:00.03 | Mem:0.76M, Peak:0.76M | Scene, ViewLayer | Updating Baking
Fra:1 Mem:9.48M (Peak 10.24M) | Time:00:00.03 | Mem:0.76M, Peak:0.76M | Scene, ViewLayer | Updating Device | Writing constant memory
Fra:1 Mem:9.48M (Peak 10.24M) | Time:00:00.03 | Mem:0.76M, Peak:0.76M | Scene, ViewLayer | Sample 0/4
Fra:1 Mem:9.98M (Peak 10.24M) | Time:00:00.04 | Remaining:00:00.00 | Mem:1.25M, Peak:1.25M | Scene, ViewLayer | Sample 1/4
Fra:1 Mem:10.20M (Peak 10.64M) | Time:00:00.04 | Mem:1.25M, Peak:1.25M | Scene, ViewLayer | Sample 4/4
Fra:1 Mem:10.20M (Peak 10.64M) | Time:00:00.04 | Mem:1.25M, Peak:1.25M | Scene, ViewLayer | Finished
Saved: '/tmp/bl/rec/out-cycles/frame_0001.png'
 Time: 00:00.18 (Saving: 00:00.13)

Fra:2 Mem:8.87M (Peak 10.64M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Initializing
Fra:2 Mem:8.72M (Peak 10.64M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Waiting for render to start
Fra:2 Mem:8.72M (Peak 10.64M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Loading render kernels (may take a few minutes the first time)
Fra:2 Mem:9.48M (Peak 10.64M) | Time:00:00.00 | Mem:0.76M, Peak:0.76M | Scene, ViewLayer | Sample 0/4
Fra:2 Mem:9.98M (Peak 10.64M) | Time:00:00.00 | Remaining:00:00.00 | Mem:1.25M, Peak:1.25M | Scene, ViewLayer | Sample 1/4
Fra:2 Mem:10.20M (Peak 10.64M) | Time:00:00.01 | Mem:1.25M, Peak:1.25M | Scene, ViewLayer | Sample 4/4
Fra:2 Mem:10.20M (Peak 10.64M) | Time:00:00.01 | Mem:1.25M, Peak:1.25M | Scene, ViewLayer | Finished
Saved: '/tmp/bl/rec/out-cycles/frame_0002.png'
 Time: 00:00.01 (Saving: 00:00.00)

Fra:3 Mem:8.87M (Peak 10.64M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Initializing
Fra:3 Mem:8.72M (Peak 10.64M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Waiting for render to start
Fra:3 Mem:8.72M (Peak 10.64M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Loading render kernels (may take a few minutes the first time)
Fra:3 Mem:9.48M (Peak 10.64M) | Time:00:00.00 | Mem:0.76M, Peak:0.76M | Scene, ViewLayer | Sample 0/4
Fra:3 Mem:9.98M (Peak 10.64M) | Time:00:00.00 | Remaining:00:00.00 | Mem:1.25M, Peak:1.25M | Scene, ViewLayer | Sample 1/4
Fra:3 Mem:10.20M (Peak 10.64M) | Time:00:00.01 | Mem:1.25M, Peak:1.25M | Scene, ViewLayer | Sample 4/4
Fra:3 Mem:10.20M (Peak 10.64M) | Time:00:00.01 | Mem:1.25M, Peak:1.25M | Scene, ViewLayer | Finished
Saved: '/tmp/bl/rec/out-cycles/frame_0003.png'
 Time: 00:00.01 (Saving: 00:00.00)


Blender quit
`;

/** Cycles with use_auto_tile and tile_size 64 (6 tiles at 160x90), 8 samples, frame 2; "Updating …" lines cut, stdout and stderr together. */
const CYCLES_TILES = `Blender 3.4.1
Read blend: /tmp/bl/s.blend
Fra:2 Mem:8.62M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Initializing
Fra:2 Mem:8.47M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Waiting for render to start
Fra:2 Mem:8.47M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Loading render kernels (may take a few minutes the first time)
Fra:2 Mem:9.48M (Peak 10.24M) | Time:00:00.03 | Mem:0.76M, Peak:0.76M | Scene, ViewLayer | Rendered 0/6 Tiles, Sample 0/8
Fra:2 Mem:9.65M (Peak 10.24M) | Time:00:00.03 | Remaining:00:00.01 | Mem:0.92M, Peak:0.92M | Scene, ViewLayer | Rendered 0/6 Tiles, Sample 1/8
OIIO DEBUG: Don't know what to do with true cycles.passes.0.lightgroup
OIIO DEBUG: Don't know what to do with true cycles.passes.1.lightgroup
OIIO DEBUG: Don't know what to do with true cycles.passes.2.lightgroup
Fra:2 Mem:9.65M (Peak 10.24M) | Time:00:00.04 | Remaining:00:00.01 | Mem:0.92M, Peak:0.92M | Scene, ViewLayer | Rendered 0/6 Tiles, Sample 8/8
Fra:2 Mem:9.65M (Peak 10.24M) | Time:00:00.04 | Remaining:00:00.01 | Mem:0.92M, Peak:0.92M | Scene, ViewLayer | Rendered 1/6 Tiles, Sample 8/8
Fra:2 Mem:9.66M (Peak 10.24M) | Time:00:00.04 | Remaining:00:00.01 | Mem:0.93M, Peak:0.93M | Scene, ViewLayer | Rendered 1/6 Tiles, Sample 1/8
Fra:2 Mem:9.66M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.01 | Mem:0.93M, Peak:0.93M | Scene, ViewLayer | Rendered 1/6 Tiles, Sample 8/8
Fra:2 Mem:9.66M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.01 | Mem:0.93M, Peak:0.93M | Scene, ViewLayer | Rendered 2/6 Tiles, Sample 8/8
Fra:2 Mem:9.57M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.01 | Mem:0.84M, Peak:0.93M | Scene, ViewLayer | Rendered 2/6 Tiles, Sample 1/8
Fra:2 Mem:9.57M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.00 | Mem:0.84M, Peak:0.93M | Scene, ViewLayer | Rendered 2/6 Tiles, Sample 8/8
Fra:2 Mem:9.57M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.00 | Mem:0.84M, Peak:0.93M | Scene, ViewLayer | Rendered 3/6 Tiles, Sample 8/8
Fra:2 Mem:9.56M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.00 | Mem:0.83M, Peak:0.93M | Scene, ViewLayer | Rendered 3/6 Tiles, Sample 1/8
Fra:2 Mem:9.56M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.00 | Mem:0.83M, Peak:0.93M | Scene, ViewLayer | Rendered 3/6 Tiles, Sample 8/8
Fra:2 Mem:9.56M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.00 | Mem:0.83M, Peak:0.93M | Scene, ViewLayer | Rendered 4/6 Tiles, Sample 8/8
Fra:2 Mem:9.56M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.00 | Mem:0.83M, Peak:0.93M | Scene, ViewLayer | Rendered 4/6 Tiles, Sample 1/8
Fra:2 Mem:9.56M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.00 | Mem:0.83M, Peak:0.93M | Scene, ViewLayer | Rendered 4/6 Tiles, Sample 8/8
Fra:2 Mem:9.56M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.00 | Mem:0.83M, Peak:0.93M | Scene, ViewLayer | Rendered 5/6 Tiles, Sample 8/8
Fra:2 Mem:9.52M (Peak 10.24M) | Time:00:00.05 | Remaining:00:00.00 | Mem:0.80M, Peak:0.93M | Scene, ViewLayer | Rendered 5/6 Tiles, Sample 1/8
Fra:2 Mem:9.52M (Peak 10.24M) | Time:00:00.05 | Mem:0.80M, Peak:0.93M | Scene, ViewLayer | Rendered 5/6 Tiles, Sample 8/8
Fra:2 Mem:9.52M (Peak 10.24M) | Time:00:00.05 | Mem:0.80M, Peak:0.93M | Scene, ViewLayer | Rendered 5/6 Tiles, Sample 0/8
Fra:2 Mem:9.52M (Peak 10.24M) | Time:00:00.05 | Mem:0.80M, Peak:0.93M | Scene, ViewLayer | Finished
Fra:2 Mem:8.73M (Peak 10.24M) | Time:00:00.05 | Mem:0.00M, Peak:0.93M | Scene | Reading full buffer from disk
Fra:2 Mem:9.23M (Peak 10.24M) | Time:00:00.06 | Mem:0.00M, Peak:0.93M | Scene | ViewLayer | Finishing
Saved: '/tmp/bl/outt/frame_0002.png'
 Time: 00:00.19 (Saving: 00:00.12)


Blender quit
`;

/**
 * Eevee, frames 1-2, headless with no display: Blender 3.4.1 falls back to surfaceless EGL (Mesa's
 * software OpenGL here) and renders; the EGL lines come on stderr, shown where they appear. The
 * first frame took 4.4 s (shader compilation), the second 0.02 s.
 */
const EEVEE_2_FRAMES = `Blender 3.4.1
Read blend: /tmp/bl/rec/scene.blend
EGL Error (0x3001): EGL_NOT_INITIALIZED: EGL is not initialized, or could not be initialized, for the specified EGL display connection.

Managed to successfully fallback to surfaceless EGL rendering!

EGL Error (0x3009): EGL_BAD_MATCH: Arguments are inconsistent (for example, a valid context requires buffers not supplied by a valid surface).
EGL Error (0x3001): EGL_NOT_INITIALIZED: EGL is not initialized, or could not be initialized, for the specified EGL display connection.

Managed to successfully fallback to surfaceless EGL rendering!
Fra:1 Mem:10.53M (Peak 11.65M) | Time:00:00.82 | Syncing Cube
Fra:1 Mem:10.54M (Peak 11.65M) | Time:00:01.24 | Syncing Camera
Fra:1 Mem:10.54M (Peak 11.65M) | Time:00:01.24 | Syncing Sun
Fra:1 Mem:10.54M (Peak 11.65M) | Time:00:01.24 | Rendering 1 / 4 samples
Fra:1 Mem:10.54M (Peak 11.65M) | Time:00:04.29 | Rendering 4 / 4 samples
Saved: '/tmp/bl/rec/out-eevee/frame_0001.png'
 Time: 00:04.43 (Saving: 00:00.12)

Fra:2 Mem:10.54M (Peak 11.65M) | Time:00:00.00 | Syncing Cube
Fra:2 Mem:10.54M (Peak 11.65M) | Time:00:00.00 | Syncing Camera
Fra:2 Mem:10.54M (Peak 11.65M) | Time:00:00.00 | Syncing Sun
Fra:2 Mem:10.54M (Peak 11.65M) | Time:00:00.00 | Rendering 1 / 4 samples
Fra:2 Mem:10.54M (Peak 11.65M) | Time:00:00.01 | Rendering 4 / 4 samples
Saved: '/tmp/bl/rec/out-eevee/frame_0002.png'
 Time: 00:00.02 (Saving: 00:00.00)


Blender quit
`;

/** `.blend` of garbage bytes (test/helpers/blend-scene.ts makeCorruptBlend): exit 1, no frame. */
const CORRUPT_BLEND = `Blender 3.4.1
Error: File format is not supported in file '/tmp/bl/rec/corrupt.blend'

Blender quit
`;

/** A file that starts like a .blend and then stops: exit 1. */
const TRUNCATED_BLEND = `Blender 3.4.1
Read blend: /tmp/bl/trunc.blend
Error: Failed to read blend file '/tmp/bl/trunc.blend': Missing DNA block

Blender quit
`;

/** The path does not exist: exit 1. */
const MISSING_BLEND = `Blender 3.4.1
Error: Cannot read file '/tmp/bl/missing.blend': No such file or directory

Blender quit
`;

/** A scene saved with denoising on, on a Blender without OpenImageDenoise: exit 1, no frame saved. */
const NO_DENOISER = `Blender 3.4.1
Read blend: /tmp/bl/s.blend
Fra:1 Mem:8.62M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Initializing
Fra:1 Mem:8.47M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Waiting for render to start
Fra:1 Mem:8.47M (Peak 10.24M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Loading render kernels (may take a few minutes the first time)
Build without OpenImageDenoiser
No device available to denoise on
Fra:1 Mem:9.48M (Peak 10.24M) | Time:00:00.03 | Mem:0.76M, Peak:0.76M | Scene, ViewLayer | Build without OpenImageDenoiser
Error: Build without OpenImageDenoiser

Blender quit
`;

/** `--python-expr "raise RuntimeError('boom')"` without --python-exit-code: Blender renders anyway and exits 0. */
const PYTHON_ERROR_THEN_RENDERS = `Blender 3.4.1
Read blend: /tmp/bl/s.blend
Error: Python: Traceback (most recent call last):
  File "<string>", line 1, in <module>
RuntimeError: boom
Fra:1 Mem:10.20M (Peak 10.64M) | Time:00:00.04 | Mem:1.25M, Peak:1.25M | Scene, ViewLayer | Sample 4/4
Saved: '/tmp/bl/outp/frame_0001.png'
 Time: 00:00.17 (Saving: 00:00.12)


Blender quit
`;

/** The same with --python-exit-code 3: Blender echoes the whole script and exits 3 before rendering. */
const PYTHON_EXIT_CODE = `Blender 3.4.1
Read blend: /tmp/bl/s.blend
Error: Python: Traceback (most recent call last):
  File "<string>", line 3, in <module>
ValueError: bad
second line

Error: script failed, expr: 'import sys
x = 1
raise ValueError('bad\\nsecond line')', exiting.
`;

/** The planned settings script refusing a scene the file lacks (`-S` alone would render the active scene): exit 2. */
const SETTINGS_REFUSED = `Blender 3.4.1
Read blend: /tmp/bl/rec/scene.blend
Can't find scene: 'Shot 2' in file: '/tmp/bl/rec/scene.blend'
Error: malan: scene "Shot 2" is not in this file (it has "Scene")
`;

function parseAll(text: string): BlenderEvent[] {
  const parser = new BlenderOutputParser();
  return text.split('\n').flatMap((line) => parser.push(line));
}

const framesOf = (events: BlenderEvent[]) => events.filter((e) => e.type === 'frame');

describe('BlenderOutputParser on Cycles', () => {
  it('reports each frame, its samples and the file saved', () => {
    const frame = (n: number): BlenderEvent[] => [
      { type: 'frame', frame: n },
      { type: 'progress', frame: n, fraction: 0 },
      { type: 'progress', frame: n, fraction: 0.25 },
      { type: 'progress', frame: n, fraction: 1 },
      { type: 'saved', path: `/tmp/bl/rec/out-cycles/frame_000${n}.png` },
    ];
    expect(parseAll(CYCLES_3_FRAMES)).toEqual([...frame(1), ...frame(2), ...frame(3)]);
  });

  it('counts tiles: each tile a sixth, samples within the tile, never backwards', () => {
    const progress = (fraction: number): BlenderEvent => ({ type: 'progress', frame: 2, fraction });
    expect(parseAll(CYCLES_TILES)).toEqual([
      { type: 'frame', frame: 2 },
      progress(0),
      progress(1 / 8 / 6),
      // "Rendered 0/6 Tiles, Sample 8/8" (tile 0 done, counter not yet moved) reads as 0: no event.
      progress(1 / 6),
      progress((1 + 1 / 8) / 6),
      progress(2 / 6),
      progress((2 + 1 / 8) / 6),
      progress(3 / 6),
      progress((3 + 1 / 8) / 6),
      progress(4 / 6),
      progress((4 + 1 / 8) / 6),
      progress(5 / 6),
      progress((5 + 1 / 8) / 6),
      { type: 'saved', path: '/tmp/bl/outt/frame_0002.png' },
    ]);
  });

  it('reports the missing denoiser as an error, and no saved frame', () => {
    const events = parseAll(NO_DENOISER);
    expect(events.filter((e) => e.type === 'error')).toEqual([{ type: 'error', message: 'Build without OpenImageDenoiser' }]);
    expect(events.some((e) => e.type === 'saved')).toBe(false);
  });
});

describe('BlenderOutputParser on Eevee', () => {
  it('reads "Rendering n / N samples" and ignores the EGL lines', () => {
    expect(parseAll(EEVEE_2_FRAMES)).toEqual([
      { type: 'frame', frame: 1 },
      { type: 'progress', frame: 1, fraction: 0.25 },
      { type: 'progress', frame: 1, fraction: 1 },
      { type: 'saved', path: '/tmp/bl/rec/out-eevee/frame_0001.png' },
      { type: 'frame', frame: 2 },
      { type: 'progress', frame: 2, fraction: 0.25 },
      { type: 'progress', frame: 2, fraction: 1 },
      { type: 'saved', path: '/tmp/bl/rec/out-eevee/frame_0002.png' },
    ]);
  });
});

describe('BlenderOutputParser on failures', () => {
  it.each([
    ['a corrupt .blend', CORRUPT_BLEND, "File format is not supported in file '/tmp/bl/rec/corrupt.blend'"],
    ['a truncated .blend', TRUNCATED_BLEND, "Failed to read blend file '/tmp/bl/trunc.blend': Missing DNA block"],
    ['a missing .blend', MISSING_BLEND, "Cannot read file '/tmp/bl/missing.blend': No such file or directory"],
    ['a refused setting', SETTINGS_REFUSED, 'malan: scene "Shot 2" is not in this file (it has "Scene")'],
  ])('reports %s as one error', (_, text, message) => {
    expect(parseAll(text)).toEqual([{ type: 'error', message }]);
  });

  it("reports a Python traceback by its last line, and the frame Blender rendered after it anyway", () => {
    expect(parseAll(PYTHON_ERROR_THEN_RENDERS)).toEqual([
      { type: 'error', message: 'Python: RuntimeError: boom' },
      { type: 'frame', frame: 1 },
      { type: 'progress', frame: 1, fraction: 1 },
      { type: 'saved', path: '/tmp/bl/outp/frame_0001.png' },
    ]);
  });

  it('skips the script Blender echoes after --python-exit-code', () => {
    expect(parseAll(PYTHON_EXIT_CODE)).toEqual([
      { type: 'error', message: 'Python: ValueError: bad' },
      { type: 'error', message: 'the Python script given to Blender failed, and Blender stopped' },
    ]);
  });

  it('reads a bare traceback (a handler in the file, Python printing it itself)', () => {
    const text = 'Traceback (most recent call last):\n  File "/x.py", line 2, in handler\n    1 / 0\nZeroDivisionError: division by zero\n';
    expect(parseAll(text)).toEqual([{ type: 'error', message: 'Python: ZeroDivisionError: division by zero' }]);
  });
});

describe('BlenderOutputParser line handling', () => {
  it('takes lines with a trailing carriage return', () => {
    const parser = new BlenderOutputParser();
    expect(parser.push("Saved: '/out/frame_0007.exr'\r")).toEqual([{ type: 'saved', path: '/out/frame_0007.exr' }]);
  });

  it('keeps state across pushes: one frame event per frame, however many lines', () => {
    expect(framesOf(parseAll(CYCLES_3_FRAMES))).toHaveLength(3);
  });
});
