/**
 * /v1/models (Replicate's shape): list, one model, its versions, and predictions on its latest
 * version. Adding a model is an operator's: POST /v1/admin/models (or `malan models add`).
 */
import { Hono } from 'hono';
import { notFound } from '../api-error.js';
import type { ApiEnv } from '../auth.js';
import type { FarmContext } from '../../services/farm-context.js';
import type { JobEventHub } from '../../services/job-events.js';
import { findModel, findVersion, listModels, listVersions } from '../../services/models.js';
import { modelView, versionView } from '../../services/model-view.js';
import { predictionResponse } from './predictions.js';

export function modelsApi(ctx: FarmContext, hub: JobEventHub) {
  const model = async (owner: string, name: string) => {
    const row = await findModel(ctx.db, owner, name);
    if (!row) throw notFound('model', `${owner}/${name}`);
    return row;
  };
  return new Hono<ApiEnv>()
    .get('/', async (c) => c.json({ next: null, previous: null, results: (await listModels(ctx.db)).map((m) => modelView(m.model, m.latest, ctx.baseUrl)) }))
    .get('/:owner/:name', async (c) => {
      const row = await model(c.req.param('owner'), c.req.param('name'));
      return c.json(modelView(row, row.latestVersionId ? await findVersion(ctx.db, row.latestVersionId) : null, ctx.baseUrl));
    })
    .get('/:owner/:name/versions', async (c) => {
      const row = await model(c.req.param('owner'), c.req.param('name'));
      return c.json({ next: null, previous: null, results: (await listVersions(ctx.db, row.id)).map(versionView) });
    })
    .get('/:owner/:name/versions/:id', async (c) => {
      const row = await model(c.req.param('owner'), c.req.param('name'));
      const v = await findVersion(ctx.db, c.req.param('id'));
      if (!v || v.modelId !== row.id) throw notFound('version', c.req.param('id'));
      return c.json(versionView(v));
    })
    .post('/:owner/:name/predictions', (c) => predictionResponse(ctx, hub, c, `${c.req.param('owner')}/${c.req.param('name')}`));
}
