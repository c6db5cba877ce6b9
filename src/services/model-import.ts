/**
 * Adding a model from files on this host (`malan models add manifest.json [--weights file.onnx]`):
 * the weights stream into storage (hashed on the way) under the farm's own `models` tenant, then
 * the version is checked and recorded like one added through the API.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from '../api/api-error.js';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { files } from '../db/schema.js';
import type { Storage } from '../storage/storage.js';
import { storeFile } from './files.js';
import { ensureTenant } from './keys.js';
import { addModelVersion, type AddedVersion } from './models.js';

export const MODELS_TENANT = 'models';

/** `manifestDir` resolves a relative `weights.path`; `weightsPath` (from --weights) wins over it. */
export async function addModelFromFiles(db: Db, storage: Storage, manifest: unknown, manifestDir: string, weightsPath?: string): Promise<AddedVersion> {
  const declared = (manifest as { weights?: { path?: unknown } } | null)?.weights?.path;
  const file = weightsPath ?? (typeof declared === 'string' ? path.resolve(manifestDir, declared) : null);
  if (!file) throw new ApiError('invalid_request', 'the weights: give --weights FILE.onnx, or "weights": {"path": …} in the manifest');
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw new ApiError('invalid_request', `the weights file ${file} does not exist`);
  const tenantId = await ensureTenant(db, MODELS_TENANT);
  const row = await storeFile(db, storage, { tenantId, name: path.basename(file), contentType: 'application/octet-stream', body: createReadStream(file), maxBytes: Number.MAX_SAFE_INTEGER });
  try {
    return await addModelVersion(db, storage, manifest, row);
  } catch (err) {
    // A refused model leaves no weights behind.
    await db.delete(files).where(eq(files.id, row.id));
    await storage.delete(row.storageKey).catch(() => undefined);
    throw err;
  }
}
