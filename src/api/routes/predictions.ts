/** /v1/predictions: Replicate's predictions API over inference jobs (`Prefer: wait` included). */
import { Hono, type Context } from 'hono';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../auth.js';
import type { FarmContext } from '../../services/farm-context.js';
import type { JobEventHub } from '../../services/job-events.js';
import { cancelPrediction, createPrediction, getPredictionRow, listPredictions, predictionView, preferredWait, waitForEnd } from '../../services/predictions.js';

export async function predictionResponse(ctx: FarmContext, hub: JobEventHub, c: Context<ApiEnv>, model: string | null) {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError('invalid_request', 'the body is not valid JSON: send {"input": {...}}');
  }
  const who = c.get('principal');
  const { job, replayed } = await createPrediction(ctx, who, model, body, c.req.header('idempotency-key'));
  const wait = preferredWait(c.req.header('prefer'));
  const row = wait ? await waitForEnd(ctx, hub, who, job.id, wait) : await getPredictionRow(ctx, who, job.id);
  if (replayed) c.header('Idempotent-Replayed', 'true');
  if (wait) c.header('Preference-Applied', `wait=${wait}`);
  const view = await predictionView(ctx, row);
  c.header('Location', view.urls.get);
  return c.json(view, 201);
}

export function predictionsApi(ctx: FarmContext, hub: JobEventHub) {
  return new Hono<ApiEnv>()
    .post('/', (c) => predictionResponse(ctx, hub, c, null))
    .get('/', async (c) => c.json(await listPredictions(ctx, c.get('principal'), c.req.query())))
    .get('/:id', async (c) => c.json(await predictionView(ctx, await getPredictionRow(ctx, c.get('principal'), c.req.param('id')))))
    .post('/:id/cancel', async (c) => c.json(await cancelPrediction(ctx, c.get('principal'), c.req.param('id'))));
}
