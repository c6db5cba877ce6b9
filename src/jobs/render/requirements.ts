/**
 * Matching a render task's requirements against a worker: pure, so that the worker (before it
 * starts a task) and the API (to say why a task waits) decide alike.
 */
import type { WorkerCapabilities } from '../../capabilities/worker-capabilities.js';
import type { RenderInput, Requirements } from './spec.js';

/** Why a worker with these capabilities and tags cannot take a task of this job, or null. */
export function cannotTake(
  taskType: 'frames' | 'assembly',
  input: RenderInput,
  template: unknown,
  caps: Pick<WorkerCapabilities, 'gpus' | 'renderers'>,
  tags: string[],
): string | null {
  if (taskType === 'frames' && input.renderer === 'blender' && !caps.renderers.some((r) => r.name === 'blender' && r.blender)) return 'no Blender on this worker';
  const host = (template as { host_requirements?: Requirements } | null)?.host_requirements;
  return unmet({ ...host, ...input.requirements }, caps, tags);
}

/** The first requirement this worker does not meet, or null. */
export function unmet(req: Requirements, caps: Pick<WorkerCapabilities, 'gpus'>, tags: string[]): string | null {
  const gpus = caps.gpus.filter((g) => (req.min_vram_mb === undefined || g.memoryTotalMiB >= req.min_vram_mb) && (req.gpu_model === undefined || g.name.toLowerCase().includes(req.gpu_model.toLowerCase())));
  const needed = Math.max(req.gpus ?? 0, req.min_vram_mb !== undefined || req.gpu_model !== undefined ? 1 : 0);
  if (gpus.length < needed) return `needs ${needed} GPU(s)${req.min_vram_mb !== undefined ? ` with ≥ ${req.min_vram_mb} MiB` : ''}${req.gpu_model ? ` of model ${req.gpu_model}` : ''}; this worker has ${caps.gpus.length}`;
  const missing = (req.tags ?? []).filter((tag) => !tags.includes(tag));
  if (missing.length) return `needs the worker tags ${missing.join(', ')}`;
  return null;
}
