/**
 * Operators' billing: the price book (history and new entries), tenants and their quotas, a
 * month across tenants with the platform's own cost, the CloudEvents outbox, the billing policy.
 * Mounted under /v1/admin, behind its operator check.
 */
import { Hono } from 'hono';
import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../auth.js';
import { tenants } from '../../db/schema.js';
import type { FarmContext } from '../../services/farm-context.js';
import { formatIssues } from '../../services/format-issues.js';
import { monthAcrossTenants, outboxPage } from '../../billing/operator-views.js';
import { parsePeriod } from '../../billing/periods.js';
import { policyFrom } from '../../billing/policy.js';
import { addPrice, listPrices, priceView } from '../../billing/price-book.js';
import { quotaStatus } from '../../billing/quotas.js';
import { quotaLimits, setQuotas } from '../../billing/tenant-quotas.js';

const outboxQuery = z.strictObject({
  after: z.coerce.number({ error: 'after must be a next_after from a previous page' }).int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function adminBillingApi(ctx: FarmContext) {
  const tenantById = async (id: string) => {
    const [row] = await ctx.db.select().from(tenants).where(eq(tenants.id, id));
    if (!row) throw new ApiError('not_found', `tenant ${id.slice(0, 100)} was not found`);
    return row;
  };
  const quotasView = async (id: string) => {
    const limits = await quotaLimits(ctx.db, id);
    return { tenant: id, updated_at: limits?.updatedAt.toISOString() ?? null, ...(await quotaStatus(ctx.db, ctx.config, id)) };
  };
  return new Hono<ApiEnv>()
    .get('/prices', async (c) => {
      const now = new Date();
      return c.json({ currency: ctx.config.MALAN_CURRENCY, results: (await listPrices(ctx.db, c.req.query('meter'))).map((p) => priceView(p, now)) });
    })
    .post('/prices', async (c) => {
      const body = await c.req.json().catch(() => {
        throw new ApiError('invalid_request', 'the body must be JSON: {"meter", "unit_price", …}');
      });
      const { price, created } = await addPrice(ctx.db, ctx.config, body, c.get('principal').tenantName, c.req.header('idempotency-key'));
      ctx.log.info('price book entry added', { price: price.id, meter: price.meter, by: c.get('principal').tenantName });
      return c.json(priceView(price), created ? 201 : 200);
    })
    .get('/tenants', async (c) => {
      const rows = await ctx.db.select().from(tenants).orderBy(asc(tenants.name));
      return c.json({ results: await Promise.all(rows.map(async (t) => ({ id: t.id, name: t.name, created_at: t.createdAt.toISOString(), quotas: await quotasView(t.id) }))) });
    })
    .get('/tenants/:id/quotas', async (c) => c.json(await quotasView((await tenantById(c.req.param('id'))).id)))
    .put('/tenants/:id/quotas', async (c) => {
      const tenant = await tenantById(c.req.param('id'));
      const body = await c.req.json().catch(() => {
        throw new ApiError('invalid_request', 'the body must be JSON: {"max_concurrent_jobs", "gpu_seconds_per_month", "spending_limit"}');
      });
      await setQuotas(ctx.db, tenant.id, body);
      ctx.log.info('quotas set', { tenant: tenant.id, tenant_name: tenant.name, by: c.get('principal').tenantName });
      return c.json(await quotasView(tenant.id));
    })
    .get('/billing/invoices/:period', async (c) => c.json(await monthAcrossTenants(ctx, parsePeriod(c.req.param('period')))))
    .get('/billing/events', async (c) => {
      const q = outboxQuery.safeParse(c.req.query());
      if (!q.success) throw new ApiError('invalid_request', formatIssues(q.error));
      return c.json(await outboxPage(ctx, q.data.after, q.data.limit));
    })
    .get('/billing/policy', (c) =>
      c.json({
        currency: ctx.config.MALAN_CURRENCY,
        ...Object.fromEntries(Object.entries(policyFrom(ctx.config)).map(([k, v]) => [k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`), v])),
        usage_interval_seconds: ctx.config.MALAN_USAGE_INTERVAL_SECONDS,
        export_url: ctx.config.MALAN_BILLING_EXPORT_URL ?? null,
        cloudevents_source: ctx.config.MALAN_BILLING_SOURCE,
      }),
    );
}
