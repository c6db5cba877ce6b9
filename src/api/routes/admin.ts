/** Operator-only views. Workers: what each registered, merged with its live heartbeat. */
import { Hono } from 'hono';
import { desc } from 'drizzle-orm';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../auth.js';
import { workers } from '../../db/schema.js';
import { channels } from '../../queue/messages.js';
import type { FarmContext } from '../../services/farm-context.js';
import { findFile } from '../../services/files.js';
import { addModelVersion } from '../../services/models.js';
import { modelView, versionView } from '../../services/model-view.js';
import { adminBillingApi } from './admin-billing.js';
import { adminRenderTemplatesApi } from './render-templates.js';

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
    .get('/workers', async (c) => {
      const rows = await ctx.db.select().from(workers).orderBy(desc(workers.startedAt)).limit(500);
      const prefix = ctx.config.MALAN_QUEUE_PREFIX;
      const beats = rows.length ? await ctx.redis.mget(...rows.map((w) => channels.workerHeartbeat(prefix, w.id))) : [];
      return c.json({
        results: rows.map((w, i) => {
          const beat = beats[i] ? (JSON.parse(beats[i]!) as { jobs: string[]; gpus: unknown[]; at: string }) : null;
          // Registered "up" but no heartbeat for 15 s: the process is gone without saying so.
          const status = w.status === 'stopped' ? 'stopped' : beat ? 'up' : 'lost';
          return {
            id: w.id,
            hostname: w.hostname,
            pid: w.pid,
            status,
            kinds: w.kinds,
            current_jobs: beat?.jobs ?? [],
            gpus: beat?.gpus ?? (w.capabilities as { gpus?: unknown[] }).gpus ?? [],
            capabilities: w.capabilities,
            started_at: w.startedAt.toISOString(),
            last_heartbeat_at: beat?.at ?? null,
            stopped_at: w.stoppedAt?.toISOString() ?? null,
          };
        }),
      });
    });
}
