/**
 * The model registry: models (`owner/name`) and their versions. A version is a manifest checked
 * against the ONNX file it names, plus the weights in storage with their sha256; its id is a hash
 * of both, so adding the same model twice gives the same version. The newest version is what a
 * bare model name runs.
 */
import { createHash } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import { ApiError } from '../api/api-error.js';
import type { Db } from '../db/database.js';
import { files, models, modelVersions, type FileRow, type ModelRow, type ModelVersionRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { modelManifestSchema, type ModelManifest, type ResolvedManifest, type TensorSpec } from '../models/manifest.js';
import { NotOnnxError, readOnnxGraph, type OnnxTensorInfo } from '../models/onnx-graph.js';
import { readWhole, type Storage } from '../storage/storage.js';
import { formatIssues } from './format-issues.js';

export interface AddedVersion {
  model: ModelRow;
  version: ModelVersionRow;
  created: boolean;
}

/** Checks a manifest against its weights (already stored as `weights`) and records the version. */
export async function addModelVersion(db: Db, storage: Storage, rawManifest: unknown, weights: FileRow): Promise<AddedVersion> {
  const parsed = modelManifestSchema.safeParse(rawManifest);
  if (!parsed.success) throw new ApiError('invalid_request', `manifest: ${formatIssues(parsed.error)}`);
  const manifest = parsed.data;
  if (manifest.weights?.sha256 && manifest.weights.sha256 !== weights.sha256) {
    throw new ApiError('invalid_request', `the weights' sha256 is ${weights.sha256}, not the ${manifest.weights.sha256} the manifest expects: is it the right file?`);
  }
  let graph;
  try {
    graph = readOnnxGraph(await readWhole(storage, weights.storageKey));
  } catch (err) {
    if (err instanceof NotOnnxError) throw new ApiError('unprocessable', `the weights file "${weights.name}" is ${err.message.replace(/^not an ONNX model: /, 'not an ONNX model (')})`);
    throw err;
  }
  const resolved: ResolvedManifest = {
    ...manifest,
    inputs: checkTensors('inputs', manifest.inputs, graph.inputs),
    outputs: checkTensors('outputs', manifest.outputs, graph.outputs),
  };
  checkBatching(resolved);
  const { weights: _where, ...body } = resolved;
  const id = createHash('sha256').update(canonicalJson(body)).update(weights.sha256).digest('hex');
  const [owner, name] = manifest.name.split('/') as [string, string];
  return db.transaction(async (tx) => {
    const fields = { description: manifest.description, task: manifest.task, license: manifest.license };
    const [model] = await tx
      .insert(models)
      .values({ id: newId('mdl'), owner, name, ...fields })
      .onConflictDoUpdate({ target: [models.owner, models.name], set: fields })
      .returning();
    const inserted = await tx
      .insert(modelVersions)
      .values({ id, modelId: model!.id, label: manifest.version ?? null, manifest: body, weightsFileId: weights.id, weightsSha256: weights.sha256, weightsSize: weights.size })
      .onConflictDoNothing()
      .returning();
    const [updated] = await tx.update(models).set({ latestVersionId: id }).where(eq(models.id, model!.id)).returning();
    const [version] = inserted.length ? inserted : await tx.select().from(modelVersions).where(eq(modelVersions.id, id));
    return { model: updated!, version: version!, created: inserted.length > 0 };
  });
}

function checkTensors(which: 'inputs' | 'outputs', declared: TensorSpec[] | undefined, actual: OnnxTensorInfo[]): TensorSpec[] {
  const fromModel = actual.map((t) => {
    if (t.dtype === 'unknown' || t.dtype === 'string') throw new ApiError('unprocessable', `${which}: "${t.name}" has a ${t.dtype} element type, which this farm cannot feed`);
    return { name: t.name, dtype: t.dtype, shape: t.shape };
  });
  if (!declared) return fromModel;
  for (const d of declared) {
    const m = fromModel.find((t) => t.name === d.name);
    if (!m) throw new ApiError('unprocessable', `${which}: the model has no "${d.name}"; it declares ${fromModel.map((t) => `"${t.name}"`).join(', ')}`);
    if (m.dtype !== d.dtype) throw new ApiError('unprocessable', `${which}: "${d.name}" is ${m.dtype} in the model, not ${d.dtype}`);
    const same = m.shape.length === d.shape.length && m.shape.every((dim, i) => (typeof dim === 'number' ? dim === d.shape[i] : typeof d.shape[i] === 'string'));
    if (!same) throw new ApiError('unprocessable', `${which}: "${d.name}" has shape [${m.shape}] in the model, not [${d.shape}]`);
  }
  return declared;
}

function checkBatching(m: ResolvedManifest) {
  if (!m.batch) return;
  const fixed = [...m.inputs, ...m.outputs].filter((t) => typeof t.shape[0] !== 'string');
  if (fixed.length) {
    throw new ApiError('unprocessable', `batch: the model's first dimension is fixed for ${fixed.map((t) => `"${t.name}"`).join(', ')}, so it cannot be batched; leave "batch" out`);
  }
}

/** JSON with sorted keys, so the same manifest hashes the same however it was written. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export async function findModel(db: Db, owner: string, name: string): Promise<ModelRow | null> {
  const [row] = await db.select().from(models).where(and(eq(models.owner, owner), eq(models.name, name)));
  return row ?? null;
}

export async function findVersion(db: Db, id: string): Promise<ModelVersionRow | null> {
  const [row] = await db.select().from(modelVersions).where(eq(modelVersions.id, id));
  return row ?? null;
}

export async function listVersions(db: Db, modelId: string): Promise<ModelVersionRow[]> {
  return db.select().from(modelVersions).where(eq(modelVersions.modelId, modelId)).orderBy(desc(modelVersions.createdAt));
}

export async function listModels(db: Db): Promise<Array<{ model: ModelRow; latest: ModelVersionRow | null }>> {
  const rows = await db.select().from(models).leftJoin(modelVersions, eq(models.latestVersionId, modelVersions.id)).orderBy(models.owner, models.name);
  return rows.map((r) => ({ model: r.models, latest: r.model_versions }));
}

export async function weightsFile(db: Db, version: ModelVersionRow): Promise<FileRow> {
  const [row] = await db.select().from(files).where(eq(files.id, version.weightsFileId));
  if (!row) throw new Error(`the weights of version ${version.id} are missing from storage`);
  return row;
}

export const manifestOf = (v: ModelVersionRow) => v.manifest as ResolvedManifest;
export type { ModelManifest };
