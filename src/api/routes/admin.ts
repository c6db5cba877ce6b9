/** Operator-only views. Workers: what each registered, merged with its live heartbeat. */
import { Hono } from 'hono';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../auth.js';
import type { FarmContext } from '../../services/farm-context.js';
import { findFile } from '../../services/files.js';
import { addModelVersion } from '../../services/models.js';
import { modelView, versionView } from '../../services/model-view.js';
import { adminBillingApi } from './admin-billing.js';
import { adminRenderTemplatesApi } from './render-templates.js';
import { listWorkers } from '../../services/worker-view.js';

export function adminApi(ctx: FarmContext) {
  return new Hono<ApiEnv>()
    .use(async (c, next) => {
      if (!c.get('principal').operator) throw new ApiError('forbidden', 'operator key required (malan keys create --tenant NAME --operator)');
      await next();
    })
    .route('/', adminBillingApi(ctx))
    .route('/render-templates', adminRenderTemplatesApi(ctx))
    // A model version from a manifest whose weights were uploaded first (POST /v1/files).
    .post('/models', async (c) => {
      const manifest = (await c.req.json().catch(() => null)) as { weights?: { file?: unknown } } | null;
      if (!manifest || typeof manifest !== 'object') throw new ApiError('invalid_request', 'the body must be a model manifest (JSON)');
      const fileId = manifest.weights?.file;
      if (typeof fileId !== 'string') throw new ApiError('invalid_request', 'weights.file: the id of the uploaded ONNX file (POST /v1/files first)');
      const weights = await findFile(ctx.db, { operator: true }, fileId);
      if (!weights) throw new ApiError('invalid_request', `weights.file: file ${fileId} was not found`);
      const added = await addModelVersion(ctx.db, ctx.storage, manifest, weights);
      return c.json({ model: modelView(added.model, added.version, ctx.baseUrl), version: versionView(added.version), created: added.created }, added.created ? 201 : 200);
    })
    .get('/workers', async (c) => c.json({ results: await listWorkers(ctx) }));
}
