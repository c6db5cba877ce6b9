/**
 * `malan models add MANIFEST [--weights FILE]`: like `keys create`, it works whether or not serve
 * runs. With the embedded database held by a running serve, the API does it (the files are on this
 * host); otherwise the CLI opens the database and storage itself.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/env.js';
import { openDatabase } from '../db/database.js';
import { ApiError } from '../api/api-error.js';
import { addModelFromFiles } from '../services/model-import.js';
import { openStorage } from '../storage/open-storage.js';
import { throughRunningServe } from './keys-command.js';

export async function addModelCommand(config: Config, manifestPath: string, weightsPath?: string): Promise<{ model: string; version: string; created: boolean; via: string }> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the manifest ${manifestPath}: ${(err as Error).message}`);
  }
  const manifestDir = path.dirname(path.resolve(manifestPath));
  const weights = weightsPath ? path.resolve(weightsPath) : undefined;
  const viaApi = await throughRunningServe<{ model: string; version: string; created: boolean }>(config, '/internal/models', { manifest, manifest_dir: manifestDir, weights_path: weights });
  if (viaApi) return { ...viaApi.result, via: viaApi.via };
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, home: config.home });
  try {
    await database.migrate();
    const added = await addModelFromFiles(database.db, await openStorage(config), manifest, manifestDir, weights).catch((err: unknown) => {
      throw err instanceof ApiError ? new Error(err.message) : err;
    });
    return { model: `${added.model.owner}/${added.model.name}`, version: added.version.id, created: added.created, via: `${database.kind} at ${database.location}` };
  } finally {
    await database.close();
  }
}
