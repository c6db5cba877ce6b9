/** The tenant's webhook signing secret, where Replicate's clients look for it. */
import { Hono } from 'hono';
import { eq } from 'drizzle-orm';
import { tenants } from '../../db/schema.js';
import type { ApiEnv } from '../auth.js';
import type { FarmContext } from '../../services/farm-context.js';

export function webhooksApi(ctx: FarmContext) {
  return new Hono<ApiEnv>().get('/default/secret', async (c) => {
    const [t] = await ctx.db.select({ key: tenants.webhookSecret }).from(tenants).where(eq(tenants.id, c.get('principal').tenantId));
    return c.json({ key: t!.key });
  });
}
