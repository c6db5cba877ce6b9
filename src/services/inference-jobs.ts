/**
 * What an `inference` job needs beyond its schema: at submission, the model and version it names
 * must exist and its inputs must be the model's (the latest version is filled in when none is
 * named); on the queue, the worker gets the manifest and a signed URL to the weights, since it
 * never opens the database.
 */
import { ApiError } from '../api/api-error.js';
import type { InferenceInput } from '../jobs/inference/spec.js';
import type { ModelPayload } from '../queue/messages.js';
import type { FarmContext } from './farm-context.js';
import { findModel, findVersion, manifestOf, weightsFile } from './models.js';
import { refuseUnknownInputs, taskInputs } from './prediction-inputs.js';

export async function checkInferenceInput(ctx: FarmContext, input: InferenceInput): Promise<InferenceInput> {
  const [owner, name] = input.model.split('/') as [string, string];
  const model = await findModel(ctx.db, owner, name);
  if (!model?.latestVersionId) throw new ApiError('invalid_request', `input.model: ${input.model} was not found; GET /v1/models lists the models this farm serves`);
  const version = await findVersion(ctx.db, input.version ?? model.latestVersionId);
  if (!version || version.modelId !== model.id) throw new ApiError('invalid_request', `input.version: ${input.version} is not a version of ${input.model}`);
  const manifest = manifestOf(version);
  const { media } = taskInputs(manifest);
  if (media) {
    refuseUnknownInputs(manifest, Object.keys(input.inputs), 'input.inputs');
    const ref = input.inputs[media];
    if (typeof ref !== 'object') throw new ApiError('invalid_request', `input.inputs.${media}: required, as {"file": "<id>"} or {"url": "https://…"}`);
  } else if (!input.tensors) {
    throw new ApiError('invalid_request', `input.tensors: ${input.model} takes raw tensors; use POST /v2/models/${input.model}/infer or /v1/predictions`);
  }
  return { ...input, version: version.id };
}

export async function modelPayload(ctx: FarmContext, versionId: string, ttlSeconds: number): Promise<ModelPayload> {
  const version = await findVersion(ctx.db, versionId);
  if (!version) throw new Error(`model version ${versionId} is gone`);
  const weights = await weightsFile(ctx.db, version);
  const local = ctx.storage.localPath(weights.storageKey);
  return {
    version: version.id,
    manifest: manifestOf(version),
    weights: { url: ctx.signer.sign('GET', `/v1/files/${weights.id}/content`, ttlSeconds), sha256: weights.sha256, size: weights.size, ...(local && { localPath: local }) },
  };
}
