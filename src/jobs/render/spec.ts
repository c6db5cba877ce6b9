/**
 * The input of a `render` job: a scene and a frame range, rendered by Blender or by an operator's
 * renderer template, in chunks of frames (tasks) on any worker that meets the requirements, then
 * assembled into a preview video. DESIGN.md's smallest input must keep validating:
 * `{"scene": {"file": "<id>"}, "renderer": "blender", "frames": {"start": 1, "end": 24}, "chunk_size": 4}`.
 */
import { z } from 'zod';
import { FILE_ID_PATTERN, timeoutSecondsSchema, wholeNumber } from '../common-schemas.js';

/** Most frames one job may render: a typo of 10^7 frames is refused, not queued. */
export const MAX_FRAMES = 100_000;
/** Most tasks one job may compile into. */
export const MAX_TASKS = 5_000;

export const BLENDER_ENGINES = ['CYCLES', 'BLENDER_EEVEE'] as const;
/** AUTO: the best the worker's probe found (OptiX, then CUDA, then the CPU). */
export const BLENDER_DEVICES = ['AUTO', 'OPTIX', 'CUDA', 'CPU'] as const;
export const FRAME_FORMATS = ['PNG', 'OPEN_EXR'] as const;

const TEMPLATE_NAME = /^[a-z][a-z0-9-]{1,62}$/;
const TAG = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export const requirementsSchema = z.strictObject({
  /** GPUs the task needs on one worker (0: any worker, CPU included). */
  gpus: wholeNumber('requirements.gpus', 0, 16).optional(),
  min_vram_mb: wholeNumber('requirements.min_vram_mb', 0, 1_048_576).optional(),
  /** A substring of the GPU's name as nvidia-smi gives it, e.g. "H100" or "RTX 4090". */
  gpu_model: z.string().min(1).max(100).regex(/^[A-Za-z0-9 ._-]+$/, { error: 'requirements.gpu_model: letters, digits, spaces and . _ - only' }).optional(),
  /** Labels the worker must carry (MALAN_WORKER_TAGS). */
  tags: z.array(z.string().regex(TAG, { error: 'requirements.tags: lower-case labels (a-z, 0-9, _ . -)' })).max(16).optional(),
});
export type Requirements = z.infer<typeof requirementsSchema>;

const blenderOptionsSchema = z.strictObject({
  engine: z.enum(BLENDER_ENGINES, { error: `blender.engine must be one of ${BLENDER_ENGINES.join(', ')}` }).optional(),
  device: z.enum(BLENDER_DEVICES, { error: `blender.device must be one of ${BLENDER_DEVICES.join(', ')}` }).default('AUTO'),
  resolution: z
    .strictObject({
      width: wholeNumber('blender.resolution.width', 16, 16_384),
      height: wholeNumber('blender.resolution.height', 16, 16_384),
      percentage: wholeNumber('blender.resolution.percentage', 1, 100).optional(),
    })
    .optional(),
  samples: wholeNumber('blender.samples', 1, 65_536).optional(),
  format: z.enum(FRAME_FORMATS, { error: `blender.format must be one of ${FRAME_FORMATS.join(', ')}` }).default('PNG'),
  /** Render this scene of the file instead of the active one. */
  scene: z.string().min(1).max(63).regex(/^[^\u0000-\u001f"'\\]+$/, { error: 'blender.scene: a scene name without quotes, backslashes or control characters' }).optional(),
});

const framesSchema = z
  .strictObject({
    start: wholeNumber('frames.start', 0, 1_000_000),
    end: wholeNumber('frames.end', 0, 1_000_000),
    step: wholeNumber('frames.step', 1, 10_000).default(1),
  })
  .refine((f) => f.end >= f.start, { error: 'frames: end is before start (the range would be empty)' })
  .refine((f) => Math.floor((f.end - f.start) / f.step) + 1 <= MAX_FRAMES, { error: `frames: more than ${MAX_FRAMES} frames in one job; split it into several jobs` });

/** A template parameter's value: user input that only ever fills whole argv tokens or parts of one, never a shell. */
const parameterValue = z.union([z.string().max(1000), z.number(), z.boolean()]);

export const renderInputSchema = z
  .strictObject({
    scene: z.strictObject({ file: z.string().regex(FILE_ID_PATTERN, { error: 'scene.file must be a file id (file_…)' }) }, { error: 'scene must be {"file": "<file id>"}' }),
    /** `blender`, or the name of an operator's renderer template (GET /v1/render-templates). */
    renderer: z.string({ error: 'renderer is required: "blender" or a template name' }).regex(TEMPLATE_NAME, { error: 'renderer must be "blender" or a template name (lower-case letters, digits, -)' }),
    frames: framesSchema,
    /** Frames per task; or give task_seconds and the farm sizes tasks from the first frame's time. */
    chunk_size: wholeNumber('chunk_size', 1, 10_000).optional(),
    task_seconds: wholeNumber('task_seconds', 5, 86_400).optional(),
    blender: blenderOptionsSchema.optional(),
    /** Values for the template's parameters. */
    parameters: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, { error: 'parameters: names are lower-case identifiers' }), parameterValue).optional(),
    requirements: requirementsSchema.optional(),
    /** Tasks that may fail for good (their frames missing) before the job fails; 0: any failed task fails the job. */
    max_failed_tasks: wholeNumber('max_failed_tasks', 0, MAX_TASKS).default(0),
    /** The preview video assembled from the frames. */
    preview: z.strictObject({ fps: wholeNumber('preview.fps', 1, 120).default(24) }).default({ fps: 24 }),
    timeout_seconds: timeoutSecondsSchema.optional(),
  })
  .refine((i) => !(i.chunk_size !== undefined && i.task_seconds !== undefined), { path: ['chunk_size'], error: 'give chunk_size or task_seconds, not both' })
  .refine((i) => i.renderer === 'blender' || i.blender === undefined, { path: ['blender'], error: 'blender options apply to renderer "blender" only; a template takes parameters' })
  .refine((i) => i.renderer !== 'blender' || i.parameters === undefined, { path: ['parameters'], error: 'parameters are for renderer templates; Blender takes the blender options' });

export type RenderInput = z.infer<typeof renderInputSchema>;

/** The frame numbers of a job, in order. */
export function frameNumbers(f: RenderInput['frames']): number[] {
  const out: number[] = [];
  for (let n = f.start; n <= f.end; n += f.step) out.push(n);
  return out;
}
