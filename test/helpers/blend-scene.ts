/**
 * Small .blend files for render tests, built by Blender's own Python: an orange cube that moves and
 * turns in front of a camera, lit by a sun, over a blue-grey world, so no frame is blank and no two
 * frames are alike. At the defaults (frames 1..24, 160x90, 4 samples, Cycles on the CPU) a frame
 * renders in a few hundredths of a second on a 2-core host, after about 1 s of Blender start-up.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export interface BlendSceneOptions {
  frames?: number;
  width?: number;
  height?: number;
  samples?: number;
  engine?: 'CYCLES' | 'BLENDER_EEVEE';
}

/** The options arrive as JSON after `--` (Blender leaves what follows `--` to Python). */
const BUILD_SCENE = `import bpy, bmesh, json, sys
o = json.loads(sys.argv[sys.argv.index("--") + 1])
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.engine = o["engine"]
scene.render.resolution_x = o["width"]
scene.render.resolution_y = o["height"]
scene.render.resolution_percentage = 100
scene.frame_start = 1
scene.frame_end = o["frames"]
scene.cycles.samples = o["samples"]
# Debian's Blender has no OpenImageDenoise: denoising on would stop every render.
scene.cycles.use_denoising = False
scene.eevee.taa_render_samples = o["samples"]
world = bpy.data.worlds.new("World")
world.use_nodes = True
world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.2, 0.3, 0.5, 1)
scene.world = world
mesh = bpy.data.meshes.new("Cube")
bm = bmesh.new()
bmesh.ops.create_cube(bm, size=1.5)
bm.to_mesh(mesh)
bm.free()
material = bpy.data.materials.new("Orange")
material.use_nodes = True
material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.9, 0.3, 0.05, 1)
mesh.materials.append(material)
cube = bpy.data.objects.new("Cube", mesh)
scene.collection.objects.link(cube)
last = max(2, o["frames"])
for frame, x in ((1, -3.0), (last, 3.0)):
    cube.location = (x, 0, 0)
    cube.rotation_euler = (0.3, 0.2, frame * 0.4)
    cube.keyframe_insert("location", frame=frame)
    cube.keyframe_insert("rotation_euler", frame=frame)
camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
camera.location = (0, -10, 1.5)
camera.rotation_euler = (1.45, 0, 0)
scene.collection.objects.link(camera)
scene.camera = camera
sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
sun.data.energy = 4
sun.rotation_euler = (0.6, 0.3, 0.4)
scene.collection.objects.link(sun)
# No scene.blend1 backup beside a file built twice in one directory.
bpy.context.preferences.filepaths.save_version = 0
bpy.ops.wm.save_as_mainfile(filepath=o["out"])
`;

/** Builds `<dir>/scene.blend` (synchronously, about 1 s) and returns its path. */
export function makeBlendScene(dir: string, opts: BlendSceneOptions = {}): string {
  const out = path.join(dir, 'scene.blend');
  const options = {
    frames: opts.frames ?? 24,
    width: opts.width ?? 160,
    height: opts.height ?? 90,
    samples: opts.samples ?? 4,
    engine: opts.engine ?? 'CYCLES',
    out,
  };
  try {
    execFileSync('blender', ['-b', '--factory-startup', '-noaudio', '--python-exit-code', '1', '--python-expr', BUILD_SCENE, '--', JSON.stringify(options)], {
      stdio: 'pipe',
      encoding: 'utf8',
      timeout: 60_000,
    });
  } catch (err) {
    // The error's message repeats the whole script; Blender's own words are on its stdout.
    const stdout = String((err as { stdout?: unknown }).stdout ?? '');
    throw new Error(`makeBlendScene: blender failed: ${stdout.split('\n').filter((l) => l.startsWith('Error') || /^\w+Error:/.test(l)).join(' | ') || (err as Error).message.split('\n')[0]}`);
  }
  return out;
}

/** A file named .blend that is not one: Blender 3.4 says "File format is not supported" and exits 1. */
export function makeCorruptBlend(dir: string): string {
  const out = path.join(dir, 'corrupt.blend');
  // Deterministic garbage, not starting with "BLENDER" (that would be read as a truncated file instead).
  const bytes = Buffer.alloc(4096);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) % 251;
  writeFileSync(out, bytes);
  return out;
}
