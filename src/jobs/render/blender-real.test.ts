/**
 * The planned command on the real Blender (Debian's 3.4.1 here): a scene built by the test helper,
 * frames rendered on the CPU, the output read by the parser as it streams, the files checked.
 * About 5 s in all: each Blender start costs about 1 s, each frame a few hundredths.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlenderCaps } from '../../capabilities/worker-capabilities.js';
import { makeBlendScene, makeCorruptBlend } from '../../../test/helpers/blend-scene.js';
import { probeBlender } from '../../../workers/probe/blender-probe.js';
import { runCommand } from '../../../workers/probe/run-command.js';
import { BlenderOutputParser, type BlenderEvent } from './blender-output.js';
import { blenderFramePath, planBlenderTask } from './blender-plan.js';
import { renderInputSchema } from './spec.js';

let dir: string;
let scene: string;
let caps: BlenderCaps;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'malan-blender-'));
  scene = makeBlendScene(dir, { frames: 3 });
  const probe = await probeBlender(runCommand);
  if (!probe.caps) throw new Error(`the Blender probe failed: ${probe.notes.join('; ')}`);
  caps = probe.caps;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function input(blender?: Record<string, unknown>) {
  return renderInputSchema.parse({ scene: { file: 'file_0123456789abcdefghijklmnop' }, renderer: 'blender', frames: { start: 1, end: 3 }, ...(blender ? { blender } : {}) });
}

/** Spawns argv, feeding stdout to the parser line by line as it arrives. */
function runBlender(argv: string[]): Promise<{ code: number | null; events: BlenderEvent[]; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    const parser = new BlenderOutputParser();
    const events: BlenderEvent[] = [];
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      events.push(...parser.push(line));
    });
    child.stderr.resume(); // Eevee's EGL messages and the like; nothing the parser needs
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, events, stdout: lines.join('\n') }));
  });
}

describe('Blender 3.4, for real', () => {
  it('the probe finds Cycles on the CPU and no denoiser on this host', () => {
    expect(caps.cyclesDevices).toContain('CPU');
    expect(caps.openImageDenoise).toBe(false);
  });

  it('renders frames 1-3 of the test scene: events as they stream, three distinct non-blank PNGs', async () => {
    const outDir = path.join(dir, 'out-cycles');
    const plan = planBlenderTask(input(), { frameStart: 1, frameEnd: 3, step: 1 }, caps, { scene, outDir });
    expect(plan.device).toBe('CPU');
    const { code, events, stdout } = await runBlender(plan.command);
    expect(code, stdout).toBe(0);

    const files = [1, 2, 3].map((n) => blenderFramePath(outDir, n, 'png'));
    expect(events.filter((e) => e.type === 'frame' || e.type === 'saved' || e.type === 'error')).toEqual([
      { type: 'frame', frame: 1 },
      { type: 'saved', path: files[0] },
      { type: 'frame', frame: 2 },
      { type: 'saved', path: files[1] },
      { type: 'frame', frame: 3 },
      { type: 'saved', path: files[2] },
    ]);
    for (const frame of [1, 2, 3]) {
      const fractions = events.flatMap((e) => (e.type === 'progress' && e.frame === frame ? [e.fraction] : []));
      expect(fractions.at(-1)).toBe(1);
    }

    const pixels: Buffer[] = [];
    for (const file of files) {
      const meta = await sharp(file).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 160, 90, 4]);
      const stats = await sharp(file).stats();
      // A blank frame has one colour: every channel's deviation near zero.
      expect(Math.max(...stats.channels.slice(0, 3).map((c) => c.stdev))).toBeGreaterThan(10);
      pixels.push(await sharp(file).raw().toBuffer());
    }
    expect(pixels[0]!.equals(pixels[1]!)).toBe(false);
    expect(pixels[1]!.equals(pixels[2]!)).toBe(false);
  });

  it('renders half-float EXR at the asked size, with the step', async () => {
    const outDir = path.join(dir, 'out-exr');
    const plan = planBlenderTask(input({ format: 'OPEN_EXR', resolution: { width: 64, height: 32, percentage: 50 }, samples: 2 }), { frameStart: 1, frameEnd: 3, step: 2 }, caps, { scene, outDir });
    const { code, events, stdout } = await runBlender(plan.command);
    expect(code, stdout).toBe(0);
    expect(events.filter((e) => e.type === 'saved')).toEqual([1, 3].map((n) => ({ type: 'saved', path: blenderFramePath(outDir, n, 'exr') })));
    const exr = readFileSync(blenderFramePath(outDir, 1, 'exr'));
    expect(exr.readUInt32LE(0)).toBe(20000630); // OpenEXR's magic number
    // The channel list: A, B, G, R, each of pixel type 1 (HALF), after the name's NUL.
    const channels = exr.indexOf('chlist\0');
    expect(channels).toBeGreaterThan(0);
    expect(exr.readInt32LE(exr.indexOf('R\0', channels) + 2)).toBe(1);
    // dataWindow of a 32x16 image (64x32 at 50%): xMin 0, yMin 0, xMax 31, yMax 15.
    const window = exr.indexOf('dataWindow\0box2i\0') + 'dataWindow\0box2i\0'.length + 4;
    expect([0, 4, 8, 12].map((o) => exr.readInt32LE(window + o))).toEqual([0, 0, 31, 15]);
  });

  it('a corrupt .blend: exit 1, one error event, no frame', async () => {
    const corrupt = makeCorruptBlend(dir);
    const outDir = path.join(dir, 'out-corrupt');
    const plan = planBlenderTask(input(), { frameStart: 1, frameEnd: 1, step: 1 }, caps, { scene: corrupt, outDir });
    const { code, events } = await runBlender(plan.command);
    // Blender 3.4 exits 1 on a file it cannot load, but 0 after other failures (see blender-output.ts):
    // the runner checks that each frame was saved rather than trusting the exit code.
    expect(code).toBe(1);
    expect(events).toEqual([{ type: 'error', message: `File format is not supported in file '${corrupt}'` }]);
    expect(existsSync(outDir)).toBe(false);
  });

  it('a scene name that reads like Python stays data: the script refuses the missing scene, nothing runs', async () => {
    const name = 'x); import os; os.system(1';
    const outDir = path.join(dir, 'out-scene');
    const plan = planBlenderTask(input({ scene: name }), { frameStart: 1, frameEnd: 1, step: 1 }, caps, { scene, outDir });
    const { code, events } = await runBlender(plan.command);
    expect(code).toBe(2);
    expect(events).toEqual([{ type: 'error', message: `malan: scene "${name}" is not in this file (it has "Scene")` }]);
    expect(existsSync(outDir)).toBe(false);
  });
});
