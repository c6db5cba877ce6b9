/**
 * The HTTP API: a small Hono app with sub-apps mounted per resource. Errors are one shape,
 * `{"error": {"code", "message"}}`, mapped here from ApiError (and from anything unexpected).
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ApiError } from './api-error.js';
import { requireKey, type ApiEnv } from './auth.js';
import { filesApi, fileContentApi } from './routes/files.js';
import { healthApi } from './routes/health.js';
import { internalApi } from './routes/internal.js';
import { jobsApi } from './routes/jobs.js';
import { webhooksApi } from './routes/webhooks.js';
import { adminApi } from './routes/admin.js';
import { billingApi } from './routes/billing.js';
import { renderTemplatesApi } from './routes/render-templates.js';
import { playbackApi } from './routes/playback.js';
import { modelsApi } from './routes/models.js';
import { predictionsApi } from './routes/predictions.js';
import { inferenceV2Api } from './routes/inference-v2.js';
import { consoleApi } from './routes/console.js';
import { liveApi, liveIngestApi, livePlaybackApi } from './routes/live.js';
import { consoleDataApi } from './routes/console-data.js';
import { BOARD_PATH, boardSessionApi, queueBoardApi } from './routes/queue-board.js';
import type { FarmContext } from '../services/farm-context.js';
import type { JobEventHub } from '../services/job-events.js';
import { RequestMetrics } from '../services/request-metrics.js';

export function createApp(ctx: FarmContext, hub: JobEventHub) {
  const app = new Hono<ApiEnv>();
  const log = ctx.log.child('http');

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      return c.json({ error: { code: err.code, message: err.message } }, err.status as ContentfulStatusCode);
    }
    if (err instanceof HTTPException) {
      return c.json({ error: { code: err.status === 401 ? 'unauthorized' : 'invalid_request', message: err.message } }, err.status);
    }
    log.error('unhandled error', { method: c.req.method, path: c.req.path, tenant: c.get('principal')?.tenantId, error: (err as Error).stack ?? String(err) });
    return c.json({ error: { code: 'internal', message: 'internal error; the farm logged it' } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  // Every request counted by its route pattern (not its ids), status and duration, for /metrics.
  const requests = new RequestMetrics();
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    requests.observe(c.req.method, c.req.routePath, c.res.status, (performance.now() - started) / 1000);
  });
  app.route('/', healthApi(ctx, requests));
  app.route('/internal', internalApi(ctx));
  app.route('/console', consoleApi());
  app.route('/console/session', boardSessionApi(ctx));
  app.route(BOARD_PATH, queueBoardApi(ctx));
  // File bytes answer signed URLs too (workers carry no key), so this route checks either.
  app.route('/v1/files', fileContentApi(ctx));
  // Keyless playback links carry their own signature (players cannot send a key).
  app.route('/v1/playback', playbackApi(ctx));
  // Encoders carry the channel's stream key, players a signed token: neither sends an API key.
  app.route('/v1/live/channels', liveIngestApi(ctx));
  app.route('/v1/live/play', livePlaybackApi(ctx));
  // Browser players (hls.js) send the key in a header, so their requests are preflighted.
  app.use('/v1/*', cors({ origin: '*', allowHeaders: ['Authorization', 'Content-Type', 'Range', 'Idempotency-Key', 'Prefer'], exposeHeaders: ['Content-Length', 'Content-Range', 'Accept-Ranges', 'ETag'], maxAge: 600 }));
  app.use('/v1/*', requireKey(ctx));
  app.route('/v1/files', filesApi(ctx));
  app.route('/v1/jobs', jobsApi(ctx, hub));
  app.route('/v1/webhooks', webhooksApi(ctx));
  app.route('/v1/admin', adminApi(ctx));
  app.route('/v1', billingApi(ctx));
  app.route('/v1/render-templates', renderTemplatesApi(ctx));
  app.route('/v1/models', modelsApi(ctx, hub));
  app.route('/v1/predictions', predictionsApi(ctx, hub));
  app.route('/v1/console', consoleDataApi(ctx));
  app.route('/v1/live', liveApi(ctx));
  app.use('/v2/*', requireKey(ctx));
  app.route('/v2', inferenceV2Api(ctx, hub));
  return app;
}
