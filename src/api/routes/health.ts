/** Liveness (the process answers), readiness (its database and Redis answer), Prometheus metrics. */
import { Hono } from 'hono';
import { sql } from 'drizzle-orm';
import type { FarmContext } from '../../services/farm-context.js';
import { renderMetrics } from '../../services/metrics.js';
import type { RequestMetrics } from '../../services/request-metrics.js';

export function healthApi(ctx: FarmContext, requests: RequestMetrics) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/metrics', async (c) => c.text((await renderMetrics(ctx)) + requests.render(), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }))
    .get('/readyz', async (c) => {
      const checks: Record<string, string> = {};
      const timeout = <T>(p: Promise<T>) => Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error('timed out after 2 s')), 2000))]);
      await timeout(ctx.db.execute(sql`select 1`)).then(() => (checks.database = 'ok'), (e: Error) => (checks.database = e.message));
      await timeout(ctx.redis.ping()).then(() => (checks.redis = 'ok'), (e: Error) => (checks.redis = e.message));
      const ok = Object.values(checks).every((v) => v === 'ok');
      return c.json({ status: ok ? 'ready' : 'unavailable', checks }, ok ? 200 : 503);
    });
}
